// waymark_client_record_batch: one commit for many events, per-event consent outcomes, and all
// or nothing on every error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "support/receiver.hpp"
#include "support/test_support.hpp"

using namespace waymark::test;
namespace fs = std::filesystem;

namespace {

struct Events {
  std::vector<waymark_event_t*> owned;
  ~Events() {
    for (waymark_event_t* e : owned) waymark_event_free(e);
  }
  waymark_event_t* add(const std::string& name, waymark_purpose_t purpose = WAYMARK_PURPOSE_ANALYTICS) {
    waymark_event_t* e = nullptr;
    REQUIRE(waymark_event_new(WAYMARK_EVENT_TRACK, name.data(), name.size(), &e) == WAYMARK_OK);
    REQUIRE(waymark_event_set_purpose(e, purpose) == WAYMARK_OK);
    owned.push_back(e);
    return e;
  }
  std::vector<const waymark_event_t*> all() const { return {owned.begin(), owned.end()}; }
};

// An event whose encoding exceeds WAYMARK_MAX_EVENT_BYTES (the builder accepts each property).
void make_oversized(waymark_event_t* e) {
  const std::string value(WAYMARK_MAX_STRING_BYTES, 'x');
  for (int i = 0; i < 20; ++i) {
    const std::string key = "k" + std::to_string(i);
    REQUIRE(waymark_event_set_string(e, key.data(), key.size(), value.data(), value.size()) == WAYMARK_OK);
  }
}

ClientConfig durable_config() {
  ClientConfig config;
  config.durability = WAYMARK_DURABILITY_DURABLE;
  return config;
}

}  // namespace

TEST_CASE("record_batch stores a batch durably in one call, consent decided per event", "[capi]") {
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), durable_config(), &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  Events ev;
  ev.add("line-1");
  ev.add("ad-impression", WAYMARK_PURPOSE_ADVERTISING);  // not granted
  ev.add("line-2");
  const auto events = ev.all();
  std::vector<waymark_status_t> statuses(events.size(), WAYMARK_ERR_INTERNAL);
  CHECK(waymark_client_record_batch(c, events.data(), events.size(), statuses.data()) == WAYMARK_DROPPED_NO_CONSENT);
  CHECK(statuses == std::vector<waymark_status_t>{WAYMARK_OK, WAYMARK_DROPPED_NO_CONSENT, WAYMARK_OK});
  // No flush: durable means on disk when the call returns (the consent record is the +1).
  CHECK(stored_events(dir.store()).size() == 3);
  CHECK(client_stat(c, WAYMARK_STAT_REFUSED) == 1);
  std::vector<const waymark_event_t*> granted{events[0], events[2]};
  CHECK(waymark_client_record_batch(c, granted.data(), granted.size(), nullptr) == WAYMARK_OK);
  CHECK(stored_events(dir.store()).size() == 5);
  waymark_client_free(c);
}

TEST_CASE("record_batch: bad input is an error for every event and stores none", "[capi]") {
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), durable_config(), &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  Events ev;
  ev.add("first");
  make_oversized(ev.add("too-big"));
  ev.add("third");
  auto events = ev.all();
  std::vector<waymark_status_t> statuses(events.size(), WAYMARK_OK);

  CHECK(waymark_client_record_batch(c, events.data(), events.size(), statuses.data()) == WAYMARK_ERR_TOO_LARGE);
  CHECK(std::string(waymark_last_error_message()).find("event 1") != std::string::npos);
  CHECK(statuses == std::vector<waymark_status_t>(3, WAYMARK_ERR_TOO_LARGE));

  events[1] = nullptr;
  CHECK(waymark_client_record_batch(c, events.data(), events.size(), statuses.data()) == WAYMARK_ERR_INVALID_ARGUMENT);
  CHECK(statuses == std::vector<waymark_status_t>(3, WAYMARK_ERR_INVALID_ARGUMENT));
  CHECK(waymark_client_record_batch(c, nullptr, 3, nullptr) == WAYMARK_ERR_INVALID_ARGUMENT);
  CHECK(waymark_client_record_batch(c, events.data(), 0, nullptr) == WAYMARK_ERR_INVALID_ARGUMENT);
  std::vector<const waymark_event_t*> many(WAYMARK_MAX_BATCH_EVENTS + 1, ev.owned[0]);
  CHECK(waymark_client_record_batch(c, many.data(), many.size(), nullptr) == WAYMARK_ERR_TOO_LARGE);
  CHECK(waymark_client_record_batch(nullptr, many.data(), 1, nullptr) == WAYMARK_ERR_INVALID_ARGUMENT);

  CHECK(stored_events(dir.store()).size() == 1);  // the consent record only
  CHECK(client_stat(c, WAYMARK_STAT_REFUSED) == 0);
  REQUIRE(waymark_client_close(c) == WAYMARK_OK);
  CHECK(waymark_client_record_batch(c, many.data(), 1, nullptr) == WAYMARK_ERR_CLOSED);
  waymark_client_free(c);
}

