// `serve --role ingest` and `serve --role merger` as real processes beside a real nats-server (issue 21):
// SDK devices upload through the ingest node; the active merger is killed with SIGKILL mid-stream and
// its standby, already started and waiting on the data directory's lock, takes over. Every event a
// device recorded is stored exactly once.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <csignal>
#include <fstream>
#include <future>
#include <thread>

#include "collector_process.hpp"
#include "nats_process.hpp"
#include "support/test_support.hpp"

using namespace waymark::test;
using demo::NatsCluster;
using demo::NatsServer;

namespace {

int64_t events_in_store(const std::string& db) {
  sqlite3* c = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &c, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_busy_timeout(c, 2000);
  sqlite3_stmt* st = nullptr;
  int64_t n = -1;
  if (sqlite3_prepare_v2(c, "SELECT count(*) FROM events", -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    n = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  sqlite3_close(c);
  return n;
}

// Whether `file` says `what` within 10 s.
bool logged(const std::string& file, const std::string& what) {
  for (int i = 0; i < 500; ++i) {
    std::ifstream in(file);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find(what) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST_CASE(
    "roles as processes: devices upload through an ingest node, the merger is killed with -9, its standby "
    "takes over, every event is stored once",
    "[collector][jetstream]") {
  TempDir dir, nats_dir;
  NatsServer nats(nats_dir.path());
  const std::string bin = WAYMARK_COLLECTOR_BIN;
  const auto key = demo::CollectorProcess::generate_keys(bin, dir.path());
  const std::vector<std::string> cluster = {"--data-dir",           dir.path(), "--nats", nats.url(), "--port", "0",
                                            "--merger-ack-wait-ms", "1000"};
  demo::CollectorProcess ingest(bin, with({"serve", "--role", "ingest"}, cluster), dir.path() + "/ingest.log");
  auto active = std::make_unique<demo::CollectorProcess>(bin, with({"serve", "--role", "merger"}, cluster),
                                                         dir.path() + "/merger1.log");
  auto standby = std::async(std::launch::async, [&] {  // listens only once it holds the store
    return std::make_unique<demo::CollectorProcess>(bin, with({"serve", "--role", "merger"}, cluster),
                                                    dir.path() + "/merger2.log");
  });

  ClientConfig config;
  config.collector_url = "http://127.0.0.1:" + std::to_string(ingest.port()) + "/v1/batches";
  config.collector_keys = {{1, key}};
  config.batch_max_events = 25;
  constexpr int kDevices = 4, kEvents = 400;
  std::vector<TempDir> stores(kDevices);
  std::vector<std::thread> devices;
  std::atomic<int> uploaded{0};
  for (int d = 0; d < kDevices; ++d) {
    devices.emplace_back([&, d] {
      waymark_client_t* c = nullptr;
      REQUIRE(open_client(stores[d].store(), config, &c) == WAYMARK_OK);
      REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
      for (int e = 0; e < kEvents; ++e) {
        REQUIRE(track(c, "view") == WAYMARK_OK);
        if (e % 50 == 49) (void)waymark_client_flush(c, 10000);
      }
      REQUIRE(waymark_client_flush(c, 20000) == WAYMARK_OK);
      uploaded += static_cast<int>(client_stat(c, WAYMARK_STAT_UPLOADED));
      waymark_client_free(c);
    });
    if (d == kDevices / 2) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      CHECK(logged(dir.path() + "/merger2.log", "standby: another merger is serving"));  // it waits already
      CHECK(active->stop(SIGKILL) == 128 + SIGKILL);  // mid-stream, batches taken and unacked
    }
  }
  for (auto& t : devices) t.join();
  const auto next = standby.get();                    // took over once the killed merger's lock was released
  const int64_t expected = kDevices * (1 + kEvents);  // each device's consent record and its events
  CHECK(uploaded == expected);
  const std::string db = dir.path() + "/collector.db";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (events_in_store(db) != expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(events_in_store(db) == expected);
  CHECK(logged(dir.path() + "/merger2.log", "this one takes over"));
  CHECK(next->stop() == 0);
  CHECK(ingest.stop() == 0);
}
