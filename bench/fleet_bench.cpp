// A fleet against a real `waymark-collector` process (issue 18): 1,000 devices, each with its own keys
// and customer slot, post batches of 20 events over their own keep-alive connection, one batch in
// flight each, as real devices do. The collector runs on one core (taskset), the fleet on the other.
// Floor, same run, same core: the same envelopes opened and verified, and their rows inserted by one
// SQLite transaction per 1,000 events with the store's own pages, cache and checkpoints.
#include <utility>  // before Asio

#include <sched.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <sodium.h>
#include <sqlite3.h>

#include "collector_process.hpp"
#include "common/consent/ledger.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "waymark/wire/v1/batch_generated.h"
#include "common/wire/envelope.hpp"
#include "fleet_workload.hpp"
#include "common/wire/event_codec.hpp"

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace waymark::detail;

namespace {

constexpr int kDevices = 1000;
using bench::device_batches;
using bench::kBatchesPerDevice;
using bench::kEventsPerBatch;

// One device's connection: posts its batches one after another, each after the previous receipt.
class Device : public std::enable_shared_from_this<Device> {
 public:
  Device(asio::io_context& ioc, const std::vector<std::vector<uint8_t>>& batches, int* ok, int* failed)
      : stream_(ioc), batches_(batches), ok_(ok), failed_(failed) {}

  void start(const tcp::endpoint& ep) {
    stream_.async_connect(ep, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->fail();
      self->post_next();
    });
  }

 private:
  void post_next() {
    if (next_ == batches_.size()) return;
    req_ = {http::verb::post, "/v1/batches", 11};
    req_.set(http::field::host, "127.0.0.1");
    req_.set(http::field::content_type, "application/vnd.waymark.envelope");
    req_.keep_alive(true);
    req_.body().assign(batches_[next_].begin(), batches_[next_].end());
    req_.prepare_payload();
    http::async_write(stream_, req_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->fail();
      self->res_ = {};
      http::async_read(self->stream_, self->buffer_, self->res_, [self](beast::error_code rec, size_t) {
        if (rec || self->res_.result_int() != 200) return self->fail();
        ++*self->ok_;
        ++self->next_;
        self->post_next();
      });
    });
  }
  void fail() { *failed_ += static_cast<int>(batches_.size() - next_); }

  beast::tcp_stream stream_;
  const std::vector<std::vector<uint8_t>>& batches_;
  size_t next_ = 0;
  int* ok_;
  int* failed_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
  beast::flat_buffer buffer_;
};

void pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof set, &set);
}

double floor_rate(const std::vector<std::vector<std::vector<uint8_t>>>& fleet, const uint8_t* collector_sk,
                  const std::string& path) {
  fs::remove(path);
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, waymark::collector::kStoragePragmas, nullptr, nullptr, nullptr);
  sqlite3_exec(db, "CREATE TABLE events(event_id BLOB PRIMARY KEY, payload BLOB) WITHOUT ROWID", nullptr, nullptr,
               nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO events VALUES(?1, ?2)", -1, &st, nullptr);
  auto opener = EnvelopeOpener::create(collector_sk);  // as the collector opens them
  const auto t = Clock::now();
  size_t n = 0;
  sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
  for (int b = 0; b < kBatchesPerDevice; ++b) {  // in the order the fleet sends them
    for (const auto& device : fleet) {
      const auto& env = device[static_cast<size_t>(b)];
      auto opened = opener->open(env.data(), env.size());
      for (const auto* blob : *waymark::wire::v1::GetBatch(opened->batch.data())->events()) {
        sqlite3_bind_blob(st, 1, blob->bytes_nested_root()->id()->data(), 16, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, blob->bytes()->data(), static_cast<int>(blob->bytes()->size()), SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
        if (++n % 1000 == 0) sqlite3_exec(db, "COMMIT; BEGIN", nullptr, nullptr, nullptr);
      }
    }
  }
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  const double rate = static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - t).count();
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rate;
}

// A counter or gauge of the collector's /metrics, or -1.
int64_t metric(uint16_t port, const std::string& name) {
  asio::io_context ioc;
  beast::tcp_stream s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{http::verb::get, "/metrics", 11};
  http::write(s, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  std::smatch m;
  const std::string body = res.body();
  return std::regex_search(body, m, std::regex("\n" + name + " ([0-9]+)\n")) ? std::stoll(m[1]) : -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || sodium_init() < 0) {
    std::fprintf(stderr, "usage: waymark_fleet_bench <work dir> <waymark-collector>\n");
    return 2;
  }
  const std::string dir = std::string(argv[1]) + "/fleet", collector = argv[2];
  fs::remove_all(dir);
  fs::create_directories(dir);
  rlimit fds{};  // a connection per device, on both ends
  getrlimit(RLIMIT_NOFILE, &fds);
  fds.rlim_cur = fds.rlim_max;
  setrlimit(RLIMIT_NOFILE, &fds);

  const auto collector_pk = demo::CollectorProcess::generate_keys(collector, dir);
  std::vector<std::vector<std::vector<uint8_t>>> fleet;
  uint64_t ids = 0;
  for (int d = 0; d < kDevices; ++d) fleet.push_back(device_batches(collector_pk, d, &ids));
  const double total_events = static_cast<double>(ids);

  double rate = 0, resolved_after = 0;
  {
    demo::CollectorProcess server("/usr/bin/taskset", {"-c", "0", collector, "serve", "--data-dir", dir, "--port", "0"},
                                  dir + "/collector.log");
    pin_to_cpu(1);
    asio::io_context ioc;
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), server.port());
    int ok = 0, failed = 0;
    for (const auto& batches : fleet) std::make_shared<Device>(ioc, batches, &ok, &failed)->start(ep);
    const auto t = Clock::now();
    ioc.run();
    const double secs = std::chrono::duration<double>(Clock::now() - t).count();
    const int64_t stored = metric(server.port(), "waymark_events_accepted_total");
    if (failed != 0 || stored != static_cast<int64_t>(ids)) {
      std::fprintf(stderr, "fleet bench: %d batches failed, %lld of %.0f events accepted\n", failed,
                   static_cast<long long>(stored), total_events);
      return 1;
    }
    rate = total_events / secs;
    // Identity resolution yields to a burst of ingest: how long it takes to catch up afterwards.
    const auto burst_end = Clock::now();
    while (metric(server.port(), "waymark_identity_pending_events") != 0 &&
           Clock::now() - burst_end < std::chrono::minutes(2)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    resolved_after = std::chrono::duration<double>(Clock::now() - burst_end).count();
    server.stop();
  }
  pin_to_cpu(0);
  uint8_t collector_sk[64];
  std::ifstream(dir + "/keys/collector_key_1", std::ios::binary).read(reinterpret_cast<char*>(collector_sk), 64);
  const double floor = floor_rate(fleet, collector_sk, dir + "/floor.db");
  std::printf("BENCH collector_fleet_ingest %.0f events/s\n", rate);
  std::printf("BENCH collector_fleet_resolution_catch_up %.1f s\n", resolved_after);
  std::printf("BENCH fleet_open_verify_sqlite_insert_floor %.0f events/s\n", floor);
  std::printf("RATIO collector_fleet_ingest %.3f vs fleet_open_verify_sqlite_insert_floor\n", rate / floor);
  fs::remove_all(dir);
  return 0;
}
