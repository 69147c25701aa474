// The PostgreSQL driver of the SQL store, through libpq. Statements are prepared once per connection
// (`?N` becomes `$N`), integers travel as int8 text, bytes as binary bytea, and results come back in
// binary. Round trips are what cost here, so: a plain multi-row insert is a COPY, a point lookup run for
// many keys is one `= ANY($1)` query, and writes inside a transaction are pipelined (sent without
// waiting, settled before the next read or the commit). One collector writes to a database at a time:
// its writer connection holds a session advisory lock, taken again whenever it reconnects. A lost
// connection fails the call (ingest answers 503 and acknowledges nothing); a call outside a transaction
// reconnects and runs once more; reconnects are tried at most once per backoff interval (100 ms to 5 s).
#include "store/postgres/postgres_store.hpp"

#include <libpq-fe.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "store/sql/sql_store.hpp"

namespace waymark::collector {
namespace {

// pg_type OIDs (catalog/pg_type_d.h, stable across versions).
constexpr Oid kBoolOid = 16, kByteaOid = 17, kInt8Oid = 20, kInt2Oid = 21, kInt4Oid = 23, kTextOid = 25,
              kByteaArrayOid = 1001;
constexpr int kFailed = 1;  // what step() returns when the database refused or the connection is gone
// A number the lock is known by: "waymark" in ASCII, the collector's writer lock.
constexpr int64_t kWriterLock = 0x7761796d61726bLL;

// `?N` parameters become `$N` (outside quoted literals); *params is the highest N.
std::string to_postgres(const char* sql, int* params) {
  std::string out;
  *params = 0;
  bool quoted = false;
  for (const char* p = sql; *p != '\0'; ++p) {
    if (*p == '\'') quoted = !quoted;
    if (*p == '?' && !quoted && std::isdigit(static_cast<unsigned char>(p[1])) != 0) {
      out.push_back('$');
      int n = 0;
      while (std::isdigit(static_cast<unsigned char>(p[1])) != 0) n = n * 10 + (*++p - '0');
      out += std::to_string(n);
      *params = std::max(*params, n);
      continue;
    }
    out.push_back(*p);
  }
  return out;
}

uint64_t big_endian(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}

class PostgresConnection;

// "what: libpq's message", without the newline libpq ends it with.
std::string message(const char* what, const char* libpq) {
  std::string m = std::string(what) + ": " + libpq;
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

// One row of a COPY in text format: what is bound, escaped as COPY reads it (bytes as \\x hex,
// NULL as \N). Only binds; rows are read back by nothing.
class CopyRow final : public sql::Statement {
 public:
  explicit CopyRow(size_t columns) : fields_(columns) {}
  Statement& bind(int i, int64_t v) override {
    field(i) = std::to_string(v);
    return *this;
  }
  Statement& bind(int i, const void* data, size_t len) override {
    std::string& f = field(i);
    f.assign(3 + 2 * len + 1, '\0');
    f[0] = f[1] = '\\';
    f[2] = 'x';
    sodium_bin2hex(f.data() + 3, 2 * len + 1, static_cast<const uint8_t*>(data), len);
    f.pop_back();  // bin2hex's terminator
    return *this;
  }
  Statement& bind(int i, std::string_view text) override {
    std::string& f = field(i);
    f.clear();
    for (const char c : text) {
      switch (c) {
        case '\\': f += "\\\\"; break;
        case '\t': f += "\\t"; break;
        case '\n': f += "\\n"; break;
        case '\r': f += "\\r"; break;
        default: f.push_back(c);
      }
    }
    return *this;
  }
  int step() override { return sql::kDone; }
  void reset() override {
    for (auto& f : fields_) f = "\\N";
  }
  int64_t int64(int) const override { return 0; }
  std::string_view blob(int) const override { return {}; }
  bool is_null(int) const override { return true; }
  // Appends the row, tab-separated and ended by a newline.
  void append_to(std::string& out) const {
    for (size_t i = 0; i < fields_.size(); ++i) {
      out += fields_[i];
      out.push_back(i + 1 == fields_.size() ? '\n' : '\t');
    }
  }

 private:
  std::string& field(int i) { return fields_.at(static_cast<size_t>(i - 1)); }
  std::vector<std::string> fields_;
};

// "SELECT x FROM t WHERE k = ?1" -> "SELECT x, k FROM t WHERE k = ANY(?1)": a point lookup by
// bytes run for many keys becomes one query for all of them; "" for any other statement.
std::string any_of(const char* lookup) {
  const std::string sql(lookup);
  const size_t from = sql.find(" FROM "), where = sql.find(" WHERE "), eq = sql.rfind(" = ?1");
  if (sql.rfind("SELECT ", 0) != 0 || from == std::string::npos || where == std::string::npos || where < from ||
      eq == std::string::npos || eq + 5 != sql.size() || sql.find('?') != eq + 3 ||
      sql.find_first_of(" ", where + 7) != eq) {
    return "";
  }
  const std::string key = sql.substr(where + 7, eq - where - 7);
  return sql.substr(0, from) + ", " + key + sql.substr(from, eq - from) + " = ANY(?1)";
}

// "INSERT INTO t(a, b) VALUES(?1, ?2)" -> "COPY t(a, b) FROM STDIN" and 2; "" for any other statement.
std::string copy_of(const char* insert, size_t* columns) {
  const std::string sql(insert);
  const size_t values = sql.find(") VALUES(");
  if (sql.rfind("INSERT INTO ", 0) != 0 || values == std::string::npos || sql.back() != ')') return "";
  std::string expected;
  *columns = static_cast<size_t>(std::count(sql.begin(), sql.begin() + static_cast<std::ptrdiff_t>(values), ',')) + 1;
  for (size_t i = 1; i <= *columns; ++i) expected += (i > 1 ? ", ?" : "?") + std::to_string(i);
  if (sql.compare(values + 9, std::string::npos, expected + ")") != 0) return "";
  return "COPY " + sql.substr(12, values + 1 - 12) + " FROM STDIN";
}

// The parameters as libpq takes them: integers as text, bytes and text as binary, unbound as NULL.
struct Wire {
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
};

class PostgresStatement final : public sql::Statement {
 public:
  PostgresStatement(PostgresConnection& conn, const char* sql);
  ~PostgresStatement() override { PQclear(result_); }
  PostgresStatement(const PostgresStatement&) = delete;
  PostgresStatement& operator=(const PostgresStatement&) = delete;

  Statement& bind(int i, int64_t v) override {
    Param& p = param(i);
    p = {kInt8Oid, 0, std::to_string(v), nullptr, 0};
    return *this;
  }
  Statement& bind(int i, const void* data, size_t len) override {
    param(i) = {kByteaOid, 1, {}, data, len};
    return *this;
  }
  Statement& bind(int i, std::string_view text) override {
    param(i) = {kTextOid, 1, {}, text.data(), text.size()};
    return *this;
  }
  int step() override;
  void reset() override {
    finish_stream();
    PQclear(result_);
    result_ = nullptr;
    row_ = -1;
    for (Param& p : params_) p = Param{};
  }
  // From now on its rows come a row at a time (prepare_scan).
  void stream() { streaming_ = true; }
  // From now on it is planned for each execution's own parameters, never prepared (lookup_many's
  // `= ANY($1)`: a plan cached while the table was nearly empty scans it whole for ever after).
  void plan_each_time() { plan_each_time_ = true; }
  int64_t int64(int col) const override {
    if (PQgetisnull(result_, row_, col) != 0) return 0;  // as SQLite reads NULL (its value is empty here)
    const char* v = PQgetvalue(result_, row_, col);
    switch (PQftype(result_, col)) {
      case kInt8Oid: return static_cast<int64_t>(big_endian(v, 8));
      case kInt4Oid: return static_cast<int32_t>(big_endian(v, 4));
      case kInt2Oid: return static_cast<int16_t>(big_endian(v, 2));
      case kBoolOid: return v[0] != 0 ? 1 : 0;
      default: return 0;  // a column the store never reads as an integer (checked by the schema tests)
    }
  }
  std::string_view blob(int col) const override {
    if (PQgetisnull(result_, row_, col) != 0) return {};
    return {PQgetvalue(result_, row_, col), static_cast<size_t>(PQgetlength(result_, row_, col))};
  }
  bool is_null(int col) const override { return PQgetisnull(result_, row_, col) != 0; }
  // The connection was made again: the statement must be prepared again before it runs.
  void forget_prepared() { prepared_ = false; }
  // Pipelining (PostgresConnection::run_many): prepares the statement outside the pipeline, sends it
  // with what is bound, and shows one answer's rows.
  bool ensure_prepared() { return prepared_ || prepare(); }
  bool prepared() const { return prepared_; }
  bool send();
  int columns() const { return PQnfields(result_); }
  // An array in array_send's binary layout (lookup_many); `bytes` must outlive the statement's run.
  void bind_array(int i, Oid type, const std::string& bytes) { param(i) = {type, 1, {}, bytes.data(), bytes.size()}; }
  void show(PGresult* r, int row) {
    result_ = r;
    row_ = row;
  }

 private:
  struct Param {
    Oid type = 0;  // 0: unbound, NULL
    int format = 0;
    std::string text;
    const void* data = nullptr;
    size_t len = 0;
  };
  Param& param(int i) { return params_.at(static_cast<size_t>(i - 1)); }
  int step_stream();
  void finish_stream();
  bool prepare();
  bool execute();
  Wire wire() const;

  PostgresConnection& conn_;
  std::string sql_, name_;
  std::vector<Param> params_;
  bool prepared_ = false, plan_each_time_ = false;
  bool streaming_ = false, stream_open_ = false;
  PGresult* result_ = nullptr;
  int row_ = -1;
};

class PostgresConnection final : public sql::Connection {
 public:
  PostgresConnection(std::string conninfo, bool writer, bool read_only = false)
      : conninfo_(std::move(conninfo)), writer_(writer), read_only_(read_only) {}
  ~PostgresConnection() override {
    cache_.clear();
    if (conn_ == nullptr) return;
    // The server frees a session's locks when its backend exits, which may be after PQfinish returns:
    // the writer lets go of the lock itself, so a store reopened (or a standby) finds it free at once.
    if (writer_ && PQstatus(conn_) == CONNECTION_OK) {
      PQclear(PQexec(conn_, ("SELECT pg_advisory_unlock(" + std::to_string(kWriterLock) + ")").c_str()));
    }
    PQfinish(conn_);
  }

  Status connect() {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = PQconnectdb(conninfo_.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
      Status s = fail("cannot connect to PostgreSQL");
      mark_down(true);
      return s;
    }
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);  // NOTICEs are not errors
    for (auto& [sql, st] : cache_) st->forget_prepared();
    if (Status s = exec("SET client_min_messages = warning; SET TIME ZONE 'UTC'", "session"); !s.ok()) return s;
    if (read_only_) {  // every transaction of this session: PostgreSQL itself refuses a write
      if (Status s = exec("SET default_transaction_read_only = on", "session"); !s.ok()) return s;
    }
    if (writer_) {
      PGresult* r = PQexec(conn_, ("SELECT pg_try_advisory_lock(" + std::to_string(kWriterLock) + ")").c_str());
      const bool locked = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
      PQclear(r);
      if (!locked) {
        PQfinish(conn_);
        conn_ = nullptr;
        last_error_ = "another waymark-collector is writing to this PostgreSQL database; stop it first";
        taken_over_ = true;
        mark_down(true);
        return Error(Errc::store_busy, last_error_);
      }
    }
    taken_over_ = false;
    backoff_ms_ = 0;
    mark_down(false);
    return Status::Ok();
  }
  PGconn* conn() { return conn_; }
  // A usable connection, made again when it was lost (at most once per backoff interval).
  bool ready() {
    if (!lost()) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now < next_attempt_) return false;
    backoff_ms_ = std::clamp<int64_t>(backoff_ms_ * 2, 100, 5000);
    next_attempt_ = now + std::chrono::milliseconds(backoff_ms_);
    return connect().ok();
  }
  Status fail(const char* what) {
    last_sqlstate_.clear();
    last_error_ = message(what, conn_ != nullptr ? PQerrorMessage(conn_) : "no connection");
    return Error(Errc::store_io, last_error_);
  }
  void note(PGresult* r, const char* what) {
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    last_sqlstate_ = state != nullptr ? state : "";
    last_error_ = message(what, PQresultErrorMessage(r));
  }
  std::string next_name() {
    std::string name = std::to_string(++statements_);  // "w" + to_string trips g++ 12 -O3 -Wrestrict
    name.insert(name.begin(), 'w');
    return name;
  }

