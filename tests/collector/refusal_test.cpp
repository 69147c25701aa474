// Faults are loud (issue 18, finding 4): a POS with a wrong collector key id printed `ok` and
// `synced` with uploaded=0; the collector refused every batch with 403, logged nothing and counted 0.
#include <catch2/catch.hpp>

#include <mutex>
#include <set>
#include <sstream>

#include "support/collector_fixture.hpp"
#include "support/http_client.hpp"
#include "support/test_support.hpp"

using namespace waymark::test;

namespace {

struct CapturedLog {
  std::mutex mu;
  std::vector<std::string> lines;
  void attach(waymark::collector::Metrics& m) {
    m.set_log([this](const char* level, const std::string& msg) {
      std::lock_guard lock(mu);
      lines.push_back(std::string(level) + ": " + msg);
    });
  }
  size_t count(const std::string& needle) {
    std::lock_guard lock(mu);
    return static_cast<size_t>(
        std::count_if(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(needle) != l.npos; }));
  }
};

}  // namespace

TEST_CASE("a wrong collector key id: flush says REJECTED, the stats and the reason say why",
          "[collector][sync][store]") {
  Collector collector;
  CapturedLog log;
  log.attach(collector.metrics);
  ClientConfig config = collector.client();
  config.collector_keys[0].first = collector.key.key_id + 1;  // the POS's misconfiguration
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), config, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  for (int i = 0; i < 3; ++i) REQUIRE(track(c, "sale") == WAYMARK_OK);

  CHECK(waymark_client_flush(c, 20000) == WAYMARK_ERR_REJECTED);
  CHECK(std::string(waymark_last_error_message()).find("unknown_key_id") != std::string::npos);
  CHECK(client_stat(c, WAYMARK_STAT_UPLOADED) == 0);
  // Each batch (the consent record may have left in one of its own) was refused four times, then
  // dead-lettered.
  const int64_t rejected = client_stat(c, WAYMARK_STAT_REJECTED);
  CHECK((rejected == 4 || rejected == 8));
  CHECK(client_stat(c, WAYMARK_STAT_DEAD_LETTERED) == 4);
  int32_t http_status = 0;
  char reason[8];
  size_t reason_len = 0;
  REQUIRE(waymark_client_last_rejection(c, &http_status, reason, sizeof reason, &reason_len) == WAYMARK_OK);
  CHECK(http_status == 403);
  REQUIRE(reason_len == 14);
  CHECK(std::string(reason, sizeof reason) == "unknown_");  // cut to the capacity given
  char full[64];
  REQUIRE(waymark_client_last_rejection(c, &http_status, full, sizeof full, &reason_len) == WAYMARK_OK);
  CHECK(std::string(full, reason_len) == "unknown_key_id");
  CHECK(waymark_client_last_rejection(c, nullptr, full, sizeof full, &reason_len) == WAYMARK_ERR_INVALID_ARGUMENT);

  // A later flush with nothing left to deliver is OK again; the counters persist across a reopen.
  CHECK(waymark_client_flush(c, 5000) == WAYMARK_OK);
  waymark_client_free(c);
  REQUIRE(open_client(dir.store(), {}, &c) == WAYMARK_OK);
  CHECK(client_stat(c, WAYMARK_STAT_REJECTED) == rejected);
  REQUIRE(waymark_client_last_rejection(c, &http_status, full, sizeof full, &reason_len) == WAYMARK_OK);
  CHECK(http_status == 0);  // no collector configured: nothing refused since open
  CHECK(reason_len == 0);
  waymark_client_free(c);

  // The collector counted every refusal under its reason and logged it once (rate-limited).
  const std::string metrics = request(collector.server->port(), http::verb::get, "/metrics").body;
  const std::string n = std::to_string(rejected);
  CHECK(metrics.find("waymark_rejected_total{reason=\"unknown_key_id\"} " + n + "\n") != std::string::npos);
  CHECK(metrics.find("waymark_batches_rejected_total " + n + "\n") != std::string::npos);
  CHECK(log.count("refused a batch: unknown_key_id") == 1);
}

TEST_CASE("refusals are logged per reason at most once per interval, with the count since the last line",
          "[collector]") {
  waymark::collector::Metrics metrics;
  CapturedLog log;
  log.attach(metrics);
  for (int i = 0; i < 50; ++i) metrics.refused_batch("bad_signature");
  metrics.refused_batch("unsealable");
  CHECK(log.count("bad_signature") == 1);
  CHECK(log.count("unsealable (1 refused") == 1);
  CHECK(metrics.prometheus().find("waymark_rejected_total{reason=\"bad_signature\"} 50") != std::string::npos);
}

TEST_CASE("metrics: every family has HELP and TYPE and is there at zero from the start", "[collector][store]") {
  Collector collector;
  REQUIRE(request(collector.server->port(), http::verb::get, "/healthz").status == 200);
  REQUIRE(api_get(collector.server->port(), "/v1/profiles", Collector::kReadToken).status == 200);
  const std::string text = request(collector.server->port(), http::verb::get, "/metrics").body;
  std::set<std::string> described, typed;
  std::istringstream lines(text);
  std::string line;
  size_t samples = 0;
  while (std::getline(lines, line)) {
    INFO(line);
    if (line.rfind("# HELP ", 0) == 0) {
      described.insert(line.substr(7, line.find(' ', 7) - 7));
    } else if (line.rfind("# TYPE ", 0) == 0) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      CHECK(described.count(name) == 1);  // HELP first, as promtool wants
      typed.insert(name);
    } else {
      std::string name = line.substr(0, line.find_first_of("{ "));
      for (const char* suffix : {"_sum", "_count", "_bucket"}) {
        const std::string s(suffix);
        if (typed.count(name) == 0 && name.size() > s.size() &&
            name.compare(name.size() - s.size(), s.size(), s) == 0) {
          name.resize(name.size() - s.size());
        }
      }
      CHECK(typed.count(name) == 1);  // every sample belongs to a described, typed family
      ++samples;
    }
  }
  for (const char* name : {"waymark_batches_accepted_total 0", "waymark_store_commit_failures_total 0",
                           "waymark_erasures_total 0", "waymark_store_degraded 0", "waymark_ingest_commits_total 0"}) {
    CHECK(text.find(std::string("\n") + name + "\n") != std::string::npos);
  }
  CHECK(text.find("waymark_build_info{version=\"" + std::string(waymark_version()) + "\"} 1") != std::string::npos);
  CHECK(samples > 15);
  // Latency by route: a histogram whose buckets only grow and end at the count.
  for (const std::string route : {"/healthz", "/v1/profiles"}) {
    INFO(route);
    const std::string prefix = "waymark_http_request_duration_seconds_bucket{route=\"" + route + "\",le=\"";
    uint64_t last = 0;
    size_t at = 0, buckets = 0;
    while ((at = text.find(prefix, at)) != std::string::npos) {
      const uint64_t v = std::stoull(text.substr(text.find("} ", at) + 2));
      CHECK(v >= last);
      last = v;
      ++buckets;
      ++at;
    }
    CHECK(buckets == std::size(waymark::collector::Metrics::kLatencyBuckets) + 1);
    CHECK(last == 1);
    CHECK(text.find("waymark_http_request_duration_seconds_count{route=\"" + route + "\"} 1\n") != std::string::npos);
  }
}
