#include <catch2/catch.hpp>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <sqlite3.h>
#include <sys/stat.h>

#include "store/outbox.hpp"
#include "store/writer.hpp"
#include "support/test_support.hpp"

using namespace waymark::detail;
using waymark::test::TempDir;

namespace {
struct Fixture {
  TempDir dir;
  waymark_platform_t platform{};
  std::unique_ptr<RandomPool> pool;
  uint8_t key[32] = {42};
  Fixture() {
    waymark_platform_null(&platform);
    pool = std::make_unique<RandomPool>(platform);
  }
  std::unique_ptr<Outbox> open(OutboxConfig config = {}) {
    config.dir = dir.store();
    auto r = Outbox::open(config, key, *pool);
    REQUIRE(r.ok());
    return std::move(r.value().outbox);
  }
  static OutboxRow row(int64_t id, uint8_t priority = 0, int64_t created = 1000) {
    OutboxRow r;
    r.id = id;
    r.event_id[0] = static_cast<uint8_t>(id);
    r.priority = priority;
    r.created_ms = created;
    r.plaintext = {1, 2, 3, static_cast<uint8_t>(id)};
    return r;
  }
};

void insert_all(Outbox& o, const std::vector<OutboxRow>& rows) {
  REQUIRE(o.begin().ok());
  for (const auto& r : rows) REQUIRE(o.insert(r).ok());
  REQUIRE(o.commit().ok());
}
}  // namespace