  sql::Use prepare(const char* sql, Status* status) override { return sql::Use(cached(sql, status)); }
  // The statement for `sql`, reset; null (and `*status`) when the database cannot be reached.
  PostgresStatement* cached(const char* sql, Status* status) {
    if (!ready()) {
      *status = unavailable();
      return nullptr;
    }
    auto it = cache_.find(sql);
    if (it == cache_.end()) it = cache_.emplace(sql, std::make_unique<PostgresStatement>(*this, sql)).first;
    it->second->reset();
    return it->second.get();
  }
  Status exec(const char* sql, const char* what) override {
    if (Status pending = settle(); !pending.ok()) {
      if (!lost() && PQtransactionStatus(conn_) != PQTRANS_IDLE) (void)run("ROLLBACK", "rollback");
      return pending;  // never a COMMIT after a write that failed
    }
    if (!ready()) return unavailable();
    const bool idle = PQtransactionStatus(conn_) == PQTRANS_IDLE;
    bool ok = run(sql, what);
    if (!ok && idle && lost() && ready()) ok = run(sql, what);  // as PostgresStatement::step
    if (!ok) mark_down(lost());
    return ok ? Status::Ok() : error(kFailed, what);
  }
  // The connection failed (the server went away or ended the session).
  bool lost() const { return conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK; }
  // Read by /healthz on other threads: what the last failure left, kept apart from the connection.
  std::optional<std::string> unreachable() const override {
    if (!down_) return std::nullopt;
    std::lock_guard lock(down_mu_);
    return "PostgreSQL is unreachable: " + down_why_;
  }
  void mark_down(bool down) {
    std::lock_guard lock(down_mu_);
    down_why_ = down ? last_error_ : "";
    down_ = down;
  }
  Status error(int rc, const char* what) const override {
    if (rc == sql::kCorrupt) return Error(Errc::store_io, std::string(what) + ": a stored row is malformed");
    if (rc == sql::kRow || rc == sql::kDone) return Error(Errc::store_io, std::string(what) + ": unexpected rows");
    if (disk_full()) return Error(Errc::store_full, last_error_);
    if (taken_over_) return Error(Errc::store_busy, last_error_);
    return Error(Errc::store_io, last_error_.empty() ? std::string(what) : last_error_);
  }
  sql::Use prepare_scan(const char* sql, Status* status) override {
    PostgresStatement* st = cached(sql, status);
    if (st != nullptr) st->stream();
    return sql::Use(st);
  }
  Status done(sql::Statement& st, const char* what) override;
  // Collects the answers to the writes done() sent; the first failure, if any.
  Status settle();
  Status run_many(const char* sql, size_t n, const BindEach& bind, const RowEach& row, const char* what) override;
  Status insert_many(const char* sql, size_t n, const BindEach& bind, const char* what) override;
  bool lookup_many(const char* sql, size_t n, const BindEach& bind, const RowEach& row, const char* what, Status* s);
  Status begin() override { return exec("BEGIN", "begin"); }
  bool disk_full() const override { return last_sqlstate_ == "53100"; }
  void compact() override {}  // autovacuum reclaims dead rows (docs/collector.md, "PostgreSQL")
  Result<bool> has_table(const char* name) override {
    Status s;
    sql::Use st = prepare("SELECT to_regclass(?1) IS NOT NULL", &s);
    if (st == nullptr) return s;
    st->bind(1, std::string_view(name));
    const int rc = st->step();
    if (rc != sql::kRow) return error(rc, "schema");
    return st->int64(0) != 0;
  }
  bool run(const char* sql, const char* what) {
    PGresult* r = PQexec(conn_, sql);
    const ExecStatusType st = PQresultStatus(r);
    const bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok) note(r, what);
    PQclear(r);
    return ok;
  }
  Status unavailable() const {
    if (taken_over_) return Error(Errc::store_busy, last_error_);
    return Error(Errc::store_io, "PostgreSQL is unreachable (" + last_error_ + "); retrying");
  }

