// Expected failures are values: Status carries a C ABI code and a message without user data. The
// SDK speaks it throughout; the collector converts it at the calls it makes into the shared code.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "waymark/waymark.h"

namespace waymark::detail {

struct [[nodiscard]] Status {
  waymark_status_t code = WAYMARK_OK;
  std::string message;

  static Status Ok() { return {}; }
  // Positive codes are "OK with information".
  bool ok() const noexcept { return code >= 0; }
};

inline Status Error(waymark_status_t code, std::string message) {
  return {code, std::move(message)};
}

// A value or the status that says why there is none (the collector uses it with its own status).
template <class T, class S = Status>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}     // NOLINT(google-explicit-constructor)
  Result(S status) : status_(std::move(status)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const noexcept { return value_.has_value(); }
  const S& status() const noexcept { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }

 private:
  std::optional<T> value_;
  S status_;
};

}  // namespace waymark::detail
