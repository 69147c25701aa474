// Sync benchmarks: wire size against Snowplow-style JSON, sealing throughput against raw
// libsodium, and end-to-end upload of 1M queued events to a loopback receiver.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "support/receiver.hpp"
#include "waymark/waymark.h"
#include "common/wire/envelope.hpp"
#include "common/wire/event_codec.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace waymark::detail;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A typical app event: a product view with three properties, a campaign, two pseudonymous ids.
std::vector<uint8_t> sample_event(int i, std::vector<IdentifierRef>& ids) {
  EventDraft d;
  d.type = WAYMARK_EVENT_TRACK;
  d.name = "product_view";
  d.channel = WAYMARK_CHANNEL_APP;
  d.properties = {{"sku", Property::Kind::String, "SKU-" + std::to_string(10000 + i % 500)},
                  {"price_minor", Property::Kind::Int, "", 1999 + i % 7},
                  {"in_stock", Property::Kind::Bool, "", 0, 0, true}};
  d.campaign = Campaign{"newsletter", "email", "spring-sale", ""};
  EventStamp st;
  randombytes_buf(st.id.data(), 16);
  st.sequence = static_cast<uint64_t>(i);
  st.occurred_at_ms = 1790000000000 + i * 1000;
  st.monotonic_ms = 100000 + i * 1000;
  st.slot.fill(7);
  st.identifiers = ids;
  std::vector<uint8_t> out;
  encode_event(d, st, out);
  return out;
}

// The same event as a Snowplow-style tracker sends it: a flat JSON string map, uncompressed.
std::string sample_json(int i, const std::vector<IdentifierRef>& ids) {
  char uuid[37];
  std::snprintf(uuid, sizeof uuid, "%08x-0000-7000-8000-%012x", i, i);
  nlohmann::json j = {{"e", "se"},
                      {"se_ca", "product"},
                      {"se_ac", "view"},
                      {"aid", "bench-app"},
                      {"p", "mob"},
                      {"tv", "cpp-1.0.0"},
                      {"eid", uuid},
                      {"dtm", std::to_string(1790000000000 + i * 1000)},
                      {"stm", std::to_string(1790000000000 + i * 1000 + 5)},
                      {"mkt_source", "newsletter"},
                      {"mkt_medium", "email"},
                      {"mkt_campaign", "spring-sale"},
                      {"se_la", "SKU-" + std::to_string(10000 + i % 500)},
                      {"se_va", std::to_string(19.99 + (i % 7) / 100.0)},
                      {"co", "{\"in_stock\":true}"}};
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, ids[0].pseudonym.data(), 32);
  j["uid"] = hex;
  sodium_bin2hex(hex, sizeof hex, ids[1].pseudonym.data(), 32);
  j["duid"] = hex;
  return j.dump();
}

void bench_wire_size() {
  std::vector<IdentifierRef> ids(2);
  ids[0].kind = WAYMARK_ID_EMAIL;
  ids[1].kind = WAYMARK_ID_DEVICE_ID;
  randombytes_buf(ids[0].pseudonym.data(), 32);
  randombytes_buf(ids[1].pseudonym.data(), 32);
  const int n = 500;
  std::vector<std::vector<uint8_t>> events;
  size_t json_bytes = 0;
  for (int i = 0; i < n; ++i) {
    events.push_back(sample_event(i, ids));
    json_bytes += sample_json(i, ids).size();
  }
  BatchHeader h;
  h.app_id = "bench-app";
  uint8_t pk[32], sk[64], cpk[32], csk[64];
  crypto_sign_keypair(pk, sk);
  crypto_sign_keypair(cpk, csk);
  const auto env = seal_envelope(encode_batch(h, events), sk, cpk, 1).value();
  const double ours = static_cast<double>(env.size()) / n;
  const double theirs = static_cast<double>(json_bytes) / n;
  std::printf("BENCH wire_bytes_per_event %.1f bytes\n", ours);
  std::printf("BENCH snowplow_json_bytes_per_event %.1f bytes\n", theirs);
  std::printf("RATIO wire_bytes_per_event %.3f vs snowplow_json_bytes_per_event\n", ours / theirs);
}