 private:
  std::string conninfo_;
  bool writer_;
  bool read_only_;
  // The writer reconnected (the server restarted, the session was cut) and found the lock taken: a
  // standby took over, and every call answers store_busy until this connection holds it again.
  bool taken_over_ = false;
  PGconn* conn_ = nullptr;
  std::unordered_map<const char*, std::unique_ptr<PostgresStatement>> cache_;
  std::unordered_map<const char*, std::string> any_sql_;  // lookup_many's query for a point lookup
  std::vector<const char*> unsettled_;  // what each write done() sent and has no answer to yet says it is
  std::string last_error_, last_sqlstate_;
  int64_t statements_ = 0, backoff_ms_ = 0;
  std::chrono::steady_clock::time_point next_attempt_{};
  std::atomic<bool> down_{false};
  mutable std::mutex down_mu_;
  std::string down_why_;  // guarded by down_mu_
};

// Pipelined in chunks: the answers to a chunk (a few dozen bytes each) always fit the socket's buffer,
// so the server never blocks writing them while this side is still sending.
Status PostgresConnection::run_many(const char* sql, size_t n, const BindEach& bind, const RowEach& row,
                                    const char* what) {
  constexpr size_t kChunk = 256;
  if (Status pending = settle(); !pending.ok()) return pending;
  if (Status s; lookup_many(sql, n, bind, row, what, &s)) return s;
  Status s;
  sql::Use use = prepare(sql, &s);
  if (use == nullptr) return s;
  auto& st = static_cast<PostgresStatement&>(*use);
  if (!st.ensure_prepared()) return error(kFailed, what);
  for (size_t from = 0; from < n; from += kChunk) {
    const size_t to = std::min(n, from + kChunk);
    if (PQenterPipelineMode(conn_) != 1) return fail(what);
    bool sent = true;
    for (size_t i = from; i < to && sent; ++i) {
      st.reset();
      bind(st, i);
      sent = st.send();
    }
    sent = sent && PQpipelineSync(conn_) == 1;
    bool failed = !sent;
    for (size_t i = from; i < to && sent; ++i) {  // each answer, then the NULL that ends it
      for (PGresult* r; (r = PQgetResult(conn_)) != nullptr; PQclear(r)) {
        const ExecStatusType status = PQresultStatus(r);
        if (status == PGRES_TUPLES_OK) {
          for (int k = 0; k < PQntuples(r); ++k) {
            st.show(r, k);
            row(st, i);
          }
          st.show(nullptr, -1);
        } else if (status != PGRES_COMMAND_OK && !failed) {
          note(r, what);  // the first failure; the rest of the chunk is aborted
          failed = true;
        }
      }
    }
    while (sent) {  // up to the sync point
      PGresult* r = PQgetResult(conn_);
      const bool sync = r == nullptr || PQresultStatus(r) == PGRES_PIPELINE_SYNC;
      PQclear(r);
      if (sync) break;
    }
    st.reset();
    if (PQexitPipelineMode(conn_) != 1 && !failed) return fail(what);
    if (failed) {
      if (!sent) (void)fail(what);
      mark_down(lost());
      return error(kFailed, what);
    }
  }
  return Status::Ok();
}

