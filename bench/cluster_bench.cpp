// Scale-out (issue 21) on this machine, a fleet of devices with small batches (fleet_workload.hpp), a
// private nats-server (JetStream, one replica) on loopback, the merger's store on SQLite:
//   cluster_ingest                 device -> ingest -> JetStream -> merger -> store, end to end, against
//                                  the single-process collector (role all) on the same batches;
//   ingest_node_verify_per_core    batches verified, sealed and published per CPU second of the ingest
//                                  node, against libsodium's open + verify of the same envelopes;
//   merger_commit                  a merger draining a full stream.
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

bool wait_for(wc::Store& store, int64_t events) {
  const auto deadline = Clock::now() + std::chrono::minutes(5);
  for (;;) {
    auto n = store.event_count();
    if (n.ok() && n.value() >= events) return true;
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::unique_ptr<wc::queue::JetStream> stream(const demo::NatsServer& nats, const std::string& name) {
  wc::queue::StreamConfig c;
  c.servers = nats.url();
  c.stream = name;
  c.subject = "bench." + name;
  auto js = wc::queue::JetStream::connect(c);
  if (!js.ok()) {
    std::fprintf(stderr, "cluster bench: %s\n", js.status().message.c_str());
    std::exit(1);
  }
  return std::move(js.value());
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "bench-work";
  fs::create_directories(dir);
  if (sodium_init() < 0) return 1;
  wc::CollectorKey key;
  key.key_id = 1;
  std::array<uint8_t, 32> collector_pk{};
  crypto_sign_keypair(collector_pk.data(), key.secret.data());
  uint8_t rekey[32];
  randombytes_buf(rekey, sizeof rekey);
  uint64_t ids = 0;
  std::vector<std::vector<std::vector<uint8_t>>> fleet;
  for (int d = 0; d < kDevices; ++d) fleet.push_back(bench::device_batches(collector_pk, d, &ids));
  const int64_t events = static_cast<int64_t>(kDevices) * bench::kBatchesPerDevice * bench::kEventsPerBatch;
  demo::NatsServer nats(dir + "/nats");

  // 1. The single process (role all).
  double single_rate = 0;
  {
    auto store = fresh_store(dir + "/cluster-single.db");
    wc::Metrics m;
    wc::Ingest ingest(*store, {key}, rekey, m);
    const auto t = Clock::now();
    if (!send_all(ingest, fleet)) return 1;
    single_rate = static_cast<double>(events) / std::chrono::duration<double>(Clock::now() - t).count();
  }
  // 2. End to end: ingest node, JetStream, merger, store.
  double cluster_rate = 0;
  {
    auto js = stream(nats, "E2E");
    auto store = fresh_store(dir + "/cluster-e2e.db");
    wc::Metrics node_m, merger_m;
    wc::Ingest node(*js, {key}, rekey, node_m);
    wc::Ingest decide(*store, {key}, rekey, merger_m);
    wc::Merger merger(*js, decide, merger_m);
    if (!merger.start().ok()) return 1;
    const auto t = Clock::now();
    if (!send_all(node, fleet) || !wait_for(*store, events)) return 1;
    cluster_rate = static_cast<double>(events) / std::chrono::duration<double>(Clock::now() - t).count();
  }
  // 3. The ingest node alone (CPU per event), then a merger draining what it queued.
  double node_rate = 0, merger_rate = 0;
  {
    auto js = stream(nats, "SPLIT");
    wc::Metrics node_m, merger_m;
    wc::Ingest node(*js, {key}, rekey, node_m);
    const double cpu = cpu_seconds();
    if (!send_all(node, fleet)) return 1;
    node_rate = static_cast<double>(events) / (cpu_seconds() - cpu);
    auto store = fresh_store(dir + "/cluster-merger.db");
    wc::Ingest decide(*store, {key}, rekey, merger_m);
    wc::Merger merger(*js, decide, merger_m);
    const auto t = Clock::now();
    if (!merger.start().ok() || !wait_for(*store, events)) return 1;
    merger_rate = static_cast<double>(events) / std::chrono::duration<double>(Clock::now() - t).count();
  }
  // Floor: libsodium's open + verify of the same envelopes, per CPU second.
  auto opener = waymark::detail::EnvelopeOpener::create(key.secret.data());
  const double cpu = cpu_seconds();
  for (const auto& device : fleet) {
    for (const auto& batch : device) {
      if (!opener->open(batch.data(), batch.size()).ok()) return 1;
    }
  }
  const double floor_rate = static_cast<double>(events) / (cpu_seconds() - cpu);

  std::printf("BENCH cluster_ingest_r1 %.0f events/s\n", cluster_rate);
  std::printf("BENCH collector_single_process_fleet %.0f events/s\n", single_rate);
  std::printf("RATIO cluster_ingest_r1 %.3f vs collector_single_process_fleet\n", cluster_rate / single_rate);
  std::printf("BENCH ingest_node_verify_per_core %.0f events/cpu-s\n", node_rate);
  std::printf("BENCH envelope_open_verify_floor %.0f events/cpu-s\n", floor_rate);
  std::printf("RATIO ingest_node_verify_per_core %.3f vs envelope_open_verify_floor\n", node_rate / floor_rate);
  std::printf("BENCH merger_commit_sqlite %.0f events/s\n", merger_rate);
  return 0;
}
