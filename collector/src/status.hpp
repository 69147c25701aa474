// The collector's own outcomes: an error code of its own (not the SDK's C ABI codes) and a message
// without user data. What the shared code (common/) returns is converted where the collector calls it.
#pragma once

#include <string>
#include <utility>

#include "common/status.hpp"

namespace waymark::collector {

inline constexpr const char* kVersion = WAYMARK_COLLECTOR_VERSION;

enum class Errc {
  ok = 0,
  invalid,            // bad input: a request, a config value, a file the user named
  unauthenticated,    // a signature or token does not verify
  too_large,          // over a configured limit
  store_io,           // the store failed or is unreachable
  store_full,         // the disk under the store is full
  store_busy,         // another process holds the store's one writer
  listen,             // the server cannot listen on its address and port
  queue_unavailable,  // the batch queue (JetStream) did not take or give a message
  internal,           // a broken invariant
};

struct [[nodiscard]] Status {
  Errc code = Errc::ok;
  std::string message;

  static Status Ok() { return {}; }
  bool ok() const noexcept { return code == Errc::ok; }
};

inline Status Error(Errc code, std::string message) {
  return {code, std::move(message)};
}

template <class T>
using Result = detail::Result<T, Status>;

// What a call into the shared code returned, in the collector's terms.
inline Status from_common(const detail::Status& s) {
  if (s.ok()) return Status::Ok();
  switch (s.code) {
    case WAYMARK_ERR_CRYPTO: return Error(Errc::unauthenticated, s.message);
    case WAYMARK_ERR_TOO_LARGE: return Error(Errc::too_large, s.message);
    case WAYMARK_ERR_STORE_IO: return Error(Errc::store_io, s.message);
    case WAYMARK_ERR_STORE_FULL: return Error(Errc::store_full, s.message);
    case WAYMARK_ERR_INTERNAL: return Error(Errc::internal, s.message);
    default: return Error(Errc::invalid, s.message);
  }
}

}  // namespace waymark::collector