// Captures what a call binds to ?1 when that is bytes (lookup_many's keys).
class KeyCapture final : public sql::Statement {
 public:
  Statement& bind(int, int64_t) override { return fail(); }
  Statement& bind(int i, const void* data, size_t len) override {
    if (i != 1) return fail();
    key.assign(static_cast<const char*>(data), len);
    return *this;
  }
  Statement& bind(int, std::string_view) override { return fail(); }
  int step() override { return sql::kDone; }
  void reset() override { key.clear(); }
  int64_t int64(int) const override { return 0; }
  std::string_view blob(int) const override { return {}; }
  bool is_null(int) const override { return true; }
  std::string key;
  bool bytes_only = true;

 private:
  Statement& fail() {
    bytes_only = false;
    return *this;
  }
};

void put_be32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

// Inside a transaction: prepared outside the pipeline if it must be, then sent, its answer collected by
// the next call that needs the connection (settle). Every 512 writes are settled too, so the answers
// waiting on the socket stay far below its buffer.
Status PostgresConnection::done(sql::Statement& st, const char* what) {
  auto& ps = static_cast<PostgresStatement&>(st);
  // (While writes are unsettled the status says ACTIVE: they were all sent inside this transaction.)
  const bool in_transaction = !unsettled_.empty() || PQtransactionStatus(conn_) == PQTRANS_INTRANS;
  if (lost() || !in_transaction || !ps.prepared() || unsettled_.size() >= 512) {
    if (Status s = settle(); !s.ok()) {
      st.reset();
      return s;
    }
    if (lost() || PQtransactionStatus(conn_) != PQTRANS_INTRANS) return sql::Connection::done(st, what);
    if (!ps.ensure_prepared()) {
      st.reset();
      return error(kFailed, what);
    }
  }
  if (unsettled_.empty() && PQenterPipelineMode(conn_) != 1) {
    st.reset();
    return fail(what);
  }
  unsettled_.push_back(what);
  const bool sent = ps.send();
  st.reset();
  return sent ? Status::Ok() : settle();
}

