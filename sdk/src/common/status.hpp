// Expected failures are values: Status carries a C ABI code and a message without user data.
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

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const noexcept { return value_.has_value(); }
  const Status& status() const noexcept { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace waymark::detail
