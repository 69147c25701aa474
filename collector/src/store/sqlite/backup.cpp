#include "store/sqlite/backup.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>

#include <sqlite3.h>

#include "store/sqlite/sqlite_store.hpp"

namespace waymark::collector {

namespace fs = std::filesystem;

namespace {

using Db = std::unique_ptr<sqlite3, int (*)(sqlite3*)>;

Db open_db(const std::string& path, int flags, Status* s) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  Db out(db, sqlite3_close);
  if (rc != SQLITE_OK) *s = Error(Errc::store_io, "cannot open " + path + ": " + sqlite3_errstr(rc));
  if (db != nullptr) sqlite3_busy_timeout(db, 10000);
  return out;
}

// The single integer (or text "ok") a statement returns.
std::string scalar(sqlite3* db, const char* sql) {
  sqlite3_stmt* st = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
    const auto* text = sqlite3_column_text(st, 0);
    out = text == nullptr ? "" : reinterpret_cast<const char*>(text);
  }
  sqlite3_finalize(st);
  return out;
}

// Copies `from` into a new file at `to` (one read transaction on `from`), as one self-contained file.
Status copy_db(sqlite3* from, const std::string& to) {
  Status s;
  Db dst = open_db(to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &s);
  if (!s.ok()) return s;
  sqlite3_backup* b = sqlite3_backup_init(dst.get(), "main", from, "main");
  if (b == nullptr) return Error(Errc::store_io, std::string("backup: ") + sqlite3_errmsg(dst.get()));
  int rc;
  while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(50);
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) return Error(Errc::store_io, std::string("backup: ") + sqlite3_errstr(rc));
  if (scalar(dst.get(), "PRAGMA journal_mode=DELETE") != "delete" || scalar(dst.get(), "PRAGMA quick_check") != "ok") {
    return Error(Errc::store_io, "the copy in " + to + " does not check out");
  }
  return Status::Ok();
}

Status fsync_path(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  const bool ok = fd >= 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  return ok ? Status::Ok() : Error(Errc::store_io, "cannot sync " + path.string());
}

// Copies `from` to `to` through a temporary file beside `to`, synced, then renamed into place.
Status copy_into_place(sqlite3* from, const fs::path& to, const std::function<Status()>& before_rename) {
  const fs::path tmp = to.string() + ".tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);  // private, whatever the umask
  if (fd < 0) return Error(Errc::store_io, "cannot create " + tmp.string());
  ::close(fd);
  Status s = copy_db(from, tmp.string());
  if (s.ok()) s = fsync_path(tmp);
  if (s.ok()) s = before_rename();
  if (s.ok() && (fs::rename(tmp, to, ec), ec)) s = Error(Errc::store_io, "cannot move the copy into place");
  if (!s.ok()) {
    fs::remove(tmp, ec);
    return s;
  }
  return fsync_path(to.parent_path().empty() ? fs::path(".") : to.parent_path());
}

}  // namespace

Status backup_sqlite_store(const std::string& db_path, const std::string& out_path) {
  if (fs::exists(out_path)) return Error(Errc::invalid, out_path + " exists: a backup never replaces one");
  if (!fs::exists(db_path)) return Error(Errc::invalid, "no store at " + db_path);
  Status s;
  Db src = open_db(db_path, SQLITE_OPEN_READONLY, &s);
  if (!s.ok()) return s;
  return copy_into_place(src.get(), out_path, [] { return Status::Ok(); });
}

Status restore_sqlite_store(const std::string& backup_path, const std::string& db_path) {
  Status s;
  Db backup = open_db(backup_path, SQLITE_OPEN_READONLY, &s);
  if (!s.ok()) return s;
  const std::string version = scalar(backup.get(), "PRAGMA user_version");
  const bool intact =
      scalar(backup.get(), "PRAGMA quick_check") == "ok" &&
      scalar(backup.get(), "SELECT count(*) FROM sqlite_master WHERE name IN ('events', 'nodes')") == "2";
  if (!intact || version.empty() || std::stoll(version) < 1) {
    return Error(Errc::invalid, backup_path + " is not an intact Waymark collector store");
  }
  if (std::stoll(version) > sqlite_store_schema_version()) {
    return Error(Errc::invalid, backup_path + " was written by a newer waymark-collector");
  }
  return copy_into_place(backup.get(), db_path, [&]() -> Status {
    std::error_code ec;
    for (const char* suffix : {"-wal", "-shm"}) fs::remove(db_path + suffix, ec);
    return ec ? Error(Errc::store_io, "cannot remove the old store's WAL: " + ec.message()) : Status::Ok();
  });
}

}  // namespace waymark::collector