Status PostgresConnection::settle() {
  if (unsettled_.empty()) return Status::Ok();
  const bool synced = PQpipelineSync(conn_) == 1;
  bool failed = !synced;
  if (failed) (void)fail("pipeline");
  for (size_t i = 0; i < unsettled_.size() && synced && !lost(); ++i) {  // each answer, then its NULL
    for (PGresult* r; (r = PQgetResult(conn_)) != nullptr; PQclear(r)) {
      if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK && !failed) {
        note(r, unsettled_[i]);
        failed = true;
      }
    }
  }
  for (PGresult* r; synced && !lost() && (r = PQgetResult(conn_)) != nullptr;) {  // the sync point
    const bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (sync) break;
  }
  unsettled_.clear();
  if (PQexitPipelineMode(conn_) != 1 && !failed) {
    (void)fail("pipeline");
    failed = true;
  }
  if (!failed) return Status::Ok();
  mark_down(lost());
  return error(kFailed, "pipelined write");
}

// A point lookup by bytes for n keys, as one query per 1,000 keys (any_of) with the keys as one
// binary bytea[]: false when `sql` is not such a lookup or a key is not bytes; then *s is untouched
// and the caller runs it as it is.
bool PostgresConnection::lookup_many(const char* sql, size_t n, const BindEach& bind, const RowEach& row,
                                     const char* what, Status* s) {
  auto it = any_sql_.find(sql);
  if (it == any_sql_.end()) it = any_sql_.emplace(sql, any_of(sql)).first;
  if (it->second.empty()) return false;
  KeyCapture capture;
  std::vector<std::string> keys(n);
  for (size_t i = 0; i < n; ++i) {
    capture.reset();
    bind(capture, i);
    keys[i] = std::move(capture.key);
  }
  if (!capture.bytes_only) return false;
  constexpr size_t kChunk = 1000;
  for (size_t from = 0; from < n; from += kChunk) {
    const size_t to = std::min(n, from + kChunk);
    std::unordered_multimap<std::string_view, size_t> index;  // a key -> the calls that asked for it
    std::string array;  // array_send's layout: dimensions, flags, element type, length and lower bound
    for (const uint32_t v : {1u, 0u, static_cast<uint32_t>(kByteaOid), static_cast<uint32_t>(to - from), 1u}) {
      put_be32(array, v);
    }
    for (size_t i = from; i < to; ++i) {
      index.emplace(keys[i], i);
      put_be32(array, static_cast<uint32_t>(keys[i].size()));
      array += keys[i];
    }
    sql::Use st = prepare(it->second.c_str(), s);
    if (st == nullptr) return true;
    static_cast<PostgresStatement&>(*st).plan_each_time();
    static_cast<PostgresStatement&>(*st).bind_array(1, kByteaArrayOid, array);
    int rc;
    while ((rc = st->step()) == sql::kRow) {
      const auto [first, last] = index.equal_range(st->blob(static_cast<const PostgresStatement&>(*st).columns() - 1));
      for (auto m = first; m != last; ++m) row(*st, m->second);
    }
    if (rc != sql::kDone) {
      *s = error(rc, what);
      return true;
    }
  }
  *s = Status::Ok();
  return true;
}

