// SDK core benchmarks: pseudonymisation, async record latency, durable throughput (one event per
// call, and batches of 100 per call).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <sodium.h>
#include <sqlite3.h>

#include "waymark/waymark.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

const uint8_t kKey[32] = {3};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

waymark_client_t* open_client(const std::string& store, waymark_durability_t durability) {
  fs::remove_all(store);
  waymark_options_t* o = nullptr;
  waymark_options_new(&o);
  waymark_options_set_store_path(o, store.data(), store.size());
  waymark_options_set_app_id(o, "bench", 5);
  waymark_options_set_brand_key(o, kKey, 32, 1);
  waymark_options_set_durability(o, durability);
  waymark_options_set_queue_capacity(o, 1000000);
  waymark_options_set_caps(o, 0, 0, 0);
  waymark_platform_t p{};
  waymark_platform_null(&p);
  waymark_options_set_platform(o, &p);
  waymark_client_t* c = nullptr;
  if (waymark_client_open(o, &c) != WAYMARK_OK) {
    std::fprintf(stderr, "open failed: %s\n", waymark_last_error_message());
    std::exit(1);
  }
  waymark_client_set_consent(c, WAYMARK_PURPOSE_ANALYTICS, 1, "v1", 2);
  return c;
}

waymark_event_t* sample_event() {
  waymark_event_t* e = nullptr;
  waymark_event_new(WAYMARK_EVENT_TRACK, "product_view", 12, &e);
  waymark_event_set_channel(e, WAYMARK_CHANNEL_KIOSK);
  waymark_event_set_string(e, "sku", 3, "SKU-000123", 10);
  waymark_event_set_int(e, "position", 8, 4);
  return e;
}

void bench_pseudonymize(const std::string& dir) {
  waymark_client_t* c = open_client(dir + "/pseudo", WAYMARK_DURABILITY_ASYNC);
  const int n = 200000;
  std::vector<std::string> emails;
  for (int i = 0; i < n; ++i) emails.push_back("Customer." + std::to_string(i) + "@Example.com");
  uint8_t out[32];
  auto t = Clock::now();
  for (const auto& e : emails) waymark_client_pseudonymize(c, WAYMARK_ID_EMAIL, e.data(), e.size(), out, 32);
  const double us = seconds_since(t) * 1e6 / n;
  // Floor: keyed BLAKE2b alone over the same bytes (what normalisation + KDF caching add on top).
  uint8_t subkey[32] = {1};
  t = Clock::now();
  for (const auto& e : emails) {
    crypto_generichash(out, 32, reinterpret_cast<const uint8_t*>(e.data()), e.size(), subkey, 32);
  }
  const double floor_us = seconds_since(t) * 1e6 / n;
  std::printf("BENCH pseudonymize_email %.3f us/identifier\n", us);
  std::printf("BENCH blake2b_keyed_floor %.3f us/identifier\n", floor_us);
  std::printf("RATIO pseudonymize_email %.3f vs blake2b_keyed_floor\n", floor_us / us);
  waymark_client_free(c);
}

// Caller-thread latency of an async record at a load the writer sustains: bursts of 500 events
// (a busy kiosk screen), each followed by a flush that is not timed. Under sustained overload an
// async queue either grows without bound or drops; neither is a latency figure.
void bench_async(const std::string& dir) {
  waymark_client_t* c = open_client(dir + "/async", WAYMARK_DURABILITY_ASYNC);
  waymark_event_t* e = sample_event();
  const int bursts = 400, burst = 500, n = bursts * burst;
  std::vector<double> lat;
  lat.reserve(n);
  const auto start = Clock::now();
  for (int b = 0; b < bursts; ++b) {
    for (int i = 0; i < burst; ++i) {
      const auto t = Clock::now();
      waymark_client_record(c, e);
      lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
    }
    waymark_client_flush(c, 60000);
  }
  const double total = seconds_since(start);
  std::sort(lat.begin(), lat.end());
  std::printf("BENCH async_record_p50 %.3f us\n", lat[n / 2]);
  std::printf("BENCH async_record_p99 %.3f us\n", lat[static_cast<size_t>(n * 0.99)]);
  std::printf("BENCH async_record_committed %.0f events/s\n", n / total);
  waymark_event_free(e);
  waymark_client_free(c);
}

// A row of the outbox: its sealed bytes and how many events they hold.
struct SealedRow {
  std::vector<uint8_t> sealed;
  int64_t events = 1;
};

