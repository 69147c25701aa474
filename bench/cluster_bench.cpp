// Scale-out (issue 21) on this machine, a fleet of devices with small batches (fleet_workload.hpp),
// private nats-servers (JetStream) on loopback:
//   cluster_ingest_r1, _r3         device -> ingest -> JetStream -> merger -> SQLite, end to end, with one
//                                  NATS node and with three (stream replicas 3), against the
//                                  single-process collector (role all) on the same batches;
//   ingest_node_verify_per_core    batches verified, sealed and published per CPU second of the ingest
//                                  node, against libsodium's open + verify of the same envelopes;
//   merger_commit_sqlite, _postgres  a merger draining a full stream into each store (PostgreSQL: a
//                                  private server on a Unix socket), then on PostgreSQL identity
//                                  resolution of what it stored and the tables' bytes per event.
// In-process: the node, the merger and the devices share this process, so the CPU figure is measured
// with no merger running.
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "cluster/merger.hpp"
#include "ingest/ingest.hpp"
#include "queue/jetstream.hpp"
#include "store/store.hpp"
#include "fleet_workload.hpp"
#include "collector_process.hpp"
#include "nats_process.hpp"

namespace fs = std::filesystem;
namespace wc = waymark::collector;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kDevices = 400, kSenders = 16;

double cpu_seconds() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  const auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(r.ru_utime) + s(r.ru_stime);
}

// Sends every device's batches (each device's in order) from kSenders threads; false on any refusal.
bool send_all(wc::Ingest& ingest, const std::vector<std::vector<std::vector<uint8_t>>>& fleet) {
  std::atomic<bool> ok{true};
  std::vector<std::thread> senders;
  for (int t = 0; t < kSenders; ++t) {
    senders.emplace_back([&, t] {
      for (size_t d = static_cast<size_t>(t); d < fleet.size(); d += kSenders) {
        for (const auto& batch : fleet[d]) {
          if (ingest.handle(batch.data(), batch.size(), 1'700'000'000'000).http_status != 200) ok = false;
        }
      }
    });
  }
  for (auto& s : senders) s.join();
  return ok;
}

std::unique_ptr<wc::Store> fresh_store(const std::string& path) {
  fs::remove(path);
  fs::remove(path + "-wal");
  auto s = wc::open_sqlite_store(path);
  if (!s.ok()) {
    std::fprintf(stderr, "cluster bench: %s\n", s.status().message.c_str());
    std::exit(1);
  }
  return std::move(s.value());
}

// Bytes of the regular files under `dir`.
uint64_t tree_bytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& f : fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied)) {
    std::error_code ec;
    if (f.is_regular_file(ec)) n += f.file_size(ec);
  }
  return n;
}

