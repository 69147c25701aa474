#include "store/sqlite.hpp"

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

}  // namespace waymark::detail
