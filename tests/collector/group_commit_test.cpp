// Group commit at the collector (issue 18, finding 2): every HTTP request used to commit and fsync
// on its own, so a fleet of small batches was commit-bound. Concurrent batches now share one
// transaction; each is answered after the commit that holds it, and a refused one harms no other.
#include <catch2/catch.hpp>

#include <atomic>
#include <regex>
#include <thread>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "support/raw_device.hpp"

using namespace waymark::test;

namespace {

// Whether a batch id is committed, read through a connection of its own (not the collector's).
bool committed(const Collector& collector, const std::array<uint8_t, 16>& batch_id) {
  if (!collector.postgres.empty()) {
    PGconn* c = PQconnectdb(collector.postgres.c_str());
    const char* values[] = {reinterpret_cast<const char*>(batch_id.data())};
    const int lengths[] = {16}, formats[] = {1};
    PGresult* r = PQexecParams(c, "SELECT 1 FROM batches WHERE batch_id = $1", 1, nullptr, values, lengths, formats, 0);
    REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
    const bool found = PQntuples(r) == 1;
    PQclear(r);
    PQfinish(c);
    return found;
  }
  sqlite3* c = nullptr;
  REQUIRE(sqlite3_open_v2(collector.db_path().c_str(), &c, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(c, "SELECT 1 FROM batches WHERE batch_id = ?1", -1, &st, nullptr) == SQLITE_OK);
  sqlite3_bind_blob(st, 1, batch_id.data(), 16, SQLITE_STATIC);
  const bool found = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  sqlite3_close(c);
  return found;
}

int64_t metric(const Collector& c, const std::string& name) {
  const std::string body = request(c.server->port(), http::verb::get, "/metrics").body;
  std::smatch m;
  if (!std::regex_search(body, m, std::regex("\n" + name + " ([0-9]+)\n"))) return 0;
  return std::stoll(m[1]);
}

}  // namespace

TEST_CASE("concurrent batches share commits, each answered after its own commit, refusals harm none",
          "[collector][concurrent][store]") {
  Collector collector;
  constexpr int kDevices = 16, kBatches = 8, kEvents = 20;
  std::atomic<int> accepted{0}, replays_refused{0}, forged_refused{0}, unseen_at_answer{0};
  std::vector<std::thread> devices;
  for (int d = 0; d < kDevices; ++d) {
    devices.emplace_back([&] {
      RawDevice device;
      const Reply granted = device.send(collector, {device.grant()});
      if (granted.status == 200) ++accepted;
      for (int b = 0; b < kBatches; ++b) {
        std::vector<std::vector<uint8_t>> events;
        for (int e = 0; e < kEvents; ++e) events.push_back(device.event("view"));
        std::array<uint8_t, 16> batch_id{};
        const auto sealed = device.seal(collector, events, &batch_id);
        if (request(collector.server->port(), http::verb::post, "/v1/batches", sealed).status == 200) {
          ++accepted;
          if (!committed(collector, batch_id)) ++unseen_at_answer;
        }
        // Refused inside the group (an old sequence number) and before it (a damaged seal).
        const auto replayed = device.seal(collector, {device.event("replayed")}, nullptr, device.sequence - 1);
        if (request(collector.server->port(), http::verb::post, "/v1/batches", replayed).status == 409) {
          ++replays_refused;
        }
        auto damaged = device.seal(collector, {device.event("damaged")}, nullptr, device.sequence + 1);
        damaged[damaged.size() - 5] ^= 1;
        if (request(collector.server->port(), http::verb::post, "/v1/batches", damaged).status == 400) {
          ++forged_refused;
        }
      }
    });
  }
  for (auto& t : devices) t.join();
  CHECK(accepted == kDevices * (kBatches + 1));
  CHECK(replays_refused == kDevices * kBatches);
  CHECK(forged_refused == kDevices * kBatches);
  CHECK(unseen_at_answer == 0);
  CHECK(collector.events() == kDevices * (1 + kBatches * kEvents));
  const int64_t commits = metric(collector, "waymark_ingest_commits_total");
  INFO("commits: " << commits);
  CHECK(commits > 0);
  CHECK(commits < kDevices * (2 * kBatches + 1));  // fewer commits than batches decided
}
