#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "support/test_support.hpp"

using namespace waymark::test;
namespace fs = std::filesystem;

TEST_CASE("an unusable store directory is a clear error", "[faults]") {
  TempDir dir;
  waymark_client_t* c = nullptr;
  // Even root cannot create directories under /proc.
  CHECK(open_client("/proc/waymark-no-such-dir", {}, &c) == WAYMARK_ERR_STORE_IO);
  std::ofstream(dir.path() + "/file") << "x";
  CHECK(open_client(dir.path() + "/file", {}, &c) == WAYMARK_ERR_STORE_IO);
  CHECK(open_client(dir.path() + "/missing/parent/store", {}, &c) == WAYMARK_ERR_STORE_IO);
  CHECK(c == nullptr);
}

TEST_CASE("a corrupt database is quarantined and a fresh store opened", "[faults]") {
  TempDir dir;
  fs::create_directory(dir.store());
  {
    std::ofstream f(dir.store() + "/outbox.db", std::ios::binary);
    for (int i = 0; i < 1000; ++i) f << "this is not a database ";
  }
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), {}, &c) == WAYMARK_STORE_RECOVERED);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(track(c, "works") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 5000) == WAYMARK_OK);
  waymark_client_free(c);
  int quarantined = 0;
  for (const auto& e : fs::directory_iterator(dir.store())) {
    quarantined += e.path().filename().string().rfind("outbox.db.corrupt-", 0) == 0;
  }
  CHECK(quarantined == 1);
  CHECK(stored_events(dir.store()).size() == 2);
}

TEST_CASE("a damaged page inside a real database is quarantined too", "[faults]") {
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), {}, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  for (int i = 0; i < 300; ++i) REQUIRE(track(c, "filler-event-with-some-length") == WAYMARK_OK);
  waymark_client_free(c);
  {
    std::fstream f(dir.store() + "/outbox.db", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096 + 16);  // second page: b-tree page header and cell pointers
    const std::string junk(2048, '\xA5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  CHECK(open_client(dir.store(), {}, &c) == WAYMARK_STORE_RECOVERED);
  waymark_client_free(c);
}

TEST_CASE("a data key that no longer opens the rows: rows counted unreadable, no crash", "[faults]") {
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), {}, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  for (int i = 0; i < 10; ++i) REQUIRE(track(c, "tap") == WAYMARK_OK);
  waymark_client_free(c);

  waymark_platform_t p{};
  waymark_platform_null(&p);
  uint8_t other[32] = {0xEE};
  REQUIRE(p.keystore_put(dir.store().c_str(), "data_key", other, 32, p.user_data) == 0);
  REQUIRE(open_client(dir.store(), {}, &c) == WAYMARK_OK);
  CHECK(client_stat(c, WAYMARK_STAT_UNREADABLE) == 11);
  CHECK(client_stat(c, WAYMARK_STAT_QUEUED) == 0);
  REQUIRE(track(c, "tap") == WAYMARK_OK);  // consent ledger is signed, not sealed: still granted
  REQUIRE(waymark_client_flush(c, 5000) == WAYMARK_OK);
  waymark_client_free(c);
  REQUIRE(open_client(dir.store(), {}, &c) == WAYMARK_OK);
  CHECK(client_stat(c, WAYMARK_STAT_UNREADABLE) == 11);  // persisted, not double counted

  CHECK(client_stat(c, WAYMARK_STAT_QUEUED) == 1);
  waymark_client_free(c);
}

TEST_CASE("an oversized event is refused with a clear limit error", "[faults]") {
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), {}, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  waymark_event_t* e = nullptr;
  REQUIRE(waymark_event_new(WAYMARK_EVENT_TRACK, "huge", 4, &e) == WAYMARK_OK);
  const std::string value(WAYMARK_MAX_STRING_BYTES, 'v');
  for (int i = 0; i < 20; ++i) {
    const std::string key = "p" + std::to_string(i);
    REQUIRE(waymark_event_set_string(e, key.data(), key.size(), value.data(), value.size()) == WAYMARK_OK);
  }
  CHECK(waymark_client_record(c, e) == WAYMARK_ERR_TOO_LARGE);
  CHECK(std::string(waymark_last_error_message()).find("MAX_EVENT_BYTES") != std::string::npos);
  waymark_event_free(e);
  waymark_client_free(c);
}

TEST_CASE("a full disk: durable records fail clearly and every OK'd event is kept", "[faults]") {
  TempDir dir;
  Tmpfs small(dir.path() + "/small", "4m");
  if (!small.mounted()) FAIL("this test needs to mount a small tmpfs (run as root, as CI does)");
  const std::string store = dir.path() + "/small/store";
  ClientConfig config;
  config.durability = WAYMARK_DURABILITY_DURABLE;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(store, config, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  int ok = 0;
  waymark_status_t s = WAYMARK_OK;
  for (int i = 0; i < 100000 && s == WAYMARK_OK; ++i) {
    s = track(c, "filling-the-disk-with-a-reasonably-long-event-name");
    ok += s == WAYMARK_OK;
  }
  CHECK(s == WAYMARK_ERR_STORE_FULL);
  CHECK(ok > 100);
  CHECK(track(c, "still-full") == WAYMARK_ERR_STORE_FULL);
  waymark_client_free(c);
  CHECK(static_cast<int>(stored_events(store).size()) == ok + 1);
}

TEST_CASE("many threads recording while the client closes: no crash, nothing OK'd is lost", "[faults]") {
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), {}, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  std::atomic<int> ok{0}, closed{0}, other{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      while (!go) std::this_thread::yield();
      for (;;) {
        const waymark_status_t s = track(c, "race");
        if (s == WAYMARK_OK) {
          ++ok;
        } else if (s == WAYMARK_ERR_CLOSED) {
          ++closed;
          return;
        } else if (s != WAYMARK_ERR_QUEUE_FULL) {
          ++other;
          return;
        }
      }
    });
  }
  go = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(waymark_client_close(c) == WAYMARK_OK);
  for (auto& t : threads) t.join();
  waymark_client_free(c);
  CHECK(other == 0);
  CHECK(closed == 8);
  CHECK(static_cast<int>(stored_events(dir.store()).size()) == ok + 1);
}
