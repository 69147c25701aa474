// The real collector, in-process on 127.0.0.1, against real SDK clients and hand-made bad input.
#include <catch2/catch.hpp>

#include <utility>  // before Asio

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <sodium.h>
#include <sqlite3.h>

#include "common/consent/ledger.hpp"
#include "support/collector_fixture.hpp"
#include "support/http_client.hpp"
#include "support/test_support.hpp"
#include "waymark/wire/v1/batch_generated.h"
#include "waymark/wire/v1/envelope_generated.h"
#include "common/wire/envelope.hpp"
#include "common/wire/event_codec.hpp"

using namespace waymark::test;
using namespace waymark::collector;

namespace {

// A sealed batch of `events` signed by `device_sk`, sequence `seq`.
std::vector<uint8_t> envelope(const Collector& c, const uint8_t* device_sk, uint64_t seq,
                              const std::vector<std::vector<uint8_t>>& events = {}) {
  waymark::detail::BatchHeader h;
  randombytes_buf(h.batch_id.data(), 16);
  h.sequence = seq;
  h.app_id = "test";
  return waymark::detail::seal_envelope(waymark::detail::encode_batch(h, events), device_sk, c.public_key.data(),
                                        c.key.key_id)
      .value();
}

// A device made by hand: its keys, one customer slot with analytics granted, and events encoded as the
// SDK encodes them (the first with the consent record, which the collector needs before any other).
struct ConsentedDevice {
  uint8_t pk[32], sk[64];
  std::array<uint8_t, 16> slot{};
  waymark::detail::ConsentState state;
  waymark::detail::ConsentRecord grant;
  ConsentedDevice() {
    crypto_sign_keypair(pk, sk);
    randombytes_buf(slot.data(), slot.size());
    grant = waymark::detail::append_consent(state, slot, WAYMARK_PURPOSE_ANALYTICS, true, 1, "v1", sk);
  }
  std::vector<uint8_t> encode(const waymark::detail::EventDraft& d, uint64_t sequence, bool with_consent = false) {
    waymark::detail::EventStamp st;
    randombytes_buf(st.id.data(), 16);
    st.sequence = sequence;
    st.slot = slot;
    st.consent_head = state.head;
    if (with_consent) {
      st.consent = &grant;
      st.device_public_key = pk;
    }
    std::vector<uint8_t> e;
    waymark::detail::encode_event(d, st, e);
    return e;
  }
  std::vector<uint8_t> consent() { return encode(waymark::detail::consent_draft(), 1, true); }
};

}  // namespace

TEST_CASE("SDK to collector: events stored once, receipts honoured, health and metrics answer", "[collector][store]") {
  Collector collector;
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), collector.client(), &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(waymark_client_identify(c, WAYMARK_ID_EMAIL, "collector.test@example.com", 26) == WAYMARK_OK);
  for (int i = 0; i < 300; ++i) REQUIRE(track(c, "view") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
  CHECK(collector.events() == 302);
  CHECK(client_stat(c, WAYMARK_STAT_UPLOADED) == 302);
  uint8_t pseudonym[32];
  REQUIRE(waymark_client_pseudonymize(c, WAYMARK_ID_EMAIL, "collector.test@example.com", 26, pseudonym, 32) ==
          WAYMARK_OK);
  waymark_client_free(c);

  // Never a raw identifier, nor the device's pseudonym: the collector re-keys them.
  collector.server->stop();
  collector.store.reset();
  CHECK_FALSE(collector.holds("collector.test"));
  CHECK_FALSE(collector.holds(std::string(reinterpret_cast<char*>(pseudonym), 32)));
}

TEST_CASE("health and metrics endpoints", "[collector][store]") {
  Collector collector;
  CHECK(request(collector.server->port(), http::verb::get, "/healthz").status == 200);
  const Reply m = request(collector.server->port(), http::verb::get, "/metrics");
  CHECK(m.status == 200);
  CHECK(m.body.find("waymark_http_requests_total") != std::string::npos);
  CHECK(request(collector.server->port(), http::verb::get, "/nope").status == 404);
}

TEST_CASE("a resent batch gets the same receipt - a lower sequence is refused", "[collector][store]") {
  Collector collector;
  uint8_t pk[32], sk[64];
  crypto_sign_keypair(pk, sk);
  const auto env = envelope(collector, sk, 5);
  const Reply first = request(collector.server->port(), http::verb::post, "/v1/batches", env);
  const Reply again = request(collector.server->port(), http::verb::post, "/v1/batches", env);
  REQUIRE(first.status == 200);
  CHECK(again.status == 200);
  CHECK(again.body == first.body);
  CHECK(request(collector.server->port(), http::verb::post, "/v1/batches", envelope(collector, sk, 4)).status == 409);
  CHECK(request(collector.server->port(), http::verb::post, "/v1/batches", envelope(collector, sk, 6)).status == 200);
}

