// Bounded input (issue 18, findings 6 and 7): what one request, one event and one query parameter
// may cost the collector, each limit tried through the real server.
#include <catch2/catch.hpp>

#include "store/sql/sql_store.hpp"
#include "support/collector_fixture.hpp"
#include "support/direct_store.hpp"
#include "support/http_client.hpp"
#include "support/raw_device.hpp"

using namespace waymark::test;
namespace wc = waymark::collector;

namespace {

bool metric_has(const Collector& c, const std::string& line) {
  return request(c.server->port(), http::verb::get, "/metrics").body.find(line) != std::string::npos;
}

}  // namespace

TEST_CASE("an event with 1,928 identifiers neither stalls identity resolution nor reaches the store",
          "[collector][store]") {
  Collector collector;
  RawDevice device;
  // 1,928 identifiers of 34 packed bytes each overflowed the resolve queue's 2-byte length: the
  // reader failed on that row forever, and resolution, queries, erasure and unmerge all stalled.
  auto crafted = device.event("crafted", random_identifiers(1928));
  auto too_many = device.event("too_many", random_identifiers(33));
  auto honest = device.event("honest", random_identifiers(3, WAYMARK_ID_EMAIL));
  const Reply r = device.send(collector, {device.grant(), crafted, too_many, honest});
  REQUIRE(r.status == 200);
  INFO(request(collector.server->port(), http::verb::get, "/metrics").body);
  CHECK(collector.events() == 2);  // the consent record and the honest event
  CHECK(metric_has(collector, "waymark_rejected_total{reason=\"event_too_large\"} 1"));
  CHECK(metric_has(collector, "waymark_rejected_total{reason=\"too_many_identifiers\"} 1"));
  CHECK(api_get(collector.server->port(), "/v1/profiles", Collector::kAdminToken).status == 200);

  waymark::detail::EventDraft props;
  props.properties.resize(65);
  for (size_t i = 0; i < props.properties.size(); ++i) props.properties[i].key = "k" + std::to_string(i);
  REQUIRE(device.send(collector, {device.event("props", {}, props)}).status == 200);
  CHECK(metric_has(collector, "waymark_rejected_total{reason=\"too_many_properties\"} 1"));
  CHECK(collector.events() == 2);
}

TEST_CASE("the store's resolve queue holds an event with thousands of identifiers without wrapping",
          "[collector][store]") {
  // Below ingest's caps, the store itself must never misread a length: fed directly, an event with
  // 2,000 identifiers (68,000 packed bytes) is resolved and every identifier becomes a node.
  TempDir dir;
  auto store = std::move(wc::open_sqlite_store(dir.path() + "/collector.db").value());
  wc::StoredEvent e;
  e.event_id = ordered_event_id(1);
  e.slot.assign(16, 7);
  for (const auto& id : random_identifiers(2000)) {
    wc::StoredIdentifier si;
    si.kind = id.kind;
    std::copy(id.pseudonym.begin(), id.pseudonym.end(), si.pseudonym.begin());
    e.identifiers.push_back(si);
  }
  REQUIRE(commit_events(*store, {e}).ok());
  auto resolved = store->resolve_pending(100);
  REQUIRE(resolved.ok());
  CHECK(resolved.value() == 1);
  auto profile = store->profile_of(e.identifiers[1999].pseudonym.data(), 32);
  REQUIRE(profile.ok());
  REQUIRE(profile.value());
  CHECK(store->profile(*profile.value()).value()->nodes.size() == 2001);  // the slot and 2,000 identifiers

  waymark::collector::Bytes packed, queued;
  waymark::collector::pack_identifiers(e.identifiers, packed);
  REQUIRE(wc::append_resolve_input(queued, e.event_id, e.slot, 5, packed).ok());
  std::string_view rest(reinterpret_cast<const char*>(queued.data()), queued.size());
  wc::ResolveInput in;
  REQUIRE(wc::take_resolve_input(rest, &in));
  CHECK(in.identifiers.size() == 2000 * wc::kPackedIdentifierBytes);
  CHECK(rest.empty());
  CHECK_FALSE(wc::append_resolve_input(queued, e.event_id, waymark::collector::Bytes(256, 1), 5, packed).ok());
}

TEST_CASE("a compressed batch may not inflate beyond the configured multiple of the body limit", "[collector][store]") {
  Collector collector;  // max-body-bytes 1 MiB, decompressed at most 1 MiB (ratio 1)
  uint8_t pk[32], sk[64];
  crypto_sign_keypair(pk, sk);
  // 2 MiB of zeros compress to a few hundred bytes: a small request that would cost 2 MiB to open.
  const auto bomb = waymark::detail::seal_envelope(std::vector<uint8_t>(2u << 20, 0), sk, collector.public_key.data(),
                                                   collector.key.key_id);
  REQUIRE(bomb.ok());
  REQUIRE(bomb.value().size() < 4096);
  const Reply r = request(collector.server->port(), http::verb::post, "/v1/batches", bomb.value());
  CHECK(r.status == 413);
  CHECK(r.body == "decompressed_too_large\n");
  CHECK(metric_has(collector, "waymark_rejected_total{reason=\"decompressed_too_large\"} 1"));
}

TEST_CASE("every numeric query parameter is range-checked with a 400 that names it", "[collector][store]") {
  Collector collector;
  const uint16_t port = collector.server->port();
  const std::pair<const char*, const char*> bad[] = {
      {"/v1/reports/attribution?lookback_days=1e12", "lookback_days"},
      {"/v1/reports/attribution?half_life_days=-1", "half_life_days"},
      {"/v1/reports/attribution?order=9", "order"},
      {"/v1/reports/attribution?session_minutes=1e300", "session_minutes"},
      {"/v1/reports/attribution?from=99999999999999999", "from"},
      {"/v1/reports/attribution?to=-5", "to"},
      {"/v1/reports/clv?months=0", "months"},
      {"/v1/reports/clv?monthly_discount=nan", "monthly_discount"},
      {"/v1/reports/clv?top=100000", "top"},
      {"/v1/reports/clv?as_of=2026-13-01", "as_of"},
      {"/v1/segments?as_of=1e9", "as_of"},
      {"/v1/segments/loyal?limit=0", "limit"},
      {"/v1/segments/loyal?after=-1", "after"},
      {"/v1/profiles?limit=1001", "limit"},
  };
  for (const auto& [target, name] : bad) {
    INFO(target);
    const Reply r = api_get(port, target, Collector::kAdminToken);
    CHECK(r.status == 400);
    CHECK(r.body.find(std::string("\"") + name + " must") != std::string::npos);
  }
  CHECK(api_get(port, "/v1/reports/attribution?lookback_days=3650&order=4", Collector::kAdminToken).status == 200);
}
