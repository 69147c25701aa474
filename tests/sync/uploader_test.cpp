// Sync through the C ABI against a loopback receiver that implements the receipt contract.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <mutex>
#include <sodium.h>
#include <sys/resource.h>
#include <thread>

#include "support/receiver.hpp"
#include "support/test_support.hpp"

using namespace waymark::test;
using Clock = std::chrono::steady_clock;

namespace {

ClientConfig uploading_to(const Receiver& r) {
  ClientConfig c;
  c.collector_url = r.url();
  c.collector_keys = {{Receiver::kKeyId, r.public_key()}};
  return c;
}

// Opens, grants analytics, records `n` events; returns the client.
waymark_client_t* record_n(const std::string& store, const ClientConfig& config, int n) {
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(store, config, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  for (int i = 0; i < n; ++i) REQUIRE(track(c, "view") == WAYMARK_OK);
  return c;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

TEST_CASE("events upload exactly once and rows are deleted after the receipt", "[sync]") {
  Receiver receiver;
  TempDir dir;
  waymark_client_t* c = record_n(dir.store(), uploading_to(receiver), 1200);
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
  CHECK(receiver.distinct_events() == 1201);  // + the consent record
  CHECK(receiver.duplicate_events() == 0);
  CHECK(receiver.batches() >= 3);  // at most 500 events per batch
  CHECK(client_stat(c, WAYMARK_STAT_UPLOADED) == 1201);
  CHECK(client_stat(c, WAYMARK_STAT_QUEUED) == 0);
  waymark_client_free(c);
  CHECK(stored_events(dir.store()).empty());
}

TEST_CASE("an unreachable collector: backoff up to the cap, no busy loop, nothing lost", "[sync]") {
  TempDir dir;
  ClientConfig config;
  config.collector_url = "http://127.0.0.1:9/v1/batches";  // discard port: connection refused
  std::array<uint8_t, 32> pk{};
  uint8_t sk[64];
  crypto_sign_keypair(pk.data(), sk);
  config.collector_keys = {{1, pk}};
  config.backoff_base_ms = 10;
  config.backoff_cap_ms = 100;
  waymark_client_t* c = record_n(dir.store(), config, 50);
  const double cpu_before = cpu_seconds();
  const auto t = Clock::now();
  CHECK(waymark_client_flush(c, 1500) == WAYMARK_ERR_TIMEOUT);
  CHECK(std::string(waymark_last_error_message()).find("connect") != std::string::npos);
  const double wall = std::chrono::duration<double>(Clock::now() - t).count();
  CHECK(wall >= 1.4);
  CHECK(cpu_seconds() - cpu_before < 0.3 * wall);  // sleeping between attempts, not spinning
  CHECK(client_stat(c, WAYMARK_STAT_QUEUED) == 51);
  waymark_client_free(c);
}

TEST_CASE("5xx storms and 429 with Retry-After are retried - events arrive once", "[sync]") {
  SECTION("503 x5 then OK") {
    Receiver receiver([](int i) { return i < 5 ? Fault{Fault::Kind::Status, 503} : Fault{}; });
    TempDir dir;
    waymark_client_t* c = record_n(dir.store(), uploading_to(receiver), 300);
    REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
    CHECK(receiver.distinct_events() == 301);
    CHECK(receiver.requests() >= 6);
    waymark_client_free(c);
  }
  SECTION("429 Retry-After: 1 is honoured even with a short backoff") {
    // Timed at the receiver, between the 429 and the next request: the uploader may start before the
    // test calls flush (CI under ASan on a busy machine recorded the 10 events slower than the retry).
    std::mutex mu;
    std::vector<Clock::time_point> arrivals;
    Receiver receiver([&](int i) {
      std::lock_guard lock(mu);
      arrivals.push_back(Clock::now());
      return i == 0 ? Fault{Fault::Kind::Status, 429, 1} : Fault{};
    });
    TempDir dir;
    ClientConfig config = uploading_to(receiver);
    config.backoff_cap_ms = 5000;
    waymark_client_t* c = record_n(dir.store(), config, 10);
    REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
    const std::vector<Clock::time_point> seen = [&] {
      std::lock_guard lock(mu);
      return arrivals;
    }();
    REQUIRE(seen.size() >= 2);
    const double waited = std::chrono::duration<double>(seen[1] - seen[0]).count();
    CHECK(waited >= 0.9);
    CHECK(waited < 4.0);
    CHECK(receiver.distinct_events() == 11);
    waymark_client_free(c);
  }
}

TEST_CASE("resets mid body, lost, truncated, forged and misdirected receipts keep the rows - resends dedupe",
          "[sync]") {
  const Fault::Kind kind =
      GENERATE(Fault::Kind::LoseResponse, Fault::Kind::Truncate, Fault::Kind::Forge, Fault::Kind::OtherReceipt);
  CAPTURE(static_cast<int>(kind));

  Receiver receiver([kind](int i) { return i < 2 ? Fault{kind} : Fault{}; });
  TempDir dir;
  waymark_client_free(record_n(dir.store(), ClientConfig{}, 200));  // queued offline: one batch of 201
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), uploading_to(receiver), &c) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
  CHECK(receiver.distinct_events() == 201);
  CHECK(receiver.duplicate_events() == 0);
  CHECK(receiver.batches() == 1);  // the same batch id every time
  // A batch that reached the receiver is answered with its stored receipt when resent (for a forged
  // or foreign receipt the second request already gets the stored, valid one).
  const bool response_lost = kind == Fault::Kind::LoseResponse || kind == Fault::Kind::Truncate;
  CHECK(receiver.resent_batches() == (kind == Fault::Kind::ResetMidBody ? 0u : response_lost ? 2u : 1u));
  CHECK(client_stat(c, WAYMARK_STAT_UPLOADED) == 201);
  waymark_client_free(c);
}

// Found by `make soak-cluster`: a resend carried the first attempt's send time, and the collector, which
// places events relative to when their batch arrived, moved them later by the retry delay (after hours
// offline, by hours). A resend from the same process is stamped when it is sent.
TEST_CASE("a resent batch carries the time of this attempt, so its events keep their place", "[sync]") {
  Receiver receiver([](int i) { return i == 0 ? Fault{Fault::Kind::LoseResponse} : Fault{}; });
  TempDir dir;
  waymark_client_t* c = record_n(dir.store(), uploading_to(receiver), 3);
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
  const auto sent = receiver.sent_monotonic_in_arrival_order();
  REQUIRE(sent.size() >= 2);  // the attempt whose answer was lost, then its resend (the leased batch first)
  CHECK(receiver.resent_batches() == 1);
  CHECK(sent[1] > sent[0]);  // later by the backoff, as the device's clock says
  waymark_client_free(c);
}

TEST_CASE("a permanent rejection dead-letters the batch instead of retrying forever", "[sync]") {
  Receiver receiver([](int) { return Fault{Fault::Kind::Status, 422}; });
  TempDir dir;
  ClientConfig config = uploading_to(receiver);
  config.batch_max_events = 100;
  waymark_client_t* c = record_n(dir.store(), config, 250);
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_ERR_REJECTED);  // loud: nothing was delivered
  CHECK(client_stat(c, WAYMARK_STAT_DEAD_LETTERED) == 251);
  CHECK(client_stat(c, WAYMARK_STAT_QUEUED) == 0);
  const size_t requests = receiver.requests();
  CHECK(client_stat(c, WAYMARK_STAT_REJECTED) == static_cast<int64_t>(requests));
  CHECK(requests >= 4 * 3);  // each batch (up to 100 events) was refused 4 times before it was dead-lettered
  CHECK(requests <= 4 * 6);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // twice the backoff cap
  CHECK(receiver.requests() == requests);                       // and never again
  waymark_client_free(c);
}