// Until the merger committed every batch (its own count: a count of the store's events is a full scan,
// which on PostgreSQL would compete with the commits it waits for).
bool wait_for(const wc::Merger& merger, size_t batches) {
  const auto deadline = Clock::now() + std::chrono::minutes(5);
  while (merger.committed() < batches) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

std::unique_ptr<wc::queue::JetStream> stream(const std::string& servers, const std::string& name, int replicas = 1) {
  wc::queue::StreamConfig c;
  c.servers = servers;
  c.stream = name;
  c.subject = "bench." + name;
  c.replicas = replicas;
  auto js = wc::queue::JetStream::connect(c);  // waits while a new cluster elects its leaders
  if (!js.ok()) {
    std::fprintf(stderr, "cluster bench: %s\n", js.status().message.c_str());
    std::exit(1);
  }
  return std::move(js.value());
}

using Fleet = std::vector<std::vector<std::vector<uint8_t>>>;

struct Setup {
  wc::CollectorKey key;
  uint8_t rekey[32];
  Fleet fleet;
  int64_t events = 0;
  size_t batches = 0;
};

// End to end through `js` into `store`: events/s from the first send to the last event stored.
double end_to_end(const Setup& s, wc::queue::JetStream& js, wc::Store& store) {
  wc::Metrics node_m, merger_m;
  wc::Ingest node(js, {s.key}, s.rekey, node_m);
  wc::Ingest decide(store, {s.key}, s.rekey, merger_m);
  wc::Merger merger(js, decide, merger_m);
  if (!merger.start().ok()) std::exit(1);
  const auto t = Clock::now();
  if (!send_all(node, s.fleet) || !wait_for(merger, s.batches)) std::exit(1);
  return static_cast<double>(s.events) / std::chrono::duration<double>(Clock::now() - t).count();
}

// A merger (consumer `durable`) draining the full stream into `store`: events/s from its first commit
// (before it, the start-up wait of decision 0011) to its last.
double drain(const Setup& s, wc::queue::JetStream& js, wc::Store& store, const std::string& durable) {
  wc::Metrics m;
  wc::Ingest decide(store, {s.key}, s.rekey, m);
  wc::MergerOptions options;
  options.durable = durable;
  wc::Merger merger(js, decide, m, options);
  if (!merger.start().ok() || !wait_for(merger, 1)) std::exit(1);
  const auto t = Clock::now();
  const size_t first = merger.committed();
  if (!wait_for(merger, s.batches)) std::exit(1);
  const double secs = std::chrono::duration<double>(Clock::now() - t).count();
  return static_cast<double>((s.batches - first) * bench::kEventsPerBatch) / secs;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "bench-work";
  fs::create_directories(dir);
  if (sodium_init() < 0) return 1;
  Setup s;
  s.key.key_id = 1;
  std::array<uint8_t, 32> collector_pk{};
  crypto_sign_keypair(collector_pk.data(), s.key.secret.data());
  randombytes_buf(s.rekey, sizeof s.rekey);
  uint64_t ids = 0;
  for (int d = 0; d < kDevices; ++d) s.fleet.push_back(bench::device_batches(collector_pk, d, &ids));
  s.batches = static_cast<size_t>(kDevices) * bench::kBatchesPerDevice;
  s.events = static_cast<int64_t>(s.batches) * bench::kEventsPerBatch;
  fs::remove_all(dir + "/nats");  // no stream or consumer left from an earlier run
  demo::NatsServer nats(dir + "/nats");

  // 1. The single process (role all).
  double single_rate = 0;
  {
    auto store = fresh_store(dir + "/cluster-single.db");
    wc::Metrics m;
    wc::Ingest ingest(*store, {s.key}, s.rekey, m);
    const auto t = Clock::now();
    if (!send_all(ingest, s.fleet)) return 1;
    single_rate = static_cast<double>(s.events) / std::chrono::duration<double>(Clock::now() - t).count();
  }
  // 2. End to end: ingest node, JetStream (one node; then three, replicas 3), merger, store.
  const double r1_rate = end_to_end(s, *stream(nats.url(), "E2E"), *fresh_store(dir + "/cluster-e2e.db"));
  double r3_rate = 0;
  {
    fs::remove_all(dir + "/nats3");
    demo::NatsCluster three(dir + "/nats3");
    r3_rate = end_to_end(s, *stream(three.urls(), "E2E3", 3), *fresh_store(dir + "/cluster-e2e3.db"));
  }
  // 3. The ingest node alone (CPU per event), then mergers draining what it queued, into each store.
  double node_rate = 0, sqlite_rate = 0, postgres_rate = 0, resolve_rate = 0, bytes_per_event = 0;
  {
    auto js = stream(nats.url(), "SPLIT");
    wc::Metrics node_m;
    wc::Ingest node(*js, {s.key}, s.rekey, node_m);
    const double cpu = cpu_seconds();
    if (!send_all(node, s.fleet)) return 1;
    node_rate = static_cast<double>(s.events) / (cpu_seconds() - cpu);
    sqlite_rate = drain(s, *js, *fresh_store(dir + "/cluster-merger.db"), "merger-sqlite");
    char tmpl[] = "/tmp/waymark-cluster-bench-pg-XXXXXX";  // the postgres user must reach it
    demo::PrivatePostgres pg(mkdtemp(tmpl));
    auto store = wc::open_postgres_store(pg.uri());
    if (!store.ok()) return 1;
    const std::string tables = pg.dir() + "/data/base";  // the databases' files, without the WAL
    const uint64_t empty = tree_bytes(tables);
    postgres_rate = drain(s, *js, *store.value(), "merger-postgres");
    const auto t = Clock::now();
    if (!store.value()->resolve_pending(INT64_MAX).ok()) return 1;
    resolve_rate = static_cast<double>(s.events) / std::chrono::duration<double>(Clock::now() - t).count();
    bytes_per_event = static_cast<double>(tree_bytes(tables) - empty) / static_cast<double>(s.events);
  }
  // Floor: libsodium's open + verify of the same envelopes, per CPU second.
  auto opener = waymark::detail::EnvelopeOpener::create(s.key.secret.data());
  const double cpu = cpu_seconds();
  for (const auto& device : s.fleet) {
    for (const auto& batch : device) {
      if (!opener->open(batch.data(), batch.size()).ok()) return 1;
    }
  }
  const double floor_rate = static_cast<double>(s.events) / (cpu_seconds() - cpu);

  std::printf("BENCH cluster_ingest_r1 %.0f events/s\n", r1_rate);
  std::printf("BENCH cluster_ingest_r3 %.0f events/s\n", r3_rate);
  std::printf("BENCH collector_single_process_fleet %.0f events/s\n", single_rate);
  std::printf("RATIO cluster_ingest_r1 %.3f vs collector_single_process_fleet\n", r1_rate / single_rate);
  std::printf("RATIO cluster_ingest_r3 %.3f vs collector_single_process_fleet\n", r3_rate / single_rate);
  std::printf("BENCH ingest_node_verify_per_core %.0f events/cpu-s\n", node_rate);
  std::printf("BENCH envelope_open_verify_floor %.0f events/cpu-s\n", floor_rate);
  std::printf("RATIO ingest_node_verify_per_core %.3f vs envelope_open_verify_floor\n", node_rate / floor_rate);
  std::printf("BENCH merger_commit_sqlite %.0f events/s\n", sqlite_rate);
  std::printf("BENCH merger_commit_postgres %.0f events/s\n", postgres_rate);
  // Same queue, same batches: what PostgreSQL's round trips cost against the embedded store.
  std::printf("RATIO merger_commit_postgres %.3f vs merger_commit_sqlite\n", postgres_rate / sqlite_rate);
  std::printf("BENCH identity_resolve_postgres_fleet %.0f events/s\n", resolve_rate);
  std::printf("BENCH postgres_bytes_per_event %.0f bytes\n", bytes_per_event);
  return 0;
}