TEST_CASE("rows are sealed, read back in order, and the file is private", "[outbox]") {
  Fixture f;
  auto o = f.open();
  insert_all(*o, {Fixture::row(1), Fixture::row(2)});
  int64_t unreadable = 0;
  auto rows = o->read_oldest(10, &unreadable);
  REQUIRE(rows.ok());
  REQUIRE(rows.value().size() == 2);
  CHECK(rows.value()[1].plaintext == std::vector<uint8_t>{1, 2, 3, 2});
  CHECK(unreadable == 0);
  struct stat st {};
  REQUIRE(::stat((f.dir.store() + "/outbox.db").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(o->next_id() == 3);
}

TEST_CASE("a row its caller sealed is stored as sealed, bound to its id, with the plaintext wiped", "[outbox]") {
  Fixture f;
  auto o = f.open();
  OutboxRow sealed = Fixture::row(1), moved = Fixture::row(2);
  REQUIRE(o->seal(sealed).ok());
  CHECK(sealed.plaintext.empty());
  CHECK(sealed.sealed.size() == 24 + 4 + 16);  // nonce, the event, the tag
  REQUIRE(o->seal(moved).ok());
  moved.id = 3;  // sealed as row 2: the associated data no longer matches
  insert_all(*o, {sealed, moved});
  int64_t unreadable = 0;
  auto rows = o->read_oldest(10, &unreadable);
  REQUIRE(rows.ok());
  REQUIRE(rows.value().size() == 1);
  CHECK(rows.value()[0].plaintext == std::vector<uint8_t>{1, 2, 3, 1});
  CHECK(unreadable == 1);
}

TEST_CASE("a row moved to another id or tampered fails authentication and is counted", "[outbox]") {
  Fixture f;
  {
    auto o = f.open();
    insert_all(*o, {Fixture::row(1), Fixture::row(2), Fixture::row(3)});
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((f.dir.store() + "/outbox.db").c_str(), &db) == SQLITE_OK);
  // Row 2 gets row 1's sealed bytes (associated data binds the row id); row 3 a flipped byte.
  REQUIRE(sqlite3_exec(db,
                       "UPDATE outbox SET sealed = (SELECT sealed FROM outbox WHERE id = 1) WHERE id = 2;"
                       "UPDATE outbox SET sealed = substr(sealed, 1, 30) || x'00' || substr(sealed, 32) WHERE id = 3;",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto o = f.open();
  int64_t unreadable = 0;
  auto rows = o->read_oldest(10, &unreadable);
  REQUIRE(rows.ok());
  REQUIRE(rows.value().size() == 1);
  CHECK(rows.value()[0].id == 1);
  CHECK(unreadable == 2);
  CHECK(o->events() == 1);  // bad rows are removed, not retried forever
}

TEST_CASE("the schema is versioned and reopening keeps the data", "[outbox]") {
  Fixture f;
  { insert_all(*f.open(), {Fixture::row(7)}); }
  auto o = f.open();
  CHECK(o->events() == 1);
  CHECK(o->next_id() == 8);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((f.dir.store() + "/outbox.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(sqlite3_column_int(st, 0) == 3);
  sqlite3_finalize(st);
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_CASE("caps evict the lowest priority first, then the oldest", "[outbox]") {
  Fixture f;
  OutboxConfig config;
  config.max_events = 3;
  auto o = f.open(config);
  insert_all(*o, {Fixture::row(1, 2), Fixture::row(2, 0), Fixture::row(3, 1), Fixture::row(4, 0), Fixture::row(5, 2)});
  int64_t evicted = 0;
  REQUIRE(o->begin().ok());
  REQUIRE(o->evict(0, false, &evicted).ok());
  REQUIRE(o->commit().ok());
  CHECK(evicted == 2);
  int64_t unreadable = 0;
  auto rows = o->read_oldest(10, &unreadable);
  REQUIRE(rows.value().size() == 3);
  CHECK(rows.value()[0].id == 1);
  CHECK(rows.value()[1].id == 3);
  CHECK(rows.value()[2].id == 5);
}

TEST_CASE("the age cap evicts old rows of every priority", "[outbox]") {
  Fixture f;
  OutboxConfig config;
  config.max_age_ms = 1000;
  auto o = f.open(config);
  insert_all(*o, {Fixture::row(1, 2, 100), Fixture::row(2, 0, 5000)});
  int64_t evicted = 0;
  REQUIRE(o->begin().ok());
  REQUIRE(o->evict(5500, true, &evicted).ok());
  REQUIRE(o->commit().ok());
  CHECK(evicted == 1);
  CHECK(o->events() == 1);
}

TEST_CASE("ids never go back, even after every row was deleted", "[outbox]") {
  Fixture f;
  {
    auto o = f.open();
    insert_all(*o, {Fixture::row(1), Fixture::row(2), Fixture::row(3)});
    REQUIRE(o->begin().ok());
    REQUIRE(o->remove({1, 2, 3}).ok());
    REQUIRE(o->commit().ok());
    CHECK(o->events() == 0);
  }
  CHECK(f.open()->next_id() == 4);
}

TEST_CASE("a version 1 store migrates to the current schema and keeps its rows", "[outbox]") {
  Fixture f;
  std::filesystem::create_directories(f.dir.store());
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((f.dir.store() + "/outbox.db").c_str(), &db) == SQLITE_OK);
  // The v1 schema exactly as the first release created it.
  REQUIRE(
      sqlite3_exec(db,
                   "CREATE TABLE outbox(id INTEGER PRIMARY KEY, event_id BLOB NOT NULL, slot BLOB NOT NULL, "
                   "purpose INTEGER NOT NULL, priority INTEGER NOT NULL, created_ms INTEGER NOT NULL, "
                   "key_id INTEGER NOT NULL, sealed BLOB NOT NULL);"
                   "CREATE TABLE consent_ledger(slot BLOB NOT NULL, seq INTEGER NOT NULL, purpose INTEGER NOT NULL, "
                   "granted INTEGER NOT NULL, time_ms INTEGER NOT NULL, policy TEXT NOT NULL, prev_hash BLOB NOT "
                   "NULL, hash BLOB NOT NULL, signature BLOB NOT NULL, PRIMARY KEY(slot, seq)) WITHOUT ROWID;"
                   "CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
                   "CREATE TABLE meta(name TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;"
                   "INSERT INTO outbox VALUES(5, x'00', x'00', 1, 0, 1, 1, x'0102');"
                   "INSERT INTO counters VALUES('refused', 7);"
                   "PRAGMA user_version = 1;",
                   nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto o = f.open();
  CHECK(o->events() == 1);
  CHECK(o->next_id() == 6);
  CHECK(o->load_counters().refused == 7);
  Counters delta;
  BatchLease lease;
  auto leased = o->lease_batch(lease, delta);  // the v2 columns exist; the garbage row is unreadable
  REQUIRE(leased.ok());
  CHECK_FALSE(leased.value().has_value());
  CHECK(delta.unreadable == 1);
}

namespace {
OutboxRow slot_row(int64_t id, uint8_t slot, uint8_t purpose = 1, uint8_t priority = 0) {
  OutboxRow r = Fixture::row(id, priority);
  r.slot[0] = slot;
  r.purpose = purpose;
  return r;
}

// How many events each packed row holds.
std::vector<int64_t> shape(const std::vector<OutboxRow>& rows) {
  std::vector<int64_t> out;
  for (const OutboxRow& r : rows) out.push_back(r.events);
  return out;
}

std::vector<OutboxRow> calls_rows() {  // ids 1-7: one call's events
  std::vector<OutboxRow> rows;
  for (int64_t id : {1, 2, 3}) rows.push_back(slot_row(id, 1));
  rows.push_back(slot_row(4, 1, 1, 2));  // a conversion: another priority
  rows.push_back(slot_row(5, 1));
  rows.push_back(slot_row(6, 1, 2));  // another purpose
  rows.push_back(slot_row(7, 2));     // another slot
  return rows;
}
}  // namespace

TEST_CASE("a call's events pack into rows of one slot, purpose and priority, and read back one by one", "[outbox]") {
  CHECK(shape(pack_rows(calls_rows(), 64, 1 << 15)) == std::vector<int64_t>{3, 1, 1, 1, 1});
  CHECK(shape(pack_rows(calls_rows(), 2, 1 << 15)) == std::vector<int64_t>{2, 1, 1, 1, 1, 1});
  CHECK(shape(pack_rows(calls_rows(), 64, 16)) == std::vector<int64_t>{2, 1, 1, 1, 1, 1});  // 2 x (4 + 4 bytes)
  CHECK(shape(pack_rows(calls_rows(), 64, 4)) == std::vector<int64_t>(7, 1));  // larger than the cap: alone
  auto gap = calls_rows();
  gap[1].id = 20;  // not consecutive: never one row (a row's events are its id, id + 1, ...)
  CHECK(shape(pack_rows(std::move(gap), 64, 1 << 15)) == std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1});

  Fixture f;
  auto o = f.open();
  const auto packed = pack_rows(calls_rows(), 64, 1 << 15);
  CHECK(packed[0].id == 1);
  CHECK(packed[0].event_id[0] == 1);
  insert_all(*o, packed);
  CHECK(o->events() == 7);
  CHECK(o->next_id() == 8);
  int64_t unreadable = 0;
  auto events = o->read_oldest(10, &unreadable);
  REQUIRE(events.ok());
  REQUIRE(events.value().size() == 7);
  for (int64_t i = 0; i < 7; ++i) {
    CHECK(events.value()[static_cast<size_t>(i)].id == i + 1);
    CHECK(events.value()[static_cast<size_t>(i)].plaintext ==
          std::vector<uint8_t>{1, 2, 3, static_cast<uint8_t>(i + 1)});
  }
  CHECK(unreadable == 0);
  o.reset();
  CHECK(f.open()->next_id() == 8);  // the last event of the last row, not the row's id
}

TEST_CASE("a packed row is bound to its number of events: a changed count makes it unreadable", "[outbox]") {
  Fixture f;
  {
    auto o = f.open();
    const auto packed = pack_rows(calls_rows(), 64, 1 << 15);
    insert_all(*o, packed);
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((f.dir.store() + "/outbox.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "UPDATE outbox SET events = 2 WHERE id = 1", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto o = f.open();
  CHECK(o->events() == 6);
  int64_t unreadable = 0;
  auto events = o->read_oldest(10, &unreadable);
  REQUIRE(events.ok());
  CHECK(events.value().size() == 4);  // ids 4-7
  CHECK(events.value().front().id == 4);
  CHECK(unreadable == 2);
  CHECK(o->events() == 4);
}

TEST_CASE("caps, purges, leases and receipts count events, not rows", "[outbox]") {
  Fixture f;
  OutboxConfig config;
  config.max_events = 6;
  auto o = f.open(config);
  std::vector<OutboxRow> rows;
  for (int64_t id = 1; id <= 8; ++id) rows.push_back(slot_row(id, 1, id <= 3 ? 2 : 1, id <= 3 ? 0 : 1));
  const auto packed = pack_rows(std::move(rows), 3, 1 << 15);  // [1-3] purpose 2, [4-6], [7-8]
  REQUIRE(shape(packed) == std::vector<int64_t>{3, 3, 2});
  REQUIRE(o->begin().ok());
  for (const OutboxRow& r : packed) REQUIRE(o->insert(r).ok());
  int64_t evicted = 0;
  REQUIRE(o->evict(0, false, &evicted).ok());  // 8 > 6: the lowest priority row goes, all 3 events
  REQUIRE(o->commit().ok());
  CHECK(evicted == 3);
  CHECK(o->events() == 5);

  REQUIRE(o->begin().ok());
  REQUIRE(o->insert(slot_row(9, 1, 2, 1)).ok());
  int64_t purged = 0;
  SlotId slot{1};
  REQUIRE(o->purge(slot, uint8_t{2}, &purged).ok());
  REQUIRE(o->commit().ok());
  CHECK(purged == 1);
  CHECK(o->events() == 5);

  Counters delta;
  BatchLease lease;
  lease.max_events = 4;  // [4-6] fits, [7-8] would make 5
  REQUIRE(o->begin().ok());
  auto leased = o->lease_batch(lease, delta);
  REQUIRE(leased.ok());
  REQUIRE(leased.value());
  CHECK(leased.value()->events.size() == 3);
  CHECK(leased.value()->events.back().id == 6);
  REQUIRE(o->complete_batch(*leased.value(), delta).ok());
  REQUIRE(o->commit().ok());
  CHECK(delta.uploaded == 3);
  CHECK(o->events() == 2);
}

TEST_CASE("rows the writer is committing still count as queued", "[outbox]") {
  Fixture f;
  OutboxWriter::Config config;
  config.now_ms = [] { return int64_t{0}; };
  OutboxWriter writer(f.open(), config);
  std::mutex mu;
  std::condition_variable cv;
  bool inside = false, release = false;
  for (int64_t id = 1; id <= 3; ++id) REQUIRE(writer.enqueue_row(Fixture::row(id), false, nullptr).ok());
  OutboxWriter::Ticket ticket;
  // A job in the same commit as the rows, held until the check is done.
  REQUIRE(writer
              .enqueue_job(
                  [&](Outbox&, Counters&) {
                    std::unique_lock lock(mu);
                    inside = true;
                    cv.notify_all();
                    cv.wait(lock, [&] { return release; });
                    return Status::Ok();
                  },
                  &ticket)
              .ok());
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return inside; });
  }
  CHECK(writer.queued() == 3);
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  REQUIRE(writer.wait(ticket, 5000).ok());
  CHECK(writer.queued() == 3);
}