TEST_CASE("bad input is refused with its own status and reason, and nothing is stored", "[collector][store]") {
  Collector collector;
  const uint16_t port = collector.server->port();
  uint8_t pk[32], sk[64];
  crypto_sign_keypair(pk, sk);
  const auto good = envelope(collector, sk, 1);

  auto tampered = good;
  tampered[tampered.size() - 3] ^= 1;
  CHECK(request(port, http::verb::post, "/v1/batches", tampered).body == "unsealable\n");
  auto wrong_key = good;
  wrong_key[5] = 9;
  CHECK(request(port, http::verb::post, "/v1/batches", wrong_key).status == 403);
  auto version = good;
  version[4] = 2;
  CHECK(request(port, http::verb::post, "/v1/batches", version).body == "unknown_version\n");
  CHECK(request(port, http::verb::post, "/v1/batches", {good.begin(), good.begin() + 20}).body == "truncated\n");
  CHECK(request(port, http::verb::post, "/v1/batches", std::vector<uint8_t>(2 << 20, 'x')).status == 413);

  // Sealed correctly but not an Envelope, and an Envelope whose signature does not verify.
  uint8_t x25519[32];
  REQUIRE(crypto_sign_ed25519_pk_to_curve25519(x25519, collector.public_key.data()) == 0);
  auto seal = [&](const std::vector<uint8_t>& inner) {
    std::vector<uint8_t> out(good.begin(), good.begin() + 9);
    out.resize(9 + crypto_box_SEALBYTES + inner.size());
    crypto_box_seal(out.data() + 9, inner.data(), inner.size(), x25519);
    return out;
  };
  CHECK(request(port, http::verb::post, "/v1/batches", seal(std::vector<uint8_t>(100, 7))).body ==
        "malformed_envelope\n");
  flatbuffers::FlatBufferBuilder fbb;
  const std::vector<uint8_t> payload = {1, 2, 3}, sig(64, 0);
  fbb.Finish(waymark::wire::v1::CreateEnvelope(fbb, waymark::wire::v1::Compression::None, fbb.CreateVector(payload),
                                               fbb.CreateVector(sig), fbb.CreateVector(pk, 32)),
             "WMEN");
  const Reply forged = request(port, http::verb::post, "/v1/batches",
                               seal({fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()}));
  CHECK(forged.status == 401);
  CHECK(forged.body == "bad_signature\n");

  // A batch whose event blob has no bytes (fuzz_batch found the collector following a null pointer).
  namespace w = waymark::wire::v1;
  flatbuffers::FlatBufferBuilder batch;
  const auto id = batch.CreateVector(std::vector<uint8_t>(16, 1));
  // A table without fields, as a hostile encoder sends it (the generated builder would assert).
  const flatbuffers::Offset<w::EventBlob> empty_blob(batch.EndTable(batch.StartTable()));
  const auto blobs = batch.CreateVector(std::vector<flatbuffers::Offset<w::EventBlob>>{empty_blob});
  w::BatchBuilder bb(batch);
  bb.add_batch_id(id);
  bb.add_sequence(1);
  bb.add_events(blobs);
  batch.Finish(bb.Finish(), "WMBT");
  const auto no_bytes =
      waymark::detail::seal_envelope({batch.GetBufferPointer(), batch.GetBufferPointer() + batch.GetSize()}, sk,
                                     collector.public_key.data(), collector.key.key_id);
  const Reply blobless = request(port, http::verb::post, "/v1/batches", no_bytes.value());
  CHECK(blobless.status == 400);
  CHECK(blobless.body == "malformed_batch\n");
  CHECK(collector.events() == 0);
  CHECK(request(port, http::verb::get, "/metrics").body.find("reason=\"unsealable\"") != std::string::npos);
}