TEST_CASE("collector key rotation: the newest key seals, any listed key may sign receipts", "[sync]") {
  Receiver receiver;
  TempDir dir;
  ClientConfig config = uploading_to(receiver);
  std::array<uint8_t, 32> old_pk{};
  uint8_t old_sk[64];
  crypto_sign_keypair(old_pk.data(), old_sk);
  config.collector_keys = {{3, old_pk}, {Receiver::kKeyId, receiver.public_key()}};  // 7 is newest
  waymark_client_t* c = record_n(dir.store(), config, 20);
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
  CHECK(receiver.distinct_events() == 21);
  waymark_client_free(c);
  waymark_options_t* o = nullptr;
  REQUIRE(waymark_options_new(&o) == WAYMARK_OK);
  CHECK(waymark_options_set_collector_url(o, "ftp://x/", 8) == WAYMARK_ERR_INVALID_ARGUMENT);
  const uint8_t not_a_key[32] = {1};  // the identity point: nothing can be sealed to it
  CHECK(waymark_options_add_collector_key(o, not_a_key, 32, 1) == WAYMARK_ERR_INVALID_ARGUMENT);
  CHECK(std::string(waymark_last_error_message()).find("not an Ed25519 public key") != std::string::npos);
  CHECK(waymark_options_set_collector_url(o, "http://127.0.0.1:99999/", 23) == WAYMARK_ERR_INVALID_ARGUMENT);
  waymark_options_free(o);
}