Status PostgresConnection::insert_many(const char* sql, size_t n, const BindEach& bind, const char* what) {
  size_t columns = 0;
  const std::string copy = copy_of(sql, &columns);
  if (copy.empty()) return sql::Connection::insert_many(sql, n, bind, what);
  if (n == 0) return Status::Ok();
  if (Status pending = settle(); !pending.ok()) return pending;
  if (!ready()) return unavailable();
  PGresult* start = PQexec(conn_, copy.c_str());
  const bool copying = PQresultStatus(start) == PGRES_COPY_IN;
  if (!copying) note(start, what);
  PQclear(start);
  if (!copying) return error(kFailed, what);
  CopyRow row(columns);
  std::string data;
  bool sent = true;
  for (size_t i = 0; i < n && sent; ++i) {
    row.reset();
    bind(row, i);
    row.append_to(data);
    if (data.size() >= (1u << 16) || i + 1 == n) {
      sent = PQputCopyData(conn_, data.data(), static_cast<int>(data.size())) == 1;
      data.clear();
    }
  }
  if (PQputCopyEnd(conn_, sent ? nullptr : "the collector could not send every row") != 1) return fail(what);
  bool ok = true;
  for (PGresult* r; (r = PQgetResult(conn_)) != nullptr; PQclear(r)) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK && ok) {
      note(r, what);
      ok = false;
    }
  }
  if (!ok || !sent) mark_down(lost());
  return ok && sent ? Status::Ok() : error(kFailed, what);
}

PostgresStatement::PostgresStatement(PostgresConnection& conn, const char* sql) : conn_(conn) {
  int params = 0;
  sql_ = to_postgres(sql, &params);
  params_.resize(static_cast<size_t>(params));
}

bool PostgresStatement::prepare() {
  name_ = conn_.next_name();
  std::vector<Oid> types;
  for (const Param& p : params_) types.push_back(p.type);
  PGresult* r = PQprepare(conn_.conn(), name_.c_str(), sql_.c_str(), static_cast<int>(types.size()), types.data());
  prepared_ = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!prepared_) conn_.note(r, "prepare");
  PQclear(r);
  return prepared_;
}

// Single-row mode: each step takes the next row off the connection.
int PostgresStatement::step_stream() {
  if (!stream_open_) {
    if (!conn_.settle().ok() || !conn_.ready() || !ensure_prepared() || !send()) return kFailed;
    PQsetSingleRowMode(conn_.conn());
    stream_open_ = true;
  }
  PQclear(result_);
  result_ = PQgetResult(conn_.conn());
  row_ = 0;
  const ExecStatusType status = result_ == nullptr ? PGRES_TUPLES_OK : PQresultStatus(result_);
  if (status == PGRES_SINGLE_TUPLE) return sql::kRow;
  if (status != PGRES_TUPLES_OK) conn_.note(result_, "scan");
  finish_stream();
  return status == PGRES_TUPLES_OK ? sql::kDone : kFailed;
}

// Reads what is left of a stream (the rest of its rows, its end), so the connection is free again.
void PostgresStatement::finish_stream() {
  if (!stream_open_) return;
  PQclear(result_);
  result_ = nullptr;
  for (PGresult* r; (r = PQgetResult(conn_.conn())) != nullptr;) PQclear(r);
  stream_open_ = false;
}

Wire PostgresStatement::wire() const {
  Wire w;
  for (const Param& p : params_) {
    w.values.push_back(p.type == 0     ? nullptr
                       : p.format == 0 ? p.text.c_str()
                       : p.len != 0    ? static_cast<const char*>(p.data)
                                       : "");
    w.lengths.push_back(static_cast<int>(p.len));
    w.formats.push_back(p.format);
  }
  return w;
}

bool PostgresStatement::send() {
  const Wire w = wire();
  return PQsendQueryPrepared(conn_.conn(), name_.c_str(), static_cast<int>(w.values.size()), w.values.data(),
                             w.lengths.data(), w.formats.data(), 1) == 1;
}

int PostgresStatement::step() {
  if (streaming_) return step_stream();
  if (result_ == nullptr) {
    if (!conn_.settle().ok() || !conn_.ready()) return kFailed;
    // Outside a transaction a lost connection is made again and the statement run once more (a
    // query survives a server restart); inside one the transaction is gone, and so is the statement.
    const bool idle = PQtransactionStatus(conn_.conn()) == PQTRANS_IDLE;
    if (!execute() && !(idle && conn_.lost() && conn_.ready() && execute())) {
      conn_.mark_down(conn_.lost());
      return kFailed;
    }
  }
  return ++row_ < PQntuples(result_) ? sql::kRow : sql::kDone;
}

bool PostgresStatement::execute() {
  const Wire w = wire();
  const int n = static_cast<int>(w.values.size());
  if (plan_each_time_) {
    std::vector<Oid> types;
    for (const Param& p : params_) types.push_back(p.type);
    result_ = PQexecParams(conn_.conn(), sql_.c_str(), n, types.data(), w.values.data(), w.lengths.data(),
                           w.formats.data(), 1);
  } else {
    if (!prepared_ && !prepare()) return false;
    result_ = PQexecPrepared(conn_.conn(), name_.c_str(), n, w.values.data(), w.lengths.data(), w.formats.data(), 1);
  }
  const ExecStatusType st = PQresultStatus(result_);
  if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) return true;
  conn_.note(result_, "statement");
  PQclear(result_);
  result_ = nullptr;
  return false;
}