TEST_CASE("events without a verified consent record are refused (fail closed)", "[collector][store]") {
  Collector collector;
  TempDir dir;
  waymark_client_t* c = nullptr;
  // Recorded offline (no collector configured), so the upload below sees all of it at once.
  REQUIRE(open_client(dir.store(), {}, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(track(c, "ok") == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS, false) == WAYMARK_OK);  // purges "ok" on the device
  waymark_client_free(c);
  REQUIRE(open_client(dir.store(), collector.client(), &c) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
  waymark_client_free(c);
  CHECK(collector.events() == 2);  // the two consent records

  // A device that skips the consent record entirely: its events are refused by the collector.
  uint8_t pk[32], sk[64];
  crypto_sign_keypair(pk, sk);
  waymark::detail::EventDraft draft;
  draft.name = "sneaky";
  waymark::detail::EventStamp stamp;
  randombytes_buf(stamp.id.data(), 16);
  std::vector<uint8_t> event;
  waymark::detail::encode_event(draft, stamp, event);
  const Reply r =
      request(collector.server->port(), http::verb::post, "/v1/batches", envelope(collector, sk, 1, {event}));
  CHECK(r.status == 200);  // acknowledged (the device must not resend it) but not stored
  CHECK(collector.events() == 2);
  CHECK(request(collector.server->port(), http::verb::get, "/metrics").body.find("reason=\"no_consent\"} 1") !=
        std::string::npos);
}

TEST_CASE("when the store cannot commit: 503 with Retry-After, nothing acknowledged", "[collector]") {
  Collector collector;
  uint8_t pk[32], sk[64];
  crypto_sign_keypair(pk, sk);
  sqlite3* blocker = nullptr;
  REQUIRE(sqlite3_open(collector.db_path().c_str(), &blocker) == SQLITE_OK);
  REQUIRE(sqlite3_exec(blocker, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);
  const auto env = envelope(collector, sk, 1);
  const Reply busy = request(collector.server->port(), http::verb::post, "/v1/batches", env);
  CHECK(busy.status == 503);
  CHECK(busy.retry_after == "5");
  sqlite3_exec(blocker, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(blocker);
  CHECK(request(collector.server->port(), http::verb::post, "/v1/batches", env).status == 200);  // then accepted
}

TEST_CASE("forget on the device erases what it sent at the collector - its slot stays tombstoned",
          "[collector][store]") {
  Collector collector;
  TempDir dir, other;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), collector.client(), &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(waymark_client_identify(c, WAYMARK_ID_EMAIL, "erase.me@example.com", 20) == WAYMARK_OK);
  for (int i = 0; i < 5; ++i) REQUIRE(track(c, "view") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
  REQUIRE(collector.events() == 7);
  REQUIRE(waymark_client_forget(c) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
  CHECK(collector.events() == 0);
  // The device lives on as a fresh identity, and its new events are welcome.
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
  CHECK(collector.events() == 1);
  waymark_client_free(c);

  // The device's own slot is tombstoned: a replay of its batches cannot bring its events back. Its
  // email is not (a device cannot prove an identifier is its customer's; the brand's erasure token
  // can, forged_erasure_test.cpp), so another device presenting it is another visit, welcome.
  REQUIRE(open_client(other.store(), collector.client(), &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(waymark_client_identify(c, WAYMARK_ID_EMAIL, "erase.me@example.com", 20) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
  waymark_client_free(c);
  CHECK(collector.events() == 3);
}

TEST_CASE("an event already stored is a duplicate in any later batch, and twice in one batch is once",
          "[collector][store]") {
  Collector collector;
  ConsentedDevice device;
  waymark::detail::EventDraft view;
  view.name = "view";
  view.channel = WAYMARK_CHANNEL_APP;
  const auto consent = device.consent();
  const auto seen = device.encode(view, 2);
  const uint16_t port = collector.server->port();
  REQUIRE(request(port, http::verb::post, "/v1/batches", envelope(collector, device.sk, 1, {consent, seen})).status ==
          200);
  CHECK(collector.events() == 2);
  // A new batch (the device lost the first receipt and re-leased): the same view, twice, and a new one.
  const auto next = device.encode(view, 3);
  REQUIRE(
      request(port, http::verb::post, "/v1/batches", envelope(collector, device.sk, 2, {seen, next, seen})).status ==
      200);
  CHECK(collector.events() == 3);
  CHECK(request(port, http::verb::get, "/metrics").body.find("waymark_events_duplicate_total 2") != std::string::npos);
}

TEST_CASE("text with invalid UTF-8 or NUL is stored with U+FFFD, and fails no batch committed beside it",
          "[collector][store]") {
  Collector collector;
  ConsentedDevice device;
  waymark::detail::EventDraft d;
  d.name = std::string("caf\xC3\xA9 \xC3(\0x", 10);  // é, a cut sequence, NUL
  d.channel = WAYMARK_CHANNEL_WEB;
  d.campaign = waymark::detail::Campaign{};
  d.campaign->source = "\xED\xA0\x80 surrogate";
  d.campaign->medium = "\xC0\xAF overlong";
  d.properties = {{std::string("k\0y", 3), waymark::detail::Property::Kind::String, std::string("v\0\xFF", 3)}};
  const std::vector<std::vector<uint8_t>> events = {device.consent(), device.encode(d, 2)};
  const Reply r =
      request(collector.server->port(), http::verb::post, "/v1/batches", envelope(collector, device.sk, 1, events));
  REQUIRE(r.status == 200);
  CHECK(collector.events() == 2);
  REQUIRE(collector.store->resolve_pending(INT64_MAX).ok());
  std::vector<std::string> names, sources, mediums, properties;
  REQUIRE(collector.store
              ->for_each_profile(0, INT64_MAX,
                                 [&](int64_t, const std::vector<AnalyticsEvent>& evs) {
                                   for (const auto& e : evs) {
                                     names.push_back(e.name);
                                     sources.push_back(e.campaign_source);
                                     mediums.push_back(e.campaign_medium);
                                     properties.push_back(e.properties);
                                   }
                                   return true;
                                 })
              .ok());
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(std::find(names.begin(), names.end(), "caf\xC3\xA9 " + fffd + "(" + fffd + "x") != names.end());
  CHECK(std::find(sources.begin(), sources.end(), fffd + fffd + fffd + " surrogate") != sources.end());
  CHECK(std::find(mediums.begin(), mediums.end(), fffd + fffd + " overlong") != mediums.end());
  // Not even escaped: PostgreSQL's jsonb (the BI views) refuses \u0000.
  CHECK(std::find(properties.begin(), properties.end(), "{\"k" + fffd + "y\":\"v" + fffd + fffd + "\"}") !=
        properties.end());
}