namespace {
int64_t g_wall_offset_ms = 0;
int64_t skewed_wall(void*) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
             .count() +
         g_wall_offset_ms;
}
}  // namespace

TEST_CASE("a wall clock that jumps back by days: ids and sequences stay ordered, everything uploads", "[sync]") {
  Receiver receiver;
  TempDir dir;
  waymark_platform_t p{};
  waymark_platform_null(&p);
  p.clock_wall_ms = skewed_wall;
  ClientConfig config = uploading_to(receiver);
  config.platform = &p;
  g_wall_offset_ms = 0;
  waymark_client_t* c = record_n(dir.store(), config, 100);
  g_wall_offset_ms = -3LL * 24 * 3600 * 1000;
  for (int i = 0; i < 100; ++i) REQUIRE(track(c, "after-jump") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
  const auto seqs = receiver.sequences_in_arrival_order();
  REQUIRE(seqs.size() == 201);
  CHECK(std::is_sorted(seqs.begin(), seqs.end()));
  waymark_client_free(c);
}

namespace {
waymark_status_t via_receiver(const char*, const uint8_t* body, size_t len, int32_t* status, uint8_t* out, size_t cap,
                              size_t* out_len, int64_t* retry_after, void* user_data) {
  auto* r = static_cast<Receiver*>(user_data);
  std::vector<uint8_t> response;
  *status = r->handle({body, body + len}, &response);
  if (response.size() > cap) return WAYMARK_ERR_NETWORK;
  std::memcpy(out, response.data(), response.size());
  *out_len = response.size();
  *retry_after = -1;
  return WAYMARK_OK;
}
}  // namespace

TEST_CASE("a host-supplied transport carries the same envelopes", "[sync]") {
  Receiver receiver;
  TempDir dir;
  ClientConfig config;
  config.transport = via_receiver;
  config.transport_user_data = &receiver;
  config.collector_keys = {{Receiver::kKeyId, receiver.public_key()}};
  waymark_client_t* c = record_n(dir.store(), config, 42);
  REQUIRE(waymark_client_notify_lifecycle(c, WAYMARK_LIFECYCLE_BACKGROUND) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
  CHECK(receiver.distinct_events() == 43);
  waymark_client_free(c);
}

TEST_CASE("uploading without a collector key is refused at open", "[sync]") {
  TempDir dir;
  ClientConfig config;
  config.collector_url = "http://127.0.0.1:9/v1/batches";
  waymark_client_t* c = nullptr;
  CHECK(open_client(dir.store(), config, &c) == WAYMARK_ERR_INVALID_ARGUMENT);
}

TEST_CASE("envelopes reveal only magic, version and key id - no raw identifier inside either", "[sync]") {
  Receiver receiver;
  TempDir dir;
  waymark_client_t* c = record_n(dir.store(), uploading_to(receiver), 5);
  REQUIRE(waymark_client_identify(c, WAYMARK_ID_EMAIL, "leak.check@example.com", 22) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
  waymark_client_free(c);
  for (const auto& env : receiver.envelopes()) {
    REQUIRE(env.size() > 9);
    CHECK(std::memcmp(env.data(), "WMRK\x01\x07\x00\x00\x00", 9) == 0);
    const std::string bytes(env.begin(), env.end());
    CHECK(bytes.find("leak.check") == std::string::npos);
    CHECK(bytes.find("view") == std::string::npos);  // even event names are sealed
  }
}
