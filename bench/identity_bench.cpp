// Identity resolution and profile lookups on the SQLite store: 1M events of 300k customers (phones
// browsing anonymously, logging in, second devices), then lookups at 1M profiles. The floor is
// plain SQLite doing the same number of indexed node lookups and inserts in one transaction, with the
// same pages and page cache as the store (kStoragePragmas).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <sys/resource.h>

#include <sodium.h>
#include <sqlite3.h>

#include "store/sqlite/sqlite_store.hpp"
#include "store/store.hpp"
#include "identity_workload.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
namespace wc = waymark::collector;
using bench::key;
using bench::load;
using bench::Spec;
using bench::traffic;

namespace {

// Same-run floor: a plain table of 32-byte keys, one indexed lookup-or-insert per identifier.
double floor_seconds(const std::string& path, const std::vector<Spec>& specs) {
  fs::remove(path);
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, wc::kStoragePragmas, nullptr, nullptr, nullptr);  // the store's own pages and cache
  sqlite3_exec(db, "CREATE TABLE n(id INTEGER PRIMARY KEY, key BLOB UNIQUE)", nullptr, nullptr, nullptr);
  sqlite3_stmt *find = nullptr, *add = nullptr;
  sqlite3_prepare_v2(db, "SELECT id FROM n WHERE key = ?1", -1, &find, nullptr);
  sqlite3_prepare_v2(db, "INSERT INTO n(key) VALUES(?1)", -1, &add, nullptr);
  const auto t = Clock::now();
  sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
  for (const Spec& s : specs) {
    for (uint8_t what : {uint8_t{0}, uint8_t{2}, uint8_t{4}}) {
      const wc::Key32 k = key(s.customer, what);
      sqlite3_bind_blob(find, 1, k.data(), 32, SQLITE_STATIC);
      if (sqlite3_step(find) != SQLITE_ROW) {
        sqlite3_bind_blob(add, 1, k.data(), 32, SQLITE_STATIC);
        sqlite3_step(add);
        sqlite3_reset(add);
      }
      sqlite3_reset(find);
    }
  }
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  const double secs = std::chrono::duration<double>(Clock::now() - t).count();
  sqlite3_finalize(find);
  sqlite3_finalize(add);
  sqlite3_close(db);
  return secs;
}

double cpu_seconds() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  const auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(r.ru_utime) + s(r.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "bench-work";
  const uint64_t events = argc > 2 ? std::stoull(argv[2]) : 1'000'000;
  fs::create_directories(dir);
  if (sodium_init() < 0) return 1;
  std::mt19937_64 rng(7);

  // 1. Resolution: 1M events, 300k customers.
  const uint64_t customers = events * 3 / 10;
  const auto specs = traffic(customers, events, rng);
  fs::remove(dir + "/identity-bench.db");
  auto store = wc::open_sqlite_store(dir + "/identity-bench.db");
  if (!store.ok()) return 1;
  load(*store.value(), specs);
  const double cpu_before = cpu_seconds();
  auto t = Clock::now();
  auto resolved = store.value()->resolve_pending(INT64_MAX);
  const double secs = std::chrono::duration<double>(Clock::now() - t).count();
  const double cpu = cpu_seconds() - cpu_before;
  auto page = store.value()->profiles("", 1);
  if (!resolved.ok() || resolved.value() != static_cast<int64_t>(events) || !page.ok()) {
    std::fprintf(stderr, "identity bench: resolution failed\n");
    return 1;
  }
  // Every customer must end as exactly one profile (device, email, second device and slots).
  int64_t wrong = 0;
  for (uint64_t c = 0; c < customers; c += 997) {
    const auto a = key(c, 0), b = key(c, 4);
    auto pa = store.value()->profile_of(a.data(), a.size());
    auto pb = store.value()->profile_of(b.data(), b.size());
    if (!pa.ok() || !pb.ok() || !pa.value() || pa.value() != pb.value()) ++wrong;
  }
  const double floor = floor_seconds(dir + "/identity-floor.db", specs);
  std::printf("BENCH identity_resolve_%llu_events_%llu_customers %.2f s\n", static_cast<unsigned long long>(events),
              static_cast<unsigned long long>(customers), secs);
  std::printf("BENCH identity_resolve_rate %.0f events/s\n", static_cast<double>(events) / secs);
  // This process's CPU time (user + system) during resolution: on a shared VM the wall time also
  // counts time stolen by neighbours and slow fsyncs; this shows the work itself.
  std::printf("BENCH identity_resolve_cpu %.2f s\n", cpu);
  std::printf("BENCH identity_wrongly_split_customers_sampled %lld count\n", static_cast<long long>(wrong));
  std::printf("BENCH sqlite_node_lookup_insert_floor %.2f s\n", floor);
  std::printf("RATIO identity_resolve %.3f vs sqlite_node_lookup_insert_floor\n", floor / secs);
  store.value().reset();

  // 2. Lookups at 1M profiles: 1M customers, one login event each.
  std::vector<Spec> one;
  for (uint64_t c = 0; c < events; ++c) one.push_back({c + 10'000'000, 1});
  fs::remove(dir + "/lookup-bench.db");
  auto lookups = wc::open_sqlite_store(dir + "/lookup-bench.db");
  if (!lookups.ok()) return 1;
  load(*lookups.value(), one);
  if (!lookups.value()->resolve_pending(INT64_MAX).ok()) return 1;
  std::vector<double> by_key, by_id;
  std::uniform_int_distribution<uint64_t> pick(0, events - 1);
  for (int i = 0; i < 20000; ++i) {
    const auto k = key(pick(rng) + 10'000'000, 4);
    t = Clock::now();
    auto p = lookups.value()->profile_of(k.data(), k.size());
    by_key.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
    if (!p.ok() || !p.value()) return 1;
    t = Clock::now();
    auto full = lookups.value()->profile(*p.value());
    by_id.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
    if (!full.ok() || !full.value()) return 1;
  }
  for (auto* v : {&by_key, &by_id}) std::sort(v->begin(), v->end());
  const auto p99 = [](const std::vector<double>& v) { return v[v.size() * 99 / 100]; };
  std::printf("BENCH profile_lookup_by_pseudonym_p99_at_%lluk_profiles %.3f ms\n",
              static_cast<unsigned long long>(events / 1000), p99(by_key));
  std::printf("BENCH profile_read_p99_at_%lluk_profiles %.3f ms\n", static_cast<unsigned long long>(events / 1000),
              p99(by_id));
  lookups.value().reset();
  fs::remove_all(dir);
  return 0;
}
