// What the SQL store needs of a database connection: cached statements bound by index and stepped a
// row at a time, plain statements, and the few things databases do differently (how a write
// transaction begins, whether the last failure was a full disk, giving space back). SQLite
// (store/sqlite/) and PostgreSQL (store/postgres/) implement it; store/sql/ holds the one store both use.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "status.hpp"

namespace waymark::collector::sql {

// What step() returns. A driver's own failure codes are any other value, for Connection::error.
inline constexpr int kRow = 100, kDone = 101;
// A row the store wrote cannot be read back as written.
inline constexpr int kCorrupt = 11;

// One prepared statement. Parameters are numbered from 1 (`?1` in the SQL, whatever the database);
// an unbound parameter is NULL. Columns are numbered from 0.
class Statement {
 public:
  virtual ~Statement() = default;
  virtual Statement& bind(int i, int64_t v) = 0;
  virtual Statement& bind(int i, const void* data, size_t len) = 0;  // bytes
  virtual Statement& bind(int i, std::string_view text) = 0;
  virtual int step() = 0;
  // Ready to run again, with every parameter unbound (bindings point at caller memory).
  virtual void reset() = 0;
  virtual int64_t int64(int col) const = 0;          // integers and booleans; 0 for NULL
  virtual std::string_view blob(int col) const = 0;  // bytes and text
  virtual bool is_null(int col) const = 0;
};

// A cached statement in use: reset when it goes out of scope, so no statement is left mid-step
// (which would pin SQLite's reader to an old snapshot).
class Use {
 public:
  explicit Use(Statement* st) : st_(st) {}
  ~Use() {
    if (st_ != nullptr) st_->reset();
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  Statement* operator->() const { return st_; }
  Statement& operator*() const { return *st_; }
  bool operator==(std::nullptr_t) const { return st_ == nullptr; }

 private:
  Statement* st_;
};

class Connection {
 public:
  virtual ~Connection() = default;
  // A cached statement (keyed by the SQL literal's address), reset and ready to bind; null (and
  // `*status`) when the database refuses it or cannot be reached.
  virtual Use prepare(const char* sql, Status* status) = 0;
  // A cached statement for a query read once, front to back, that may return more rows than memory
  // should hold (PostgreSQL streams it a row at a time; nothing else may use the connection until it
  // is done or reset). SQLite steps every statement that way anyway.
  virtual Use prepare_scan(const char* sql, Status* status) { return prepare(sql, status); }
  // Runs statements that take no parameters and return no rows.
  virtual Status exec(const char* sql, const char* what) = 0;
  // The status for a step that returned `rc` (neither kRow nor kDone where one was expected).
  virtual Status error(int rc, const char* what) const = 0;
  // Starts a write transaction that takes the write lock at once.
  virtual Status begin() = 0;
  // Whether the last failure was the database running out of disk space.
  virtual bool disk_full() const = 0;
  // Gives space back after an erasure or a full disk (SQLite folds and truncates its log).
  virtual void compact() = 0;
  // Why the database cannot be reached now (a server connection that was lost), or nothing.
  virtual std::optional<std::string> unreachable() const { return std::nullopt; }
  // Whether a table exists (the store converts some older layouts when they do).
  virtual Result<bool> has_table(const char* name) = 0;

  // Steps a statement that returns no rows. Inside a transaction a driver may send it and collect its
  // answer later (PostgreSQL pipelines such writes); a failure then fails the transaction's next call.
  virtual Status done(Statement& st, const char* what);
  // Prepares `sql`, has `bind` bind it, and steps it (a statement that returns no rows).
  template <class Bind>
  Status run(const char* sql, const char* what, Bind&& bind) {
    Status s;
    Use st = prepare(sql, &s);
    if (st == nullptr) return s;
    bind(*st);
    return done(*st, what);
  }
  // The single integer a query returns, under this connection's lock.
  Result<int64_t> scalar(const char* sql, const char* what);
  // Runs `sql` once for each i in [0, n): `bind(st, i)` binds it and `row(st, i)` sees each row it
  // returns. A driver may send all of them before it reads the first answer (PostgreSQL pipelines
  // them, one round trip instead of n); SQLite runs them one by one.
  using BindEach = std::function<void(Statement&, size_t)>;
  using RowEach = std::function<void(const Statement&, size_t)>;
  virtual Status run_many(const char* sql, size_t n, const BindEach& bind, const RowEach& row, const char* what);
  // Inserts n rows with `sql`, a plain `INSERT INTO t(c1, …, cN) VALUES(?1, …, ?N)`: PostgreSQL copies
  // them in (COPY … FROM STDIN), SQLite runs the statement n times.
  virtual Status insert_many(const char* sql, size_t n, const BindEach& bind, const char* what) {
    return run_many(
        sql, n, bind, [](const Statement&, size_t) {}, what);
  }

  std::mutex mu;
};

inline Status Connection::run_many(const char* sql, size_t n, const BindEach& bind, const RowEach& row,
                                   const char* what) {
  Status s;
  Use st = prepare(sql, &s);
  if (st == nullptr) return s;
  for (size_t i = 0; i < n; ++i) {
    bind(*st, i);
    int rc;
    while ((rc = st->step()) == kRow) row(*st, i);
    st->reset();
    if (rc != kDone) return error(rc, what);
  }
  return Status::Ok();
}

inline Status Connection::done(Statement& st, const char* what) {
  const int rc = st.step();
  st.reset();
  return rc == kDone ? Status::Ok() : error(rc, what);
}

inline Result<int64_t> Connection::scalar(const char* sql, const char* what) {
  std::lock_guard lock(mu);
  Status s;
  Use st = prepare(sql, &s);
  if (st == nullptr) return s;
  const int rc = st->step();
  if (rc != kRow) return error(rc, what);
  return st->int64(0);
}

}  // namespace waymark::collector::sql
