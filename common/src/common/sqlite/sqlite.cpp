#include "common/sqlite/sqlite.hpp"

namespace waymark::detail {

Statement::Statement(sqlite3* db, std::string_view sql, int* rc) {
  *rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
}

bool sqlite_is_corrupt(int rc) noexcept {
  const int primary = rc & 0xFF;
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

Status sqlite_status(int rc, sqlite3* db, std::string_view what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return Status::Ok();
  std::string msg(what);
  msg += ": ";
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xFF) {
    case SQLITE_FULL: return Error(WAYMARK_ERR_STORE_FULL, msg);
    case SQLITE_NOMEM: return Error(WAYMARK_ERR_NO_MEMORY, msg);
    default: return Error(WAYMARK_ERR_STORE_IO, msg);
  }
}

Status migrate(sqlite3* db, std::span<const char* const> migrations, std::string_view what, int* rc) {
  int64_t current = 0;
  {
    Statement version(db, "PRAGMA user_version", rc);
    if (*rc == SQLITE_OK) *rc = version.step();
    if (*rc != SQLITE_ROW) return sqlite_status(*rc, db, what);
    current = version.int64(0);
  }
  *rc = SQLITE_OK;
  if (current > static_cast<int64_t>(migrations.size())) {
    return Error(WAYMARK_ERR_STORE_IO, std::string(what) + " was written by a newer version");
  }
  for (; current < static_cast<int64_t>(migrations.size()); ++current) {
    const std::string sql = std::string("BEGIN;") + migrations[static_cast<size_t>(current)] +
                            "PRAGMA user_version=" + std::to_string(current + 1) + "; COMMIT;";
    if (*rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr); *rc != SQLITE_OK) {
      Status s = sqlite_status(*rc, db, what);
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      return s;
    }
  }
  return Status::Ok();
}

}  // namespace waymark::detail
