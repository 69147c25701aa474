// The scale-out fault matrix, short version (issue 21; the long one is `make soak-cluster`, not built
// yet): SDK devices upload through two ingest processes while, one after another, an ingest node is
// killed with -9 and started again, the active merger is killed with -9 (its standby takes over), the
// NATS server is stopped and started again, and PostgreSQL is restarted. Afterwards every event the
// devices recorded is in PostgreSQL exactly once.
// One NATS node here, stopped with SIGTERM: JetStream acknowledges a publish before its file store is
// synced, so surviving kill -9 of a NATS node takes replicas on other nodes (queue-replicas = 3).
#include <utility>  // before Asio

#include <catch2/catch.hpp>

#include <libpq-fe.h>

#include <boost/asio.hpp>

#include <unistd.h>

#include <csignal>
#include <future>
#include <regex>
#include <thread>

#include "collector_process.hpp"
#include "support/http_client.hpp"
#include "nats_process.hpp"
#include "support/test_support.hpp"

using namespace waymark::test;
using demo::free_port;
using demo::NatsCluster;
using demo::NatsServer;

namespace {

int64_t stored(const std::string& uri) {
  PGconn* c = PQconnectdb(uri.c_str());
  PGresult* r = PQexec(c, "SELECT count(*), count(DISTINCT event_id) FROM events");
  int64_t n = -1;
  if (PQresultStatus(r) == PGRES_TUPLES_OK && std::string(PQgetvalue(r, 0, 0)) == PQgetvalue(r, 0, 1)) {
    n = std::stoll(PQgetvalue(r, 0, 0));
  }
  PQclear(r);
  PQfinish(c);
  return n;
}

int64_t metric(int port, const std::string& name) {
  const std::string body = request(static_cast<uint16_t>(port), http::verb::get, "/metrics").body;
  std::smatch m;
  return std::regex_search(body, m, std::regex("\n" + name + " ([0-9]+)\n")) ? std::stoll(m[1]) : 0;
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST_CASE(
    "fault matrix (short): ingest node and merger killed, NATS and PostgreSQL restarted while devices "
    "upload, every event stored exactly once",
    "[collector][jetstream]") {
  TempDir dir, nats_dir;
  // In /tmp itself: the postgres user must reach it (a TempDir is 0700).
  demo::PrivatePostgres pg("/tmp/waymark-fault-matrix-pg-" + std::to_string(getpid()));
  NatsServer nats(nats_dir.path());
  const std::string bin = WAYMARK_COLLECTOR_BIN;
  const auto key = demo::CollectorProcess::generate_keys(bin, dir.path());
  const std::vector<std::string> cluster = {"--data-dir",           dir.path(), "--nats",  nats.url(),
                                            "--merger-ack-wait-ms", "1000",     "--store", pg.uri()};
  const std::vector<std::string> ingest_args = {"serve",    "--role", "ingest",  "--data-dir",
                                                dir.path(), "--nats", nats.url()};
  const std::array<int, 2> ports = {free_port(), free_port()};
  const auto ingest = [&](int i) {
    return std::make_unique<demo::CollectorProcess>(bin, with(ingest_args, {"--port", std::to_string(ports[i])}),
                                                    dir.path() + "/ingest" + std::to_string(i) + ".log");
  };
  std::array<std::unique_ptr<demo::CollectorProcess>, 2> nodes = {ingest(0), ingest(1)};
  auto active = std::make_unique<demo::CollectorProcess>(
      bin, with({"serve", "--role", "merger", "--port", "0"}, cluster), dir.path() + "/merger1.log");
  // The query node, with the queue's address: it watches the merger's lag.
  auto query = std::make_unique<demo::CollectorProcess>(
      bin,
      std::vector<std::string>{"serve", "--role", "query", "--port", "0", "--data-dir", dir.path(), "--store", pg.uri(),
                               "--nats", nats.url()},
      dir.path() + "/query.log");
  auto standby = std::async(std::launch::async, [&] {
    return std::make_unique<demo::CollectorProcess>(bin, with({"serve", "--role", "merger", "--port", "0"}, cluster),
                                                    dir.path() + "/merger2.log");
  });

  constexpr int kDevices = 4, kEvents = 600;
  std::atomic<int64_t> uploaded{0};
  std::vector<TempDir> stores(kDevices);
  std::vector<std::thread> devices;
  for (int d = 0; d < kDevices; ++d) {
    devices.emplace_back([&, d] {
      ClientConfig config;
      config.collector_url = "http://127.0.0.1:" + std::to_string(ports[d % 2]) + "/v1/batches";
      config.collector_keys = {{1, key}};
      config.batch_max_events = 20;
      waymark_client_t* c = nullptr;
      REQUIRE(open_client(stores[d].store(), config, &c) == WAYMARK_OK);
      REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
      for (int e = 0; e < kEvents; ++e) {
        REQUIRE(track(c, "view") == WAYMARK_OK);
        if (e % 20 == 19) std::this_thread::sleep_for(std::chrono::milliseconds(120));  // ~3.6 s of traffic
      }
      CHECK(waymark_client_flush(c, 60000) == WAYMARK_OK);
      uploaded += client_stat(c, WAYMARK_STAT_UPLOADED);
      CHECK(client_stat(c, WAYMARK_STAT_DEAD_LETTERED) == 0);
      waymark_client_free(c);
    });
  }
  const auto pause = [] { std::this_thread::sleep_for(std::chrono::milliseconds(400)); };
  pause();
  CHECK(nodes[0]->stop(SIGKILL) == 128 + SIGKILL);  // its devices' uploads fail and are retried
  pause();
  nodes[0] = ingest(0);
  pause();
  CHECK(active->stop(SIGKILL) == 128 + SIGKILL);
  const auto next = standby.get();
  pause();
  nats.stop();  // ingest answers 503, the merger waits; down until the outage has met devices' traffic
  const auto refused = [&] {
    return metric(ports[0], "waymark_queue_publish_failures_total") +
           metric(ports[1], "waymark_queue_publish_failures_total");
  };
  const auto outage_end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (refused() == 0 && std::chrono::steady_clock::now() < outage_end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const int64_t refused_while_down = refused();
  nats.start();
  pause();
  pg.restart();  // the merger's connections are cut: it reconnects and commits in order
  for (auto& t : devices) t.join();

  const int64_t expected = kDevices * (1 + kEvents);
  CHECK(uploaded == expected);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (stored(pg.uri()) != expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(stored(pg.uri()) == expected);
  const auto query_health = [&] { return request(query->port(), http::verb::get, "/healthz").body; };
  const auto health_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (query_health() != "ok (queue lag: 0 batches)\n" && std::chrono::steady_clock::now() < health_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(query_health() == "ok (queue lag: 0 batches)\n");  // through the NATS restart too
  CHECK(metric(query->port(), "waymark_queue_lag_messages") == 0);
  CHECK(query->stop() == 0);
  CHECK(refused_while_down > 0);  // the NATS outage met devices' traffic
  CHECK(next->stop() == 0);
  for (auto& n : nodes) CHECK(n->stop() == 0);
}