void bench_seal() {
  std::vector<IdentifierRef> ids(2);
  randombytes_buf(ids[0].pseudonym.data(), 32);
  randombytes_buf(ids[1].pseudonym.data(), 32);
  std::vector<std::vector<uint8_t>> events;
  for (int i = 0; i < 500; ++i) events.push_back(sample_event(i, ids));
  BatchHeader h;
  const auto batch = encode_batch(h, events);
  uint8_t pk[32], sk[64], cpk[32], csk[64], xpk[32];
  crypto_sign_keypair(pk, sk);
  crypto_sign_keypair(cpk, csk);
  if (crypto_sign_ed25519_pk_to_curve25519(xpk, cpk) != 0) return;
  const int rounds = 300;
  auto t = Clock::now();
  size_t sink = 0;
  for (int i = 0; i < rounds; ++i) sink += seal_envelope(batch, sk, cpk, 1).value().size();
  const double ours = rounds * 500 / seconds_since(t);
  // Floor: raw libsodium on the same bytes — Ed25519ph signature + crypto_box_seal, nothing else.
  std::vector<uint8_t> out(batch.size() + crypto_box_SEALBYTES);
  uint8_t sig[64];
  t = Clock::now();
  for (int i = 0; i < rounds; ++i) {
    crypto_sign_state st;
    crypto_sign_init(&st);
    crypto_sign_update(&st, batch.data(), batch.size());
    crypto_sign_final_create(&st, sig, nullptr, sk);
    crypto_box_seal(out.data(), batch.data(), batch.size(), xpk);
    sink += out[0];
  }
  const double floor = rounds * 500 / seconds_since(t);
  std::printf("BENCH seal_and_sign %.0f events/s\n", ours);
  std::printf("BENCH libsodium_sign_and_seal_floor %.0f events/s\n", floor);
  std::printf("RATIO seal_and_sign %.3f vs libsodium_sign_and_seal_floor\n", ours / floor);
  if (sink == 0) std::printf("\n");
}

waymark_client_t* open_client(const std::string& store, const waymark::test::Receiver* receiver) {
  waymark_options_t* o = nullptr;
  waymark_options_new(&o);
  waymark_options_set_store_path(o, store.data(), store.size());
  waymark_options_set_app_id(o, "bench", 5);
  const uint8_t key[32] = {5};
  waymark_options_set_brand_key(o, key, 32, 1);
  waymark_options_set_queue_capacity(o, 1000000);
  waymark_options_set_caps(o, 0, 0, 0);
  if (receiver != nullptr) {
    waymark_options_add_collector_key(o, receiver->public_key().data(), 32, waymark::test::Receiver::kKeyId);
    const std::string url = receiver->url();
    waymark_options_set_collector_url(o, url.data(), url.size());
    waymark_options_set_upload_policy(o, 2000, 4 << 20, 100000, 60000);
  }
  waymark_client_t* c = nullptr;
  if (waymark_client_open(o, &c) < 0) {
    std::fprintf(stderr, "open: %s\n", waymark_last_error_message());
    std::exit(1);
  }
  return c;
}

void bench_upload(const std::string& dir) {
  const std::string store = dir + "/upload";
  fs::remove_all(store);
  const int n = 1000000;
  {
    waymark_client_t* c = open_client(store, nullptr);
    waymark_client_set_consent(c, WAYMARK_PURPOSE_ANALYTICS, 1, "v1", 2);
    waymark_event_t* e = nullptr;
    waymark_event_new(WAYMARK_EVENT_TRACK, "product_view", 12, &e);
    waymark_event_set_string(e, "sku", 3, "SKU-10001", 9);
    for (int i = 0; i < n; ++i) {
      while (waymark_client_record(c, e) == WAYMARK_ERR_QUEUE_FULL) waymark_client_flush(c, 60000);
    }
    waymark_event_free(e);
    waymark_client_flush(c, 120000);
    waymark_client_free(c);
  }
  waymark::test::Receiver receiver;
  const auto t = Clock::now();
  waymark_client_t* c = open_client(store, &receiver);
  const waymark_status_t s = waymark_client_flush(c, 600000);
  const double secs = seconds_since(t);
  waymark_client_free(c);
  if (s != WAYMARK_OK || receiver.distinct_events() < static_cast<size_t>(n)) {
    std::fprintf(stderr, "upload incomplete: %s\n", waymark_last_error_message());
  }
  std::printf("BENCH upload_1M_loopback %.0f events/s\n", static_cast<double>(receiver.distinct_events()) / secs);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "bench-work";
  fs::create_directories(dir);
  if (sodium_init() < 0) return 1;
  bench_wire_size();
  bench_seal();
  bench_upload(dir);
  fs::remove_all(dir);
  return 0;
}
