// Minimal RAII over the SQLite C API: one statement, bound by index, stepped to completion.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace waymark::detail {

// Maps a SQLite result code to a Waymark status (full disk, I/O, corruption).
Status sqlite_status(int rc, sqlite3* db, std::string_view what);
bool sqlite_is_corrupt(int rc) noexcept;

// Brings `db` from its user_version up to migrations.size(), one transaction per step (index i
// upgrades version i to i + 1). Refuses a database written by a newer schema. On failure `*rc`
// holds the SQLite result code, so callers can tell corruption from other errors.
Status migrate(sqlite3* db, std::span<const char* const> migrations, std::string_view what, int* rc);

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, std::string_view sql, int* rc);
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(Statement&& o) noexcept : stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Statement& operator=(Statement&& o) noexcept {
    std::swap(stmt_, o.stmt_);
    return *this;
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, const void* data, size_t len) {
    sqlite3_bind_blob64(stmt_, i, data, len, SQLITE_STATIC);
    return *this;
  }
  Statement& bind(int i, std::string_view text) {
    sqlite3_bind_text64(stmt_, i, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
    return *this;
  }
  int step() { return sqlite3_step(stmt_); }
  // Resets for reuse and clears the bindings (which point at caller memory).
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string_view blob(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    return {static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col))};
  }
  sqlite3_stmt* get() const noexcept { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace waymark::detail
