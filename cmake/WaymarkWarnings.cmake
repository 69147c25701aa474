# Warnings and sanitizers for Waymark's own targets (never applied to third-party code).
function(waymark_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror)
  if(WAYMARK_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${WAYMARK_SANITIZE}
                           -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=${WAYMARK_SANITIZE})
    # g++ 12 warns that TSan does not model the fences inside Boost.Asio's headers (not our code).
    if(WAYMARK_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_compile_options(${target} PRIVATE -Wno-tsan)
    endif()
  endif()
endfunction()