// The whole schema, version by version (index i brings version i to i + 1), kept in waymark_schema.
// The same tables as SQLite's, in PostgreSQL's types: integers are bigint, flags integer 0/1.
constexpr const char* kMigrations[] = {R"sql(
CREATE TABLE devices(device_key bytea PRIMARY KEY, last_sequence bigint NOT NULL);
CREATE TABLE batches(batch_id bytea PRIMARY KEY, device_key bytea NOT NULL, sequence bigint NOT NULL,
                     received_ms bigint NOT NULL, receipt bytea NOT NULL, app_id text, platform text,
                     sdk_version text, device_model text, os_version text);
CREATE TABLE events(event_id bytea PRIMARY KEY, device_key bytea NOT NULL, batch_id bytea NOT NULL,
                    type integer NOT NULL, channel integer NOT NULL, purpose integer NOT NULL, name text NOT NULL,
                    occurred_ms bigint NOT NULL, corrected_ms bigint NOT NULL, slot bytea NOT NULL,
                    revenue_minor bigint, currency text, campaign_source text, campaign_medium text,
                    campaign_name text, identifiers bytea, properties text, campaign_content text);
CREATE TABLE consent_state(slot bytea NOT NULL, purpose integer NOT NULL, granted integer NOT NULL,
                           ledger_seq bigint NOT NULL, PRIMARY KEY(slot, purpose));
CREATE TABLE tombstones(pseudonym bytea PRIMARY KEY, erased_ms bigint NOT NULL, shared integer NOT NULL DEFAULT 0);
CREATE TABLE resolve_inputs(seq bigserial PRIMARY KEY, batch_id bytea NOT NULL, events bigint NOT NULL,
                            inputs bytea NOT NULL, format integer NOT NULL DEFAULT 1);
-- A batch's resolve inputs are read once and deleted: not worth compressing (pglz was 7 % of ingest).
ALTER TABLE resolve_inputs ALTER COLUMN inputs SET STORAGE EXTERNAL;
CREATE TABLE profiles(profile_id bigserial PRIMARY KEY, created_ms bigint NOT NULL, merged_into bigint);
CREATE INDEX profiles_by_merged_into ON profiles(merged_into) WHERE merged_into IS NOT NULL;
CREATE TABLE nodes(node_id bigserial PRIMARY KEY, key bytea NOT NULL UNIQUE, kind integer NOT NULL,
                   profile bigint NOT NULL, blocked integer NOT NULL DEFAULT 0, join_link bigint, join_with bigint,
                   join_anchored integer, join_event bytea, join_batch bytea, join_ms bigint);
CREATE INDEX nodes_by_profile ON nodes(profile);
CREATE TABLE event_anchor(event_id bytea PRIMARY KEY, node_id bigint NOT NULL);
CREATE INDEX event_anchor_by_node ON event_anchor(node_id);
CREATE TABLE link_log(link_id bigint PRIMARY KEY, a bigint, b bigint NOT NULL, event_id bytea NOT NULL,
                      batch_id bytea NOT NULL, time_ms bigint NOT NULL, rule text NOT NULL, outcome text NOT NULL,
                      revoked_ms bigint);
CREATE INDEX link_log_by_a ON link_log(a);
CREATE INDEX link_log_by_b ON link_log(b);
CREATE TABLE blocked(key bytea PRIMARY KEY);
CREATE TABLE revocations(key bytea PRIMARY KEY, time_ms bigint NOT NULL);
CREATE TABLE verified_claims(node_id bigint NOT NULL, device_key bytea NOT NULL, PRIMARY KEY(node_id, device_key));
CREATE VIEW node_links AS
  SELECT join_link AS link_id, CASE WHEN join_anchored <> 0 THEN join_with ELSE node_id END AS a,
         CASE WHEN join_anchored <> 0 THEN node_id ELSE join_with END AS b, join_event AS event_id,
         join_batch AS batch_id, join_ms AS time_ms, 'co_occurrence'::text AS rule, 'merged'::text AS outcome,
         NULL::bigint AS revoked_ms, node_id, profile
  FROM nodes WHERE join_link IS NOT NULL;
)sql",
                                       // Read-only views for BI tools, in their own schema so that an analyst's
                                       // role can be granted them alone (docs/collector.md, "PostgreSQL"). No
                                       // pseudonym, slot, device key or receipt is in any of them; names stand
                                       // for the wire's enumerations; profiles merged away are left out.
                                       R"sql(
CREATE SCHEMA bi;
CREATE FUNCTION bi.channel_name(integer) RETURNS text IMMUTABLE LANGUAGE sql AS $$
  SELECT (ARRAY['App','Web','Kiosk','Atm','Pos','CallCentre','Email','Sms','Push','Other'])[$1] $$;
CREATE FUNCTION bi.type_name(integer) RETURNS text IMMUTABLE LANGUAGE sql AS $$
  SELECT (ARRAY['Track','Identify','Screen','Purchase','Consent','Custom','Erasure'])[$1] $$;
CREATE VIEW bi.journeys AS
  SELECT n.profile AS profile_id, encode(e.event_id, 'hex') AS event_id, bi.type_name(e.type) AS type,
         coalesce(bi.channel_name(e.channel), 'Unknown') AS channel, e.name,
         to_timestamp(e.corrected_ms / 1000.0) AS occurred_at, e.revenue_minor, e.currency, e.campaign_source,
         e.campaign_medium, e.campaign_name, e.campaign_content, e.properties::jsonb AS properties, b.app_id,
         b.platform, b.sdk_version, b.device_model, b.os_version
  FROM events e JOIN event_anchor a ON a.event_id = e.event_id JOIN nodes n ON n.node_id = a.node_id
  LEFT JOIN batches b ON b.batch_id = e.batch_id;
