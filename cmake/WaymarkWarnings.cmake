# Warnings and sanitizers for Waymark's own targets (never applied to third-party code).
function(waymark_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror)
  if(WAYMARK_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${WAYMARK_SANITIZE}
                           -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=${WAYMARK_SANITIZE})
  endif()
endfunction()