TEST_CASE("record_batch in async mode: a batch the queue cannot hold is dropped whole and counted", "[capi]") {
  TempDir dir;
  ClientConfig config;
  config.queue_capacity = 4;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), config, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 5000) == WAYMARK_OK);
  Events ev;
  for (int i = 0; i < 5; ++i) ev.add("e" + std::to_string(i));
  const auto events = ev.all();
  CHECK(waymark_client_record_batch(c, events.data(), 5, nullptr) == WAYMARK_ERR_QUEUE_FULL);
  CHECK(client_stat(c, WAYMARK_STAT_DROPPED) == 5);
  CHECK(waymark_client_record_batch(c, events.data(), 4, nullptr) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 5000) == WAYMARK_OK);
  CHECK(stored_events(dir.store()).size() == 5);
  waymark_client_free(c);
}

TEST_CASE("record_batch on a full disk: the whole batch fails and none of it is stored later", "[capi][faults]") {
  TempDir dir;
  Tmpfs disk(dir.path() + "/disk", "4m");
  if (!disk.mounted()) FAIL("this test needs to mount a small tmpfs (run as root, as CI does)");
  const std::string store = dir.path() + "/disk/store";
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(store, durable_config(), &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  Events ev;
  for (int i = 0; i < 200; ++i) ev.add("basket-line-with-a-longish-name-" + std::to_string(i));
  const auto events = ev.all();
  const std::string filler = disk.fill();
  int64_t stored = 1;  // the consent record
  waymark_status_t s = WAYMARK_OK;
  for (int i = 0; i < 10000 && s == WAYMARK_OK; ++i) {
    s = waymark_client_record_batch(c, events.data(), events.size(), nullptr);
    if (s == WAYMARK_OK) stored += static_cast<int64_t>(events.size());
  }
  CHECK(s == WAYMARK_ERR_STORE_FULL);
  fs::remove(filler);
  REQUIRE(waymark_client_flush(c, 5000) == WAYMARK_OK);  // nothing of the failed batch is retried
  CHECK(client_stat(c, WAYMARK_STAT_QUEUED) == stored);
  waymark_client_free(c);
  CHECK(static_cast<int64_t>(stored_events(store).size()) == stored);
}

TEST_CASE("record_batch: a call's events share a few sealed rows and stats, purges and uploads count events",
          "[capi][sync]") {
  TempDir dir;
  ClientConfig config = durable_config();
  config.batch_max_events = 50;  // rows never hold more than an upload batch may
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), config, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_PERSONALISATION) == WAYMARK_OK);
  Events ev;
  for (int i = 0; i < 70; ++i) ev.add("a" + std::to_string(i));
  for (int i = 0; i < 10; ++i) ev.add("p" + std::to_string(i), WAYMARK_PURPOSE_PERSONALISATION);
  for (int i = 0; i < 70; ++i) ev.add("b" + std::to_string(i));
  const auto events = ev.all();
  REQUIRE(waymark_client_record_batch(c, events.data(), events.size(), nullptr) == WAYMARK_OK);
  CHECK(client_stat(c, WAYMARK_STAT_QUEUED) == 152);  // + two consent records
  CHECK(stored_events(dir.store()).size() == 152);
  {  // 2 consent rows; analytics 50 + 20, personalisation 10, analytics 50 + 20
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((dir.store() + "/outbox.db").c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*), max(events) FROM outbox", -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    CHECK(sqlite3_column_int(st, 0) == 7);
    CHECK(sqlite3_column_int(st, 1) == 50);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  // Withdrawing personalisation purges exactly its 10 queued events (the withdrawal is recorded).
  REQUIRE(grant(c, WAYMARK_PURPOSE_PERSONALISATION, false) == WAYMARK_OK);
  CHECK(client_stat(c, WAYMARK_STAT_PURGED) == 10);
  CHECK(client_stat(c, WAYMARK_STAT_QUEUED) == 143);
  waymark_client_free(c);

  // Reopened with a collector: every event arrives once, in order, in batches of at most 50.
  Receiver receiver;
  config.collector_url = receiver.url();
  config.collector_keys = {{Receiver::kKeyId, receiver.public_key()}};
  REQUIRE(open_client(dir.store(), config, &c) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
  CHECK(receiver.distinct_events() == 143);
  CHECK(receiver.duplicate_events() == 0);
  CHECK(receiver.batches() >= 3);
  const auto seq = receiver.sequences_in_arrival_order();
  CHECK(std::is_sorted(seq.begin(), seq.end()));
  CHECK(client_stat(c, WAYMARK_STAT_UPLOADED) == 143);
  CHECK(client_stat(c, WAYMARK_STAT_QUEUED) == 0);
  waymark_client_free(c);
}