CREATE VIEW bi.profiles AS
  SELECT p.profile_id, to_timestamp(p.created_ms / 1000.0) AS created_at, count(j.event_id) AS events,
         min(j.occurred_at) AS first_seen, max(j.occurred_at) AS last_seen,
         coalesce(sum(j.revenue_minor), 0) AS revenue_minor
  FROM profiles p LEFT JOIN bi.journeys j ON j.profile_id = p.profile_id
  WHERE p.merged_into IS NULL GROUP BY p.profile_id;
CREATE VIEW bi.attribution_inputs AS
  SELECT n.profile AS profile_id, to_timestamp(e.corrected_ms / 1000.0) AS occurred_at, bi.type_name(e.type) AS type,
         coalesce(bi.channel_name(e.channel), 'Unknown') AS channel, e.name, e.revenue_minor, e.currency,
         e.campaign_source, e.campaign_medium, e.campaign_name
  FROM events e JOIN event_anchor a ON a.event_id = e.event_id JOIN nodes n ON n.node_id = a.node_id
  WHERE NOT EXISTS (SELECT 1 FROM consent_state c WHERE c.slot = e.slot AND c.purpose = 1 AND c.granted = 0);
)sql",
                                       // Marketing spend the brand imports (ROAS, ROMI), readable by BI tools.
                                       R"sql(
CREATE TABLE spend(day bigint NOT NULL, level text NOT NULL, key text NOT NULL, currency text NOT NULL,
                   amount_minor bigint NOT NULL, imported_ms bigint NOT NULL, PRIMARY KEY(day, level, key, currency));
CREATE VIEW bi.spend AS
  SELECT date '1970-01-01' + day::integer AS day, level, key, currency, amount_minor FROM spend;
)sql",
                                       // The channels appended in round 2, named in the BI views.
                                       R"sql(
CREATE OR REPLACE FUNCTION bi.channel_name(integer) RETURNS text IMMUTABLE LANGUAGE sql AS $$
  SELECT (ARRAY['App','Web','Kiosk','Atm','Pos','CallCentre','Email','Sms','Push','Other','Ivr','Display','Video',
                'Social','Tv','Radio','Print'])[$1] $$;
)sql"};

// Brings the database to the newest schema, one transaction per version, under the writer lock.
Status migrate(PostgresConnection& c) {
  Status s = c.exec("CREATE TABLE IF NOT EXISTS waymark_schema(version bigint NOT NULL)", "schema");
  if (!s.ok()) return s;
  auto version = c.scalar("SELECT coalesce(max(version), 0) FROM waymark_schema", "schema");
  if (!version.ok()) return version.status();
  const auto newest = static_cast<int64_t>(std::size(kMigrations));
  if (version.value() > newest) {
    return Error(Errc::store_io, "the PostgreSQL database was written by a newer waymark-collector (schema " +
                                     std::to_string(version.value()) + ")");
  }
  for (int64_t v = version.value(); v < newest; ++v) {
    const std::string step = std::string("BEGIN;") + kMigrations[v] + "DELETE FROM waymark_schema; INSERT INTO " +
                             "waymark_schema VALUES(" + std::to_string(v + 1) + "); COMMIT;";
    if (s = c.exec(step.c_str(), "schema migration"); !s.ok()) {
      (void)c.exec("ROLLBACK", "rollback");
      return s;
    }
  }
  return Status::Ok();
}

// A query node reads what a merger migrated: this build's schema exactly.
Status check_schema(PostgresConnection& c) {
  auto version = c.scalar("SELECT coalesce(max(version), 0) FROM waymark_schema", "schema");
  if (!version.ok()) return Error(Errc::store_io, "no Waymark schema in this database: start a merger on it first");
  const auto newest = static_cast<int64_t>(std::size(kMigrations));
  if (version.value() != newest) {
    return Error(Errc::store_io, "the database's schema is " + std::to_string(version.value()) + ", this build reads " +
                                     std::to_string(newest) + ": run the same version as the merger");
  }
  return Status::Ok();
}

}  // namespace

int64_t postgres_store_schema_version() {
  return static_cast<int64_t>(std::size(kMigrations));
}

Result<std::unique_ptr<Store>> open_postgres_store(const std::string& conninfo, IdentityRules rules, Access access) {
  const bool read_only = access == Access::ReadOnly;
  auto writer = std::make_unique<PostgresConnection>(conninfo, !read_only, read_only);
  if (Status s = writer->connect(); !s.ok()) return s;
  if (Status s = read_only ? check_schema(*writer) : migrate(*writer); !s.ok()) return s;
  auto reader = std::make_unique<PostgresConnection>(conninfo, false, read_only);
  if (Status s = reader->connect(); !s.ok()) return s;
  auto store = std::make_unique<SqlStore>(std::move(rules), std::move(writer), std::move(reader), nullptr);
  if (read_only) store->set_read_only();
  if (Status s = store->init(); !s.ok()) return s;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace waymark::collector
