// Collector ingest on one core with SQLite: 300k events in batches of 500 with 3 identifiers each (long
// enough for checkpoints to reach their steady state), against a same-run floor of open + verify + a
// plain SQLite insert of the same rows, with the store's page size, page cache and checkpoint interval.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <sodium.h>
#include <sqlite3.h>

#include "ingest/ingest.hpp"
#include "ingest_workload.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "waymark/wire/v1/batch_generated.h"
#include "common/wire/envelope.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace waymark::detail;
namespace wc = waymark::collector;
using bench::kBatches;
using bench::kPerBatch;

namespace {

double floor_rate(const std::vector<std::vector<uint8_t>>& envelopes, const uint8_t* collector_sk,
                  const std::string& path) {
  fs::remove(path);
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, wc::kStoragePragmas, nullptr, nullptr, nullptr);  // the store's own pages, cache, checkpoints
  sqlite3_exec(db, "CREATE TABLE events(event_id BLOB PRIMARY KEY, payload BLOB) WITHOUT ROWID", nullptr, nullptr,
               nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO events VALUES(?1, ?2)", -1, &st, nullptr);
  auto opener = EnvelopeOpener::create(collector_sk);  // as the collector opens them
  const auto t = Clock::now();
  size_t n = 0;
  for (const auto& env : envelopes) {
    auto opened = opener->open(env.data(), env.size());
    const auto* batch = waymark::wire::v1::GetBatch(opened->batch.data());
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (const auto* blob : *batch->events()) {
      const auto* e = blob->bytes_nested_root();
      sqlite3_bind_blob(st, 1, e->id()->data(), 16, SQLITE_STATIC);
      sqlite3_bind_blob(st, 2, blob->bytes()->data(), static_cast<int>(blob->bytes()->size()), SQLITE_STATIC);
      sqlite3_step(st);
      sqlite3_reset(st);
      ++n;
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  }
  const double rate = static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - t).count();
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "bench-work";
  fs::create_directories(dir);
  if (sodium_init() < 0) return 1;
  const auto [key, envelopes] = bench::sealed_workload();

  const std::string db = dir + "/collector-bench.db";
  fs::remove(db);
  auto store = wc::open_sqlite_store(db);
  if (!store.ok()) return 1;
  uint8_t rekey[32];
  randombytes_buf(rekey, sizeof rekey);
  wc::Metrics metrics;
  wc::Ingest ingest(*store.value(), {key}, rekey, metrics);
  const auto t = Clock::now();
  int ok = 0;
  for (const auto& env : envelopes) ok += ingest.handle(env.data(), env.size(), 1790000000000).http_status == 200;
  const double secs = std::chrono::duration<double>(Clock::now() - t).count();
  const double events = static_cast<double>(store.value()->event_count().value());
  if (ok != kBatches || events != kBatches * kPerBatch) {
    std::fprintf(stderr, "collector bench: %d/%d batches accepted, %.0f events stored\n", ok, kBatches, events);
  }
  const double floor = floor_rate(envelopes, key.secret.data(), dir + "/collector-floor.db");
  std::printf("BENCH collector_ingest_one_core %.0f events/s\n", events / secs);
  std::printf("BENCH open_verify_sqlite_insert_floor %.0f events/s\n", floor);
  std::printf("RATIO collector_ingest_one_core %.3f vs open_verify_sqlite_insert_floor\n", events / secs / floor);
  fs::remove_all(dir);
  return 0;
}
