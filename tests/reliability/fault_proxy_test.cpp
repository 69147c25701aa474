// The SDK uploading to the real collector through the fault proxy: whatever the network does to
// the bytes, every event arrives exactly once and nothing is dead-lettered.
#include <catch2/catch.hpp>

#include <random>

#include "reliability/fault_proxy.hpp"
#include "support/collector_fixture.hpp"

using namespace waymark::test;

TEST_CASE("a damaging network (delay, drop, reset, truncate, corrupt, 503/429): every event arrives once",
          "[reliability][sync]") {
  const std::string fault = GENERATE(as<std::string>(), "delay", "drop", "reset", "truncate", "corrupt", "answer", "");
  Collector collector;
  const uint32_t seed = std::random_device{}();
  CAPTURE(fault, seed);
  FaultProxy proxy(seed, 0.1, fault);
  proxy.set_upstream(collector.server->port());
  ClientConfig config = collector.client();
  config.collector_url = "http://127.0.0.1:" + std::to_string(proxy.port()) + "/v1/batches";
  config.batch_max_events = 10;
  config.flush_at_events = 10;
  config.io_timeout_ms = 1000;
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), config, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  // Rounds of 50 events until the proxy has hit the traffic at least 3 times.
  const auto fired = [&] {
    uint64_t n = 0;
    for (const auto& [what, count] : proxy.counts()) n += what == "connections" || what == "chunks" ? 0 : count;
    return n;
  };
  int recorded = 0;
  for (int round = 0; round < 40 && fired() < 3; ++round) {
    for (int i = 0; i < 50; ++i, ++recorded)
      REQUIRE(track(c, ("event-" + std::to_string(recorded)).c_str()) == WAYMARK_OK);
    REQUIRE(waymark_client_flush(c, 120000) == WAYMARK_OK);
  }
  CHECK(fired() >= 3);
  CHECK(client_stat(c, WAYMARK_STAT_DEAD_LETTERED) == 0);
  CHECK(client_stat(c, WAYMARK_STAT_QUEUED) == 0);
  waymark_client_free(c);
  CHECK(collector.events() == recorded + 1);
}

TEST_CASE("with the upstream gone, the proxy closes connections and the SDK keeps its rows", "[reliability][sync]") {
  FaultProxy proxy(1, 0);
  TempDir dir;
  Collector collector;
  ClientConfig config = collector.client();
  config.collector_url = "http://127.0.0.1:" + std::to_string(proxy.port()) + "/v1/batches";
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), config, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  for (int i = 0; i < 50; ++i) REQUIRE(track(c, "view") == WAYMARK_OK);
  CHECK(waymark_client_flush(c, 300) == WAYMARK_ERR_TIMEOUT);
  CHECK(client_stat(c, WAYMARK_STAT_QUEUED) == 51);
  CHECK(proxy.counts().at("upstream_down") >= 1);
  proxy.set_upstream(collector.server->port());  // the collector is back
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
  waymark_client_free(c);
  CHECK(collector.events() == 51);
}
