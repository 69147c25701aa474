// Backup and restore (issue 27): a consistent copy of the store taken while devices upload, and put
// back into a data directory, checked before it replaces anything.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <thread>

#include <sqlite3.h>

#include "store/sqlite/backup.hpp"
#include "support/collector_fixture.hpp"

using namespace waymark::test;
namespace wc = waymark::collector;
namespace fs = std::filesystem;

namespace {

// A device that records `n` events and uploads them.
void upload(const Collector& collector, int n) {
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), collector.client(), &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  for (int i = 0; i < n; ++i) REQUIRE(track(c, "view") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
  waymark_client_free(c);
}

int64_t events_in(const std::string& db) {
  auto store = wc::open_sqlite_store(db);
  REQUIRE(store.ok());
  return store.value()->event_count().value();
}

}  // namespace

TEST_CASE("a backup taken while devices upload is an intact store, and restores", "[collector][backup]") {
  Collector collector;
  upload(collector, 50);
  TempDir out;
  const std::string backup = out.path() + "/backup.db";
  std::thread more([&] { upload(collector, 200); });  // ingest goes on during the backup
  REQUIRE(wc::backup_sqlite_store(collector.db_path(), backup).ok());
  more.join();
  CHECK(fs::status(backup).permissions() == (fs::perms::owner_read | fs::perms::owner_write));
  CHECK_FALSE(fs::exists(backup + "-wal"));  // one self-contained file
  const int64_t copied = events_in(backup);
  CHECK(copied >= 51);  // everything acknowledged before it started (consent and 50 views), perhaps more
  CHECK(copied <= 51 + 201);
  CHECK(wc::backup_sqlite_store(collector.db_path(), backup).message.find("exists") != std::string::npos);

  // Restored into another data directory, over a store with a WAL of its own: the backup's events only.
  TempDir target;
  const std::string db = target.path() + "/collector.db";
  {
    Collector other({}, 500, target.path());
    upload(other, 7);
  }
  REQUIRE(wc::restore_sqlite_store(backup, db).ok());
  CHECK(events_in(db) == copied);
}

TEST_CASE("restore refuses what is not an intact Waymark store and leaves the store as it was", "[collector][backup]") {
  TempDir dir;
  const std::string db = dir.path() + "/collector.db";
  {
    auto store = wc::open_sqlite_store(db);
    REQUIRE(store.ok());
  }
  const std::string junk = dir.path() + "/junk.db";
  std::ofstream(junk) << "not a database at all";
  CHECK(wc::restore_sqlite_store(junk, db).code == wc::Errc::invalid);
  const std::string other = dir.path() + "/other.db";
  {
    sqlite3* raw = nullptr;  // an SQLite file of another application
    REQUIRE(sqlite3_open(other.c_str(), &raw) == SQLITE_OK);
    REQUIRE(sqlite3_exec(raw, "CREATE TABLE IF NOT EXISTS t(x); PRAGMA user_version=1", nullptr, nullptr, nullptr) ==
            SQLITE_OK);
    sqlite3_close(raw);
  }
  CHECK(wc::restore_sqlite_store(other, db).message.find("not an intact Waymark collector store") != std::string::npos);
  CHECK(wc::restore_sqlite_store(dir.path() + "/missing.db", db).code == wc::Errc::store_io);
  CHECK(events_in(db) == 0);  // untouched and still opens
  CHECK_FALSE(fs::exists(db + ".tmp"));
}