// Raw SQLite floor in events/s: the same sealed rows, a transaction per `per_txn` events (or per row
// when a row holds more), synchronous=FULL, in pages of the outbox's size.
double sqlite_floor(const std::string& path, const std::vector<SealedRow>& rows, int64_t per_txn, int64_t page_size) {
  fs::remove(path);
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  const std::string setup = "PRAGMA page_size=" + std::to_string(page_size) +
                            "; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                            "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)";
  sqlite3_exec(db, setup.c_str(), nullptr, nullptr, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO t(id, v) VALUES(?1, ?2)", -1, &st, nullptr);
  const auto t = Clock::now();
  int64_t events = 0, in_txn = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (in_txn == 0) sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    sqlite3_bind_int64(st, 1, static_cast<int64_t>(i + 1));
    sqlite3_bind_blob(st, 2, rows[i].sealed.data(), static_cast<int>(rows[i].sealed.size()), SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
    events += rows[i].events;
    in_txn += rows[i].events;
    if (in_txn >= per_txn || i + 1 == rows.size()) {
      sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
      in_txn = 0;
    }
  }
  const double rate = static_cast<double>(events) / seconds_since(t);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rate;
}

// The outbox's sealed rows, and its page size in *page_size.
std::vector<SealedRow> sealed_rows(const std::string& db_path, int64_t* page_size) {
  sqlite3* db = nullptr;
  sqlite3_open(db_path.c_str(), &db);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, nullptr);
  *page_size = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 4096;
  sqlite3_finalize(st);
  sqlite3_prepare_v2(db, "SELECT sealed, events FROM outbox", -1, &st, nullptr);
  std::vector<SealedRow> out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(st, 0));
    out.push_back({{p, p + sqlite3_column_bytes(st, 0)}, sqlite3_column_int64(st, 1)});
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

// `threads` recorders in durable mode for `seconds`; each call records `batch` events (1: one
// waymark_client_record per event, more: waymark_client_record_batch, one commit per call).
void bench_durable(const std::string& dir, int threads, int batch, double seconds) {
  const std::string store = dir + "/durable" + std::to_string(threads) + "x" + std::to_string(batch);
  waymark_client_t* c = open_client(store, WAYMARK_DURABILITY_DURABLE);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> done{0};
  std::vector<std::thread> pool;
  const auto t = Clock::now();
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&] {
      waymark_event_t* e = sample_event();
      const std::vector<const waymark_event_t*> events(static_cast<size_t>(batch), e);
      while (!stop) {
        if (batch == 1) {
          done += waymark_client_record(c, e) == WAYMARK_OK;
        } else if (waymark_client_record_batch(c, events.data(), events.size(), nullptr) == WAYMARK_OK) {
          done += batch;
        }
      }
      waymark_event_free(e);
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  const double rate = static_cast<double>(done) / seconds_since(t);
  waymark_client_free(c);
  int64_t page_size = 0;
  const auto rows = sealed_rows(store + "/outbox.db", &page_size);
  const double batched = sqlite_floor(dir + "/floor.db", rows, 1000, page_size);
  std::string name = "durable_record_" + std::to_string(threads) + "threads";
  if (batch > 1) name = "durable_record_batch" + std::to_string(batch) + "_" + std::to_string(threads) + "threads";
  std::printf("BENCH %s %.0f events/s\n", name.c_str(), rate);
  std::printf("BENCH sqlite_batched_insert_floor %.0f events/s\n", batched);
  std::printf("RATIO %s %.3f vs sqlite_batched_insert_floor\n", name.c_str(), rate / batched);
  if (batch == 1) {
    // The physical floor for this commit pattern: one fsync'd transaction per `threads` rows.
    const double same_pattern = sqlite_floor(dir + "/floor.db", rows, threads, page_size);
    const std::string pattern = "sqlite_" + std::to_string(threads) + "rows_per_fsync_floor";
    std::printf("BENCH %s %.0f events/s\n", pattern.c_str(), same_pattern);
    std::printf("RATIO %s %.3f vs %s\n", name.c_str(), rate / same_pattern, pattern.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "bench-work";
  fs::create_directories(dir);
  if (sodium_init() < 0) return 1;
  bench_pseudonymize(dir);
  bench_async(dir);
  bench_durable(dir, 4, 1, 3.0);
  bench_durable(dir, 64, 1, 3.0);
  bench_durable(dir, 4, 100, 3.0);
  fs::remove_all(dir);
  return 0;
}
