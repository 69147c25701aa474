#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <ctime>
#include <thread>
#include <cstring>
#include <string>

#include "support/test_support.hpp"

using namespace waymark::test;
namespace w = waymark::wire::v1;

TEST_CASE("NULL handles and arguments return errors, _free(NULL) is a no-op", "[capi]") {
  waymark_options_free(nullptr);
  waymark_event_free(nullptr);
  waymark_client_free(nullptr);
  CHECK(waymark_options_new(nullptr) == WAYMARK_ERR_INVALID_ARGUMENT);
  CHECK(waymark_client_open(nullptr, nullptr) == WAYMARK_ERR_INVALID_ARGUMENT);
  CHECK(waymark_client_record(nullptr, nullptr) == WAYMARK_ERR_INVALID_ARGUMENT);
  CHECK(waymark_client_identify(nullptr, WAYMARK_ID_EMAIL, "a@b.com", 7) == WAYMARK_ERR_INVALID_ARGUMENT);
  CHECK(waymark_client_flush(nullptr, 10) == WAYMARK_ERR_INVALID_ARGUMENT);
  CHECK(waymark_client_close(nullptr) == WAYMARK_ERR_INVALID_ARGUMENT);
  CHECK(waymark_options_set_app_id(nullptr, "x", 1) == WAYMARK_ERR_INVALID_ARGUMENT);
  CHECK(std::string(waymark_status_name(WAYMARK_ERR_CLOSED)) == "WAYMARK_ERR_CLOSED");
  CHECK(std::string(waymark_status_name(12345)) == "WAYMARK_UNKNOWN_STATUS");
  CHECK(std::strlen(waymark_last_error_message()) > 0);
}

TEST_CASE("open requires store path, app id and brand key, and always takes the options", "[capi]") {
  waymark_options_t* o = nullptr;
  REQUIRE(waymark_options_new(&o) == WAYMARK_OK);
  waymark_client_t* c = nullptr;
  CHECK(waymark_client_open(o, &c) == WAYMARK_ERR_INVALID_ARGUMENT);  // `o` is freed (ASan checks)
  CHECK(c == nullptr);
  CHECK(std::string(waymark_last_error_message()).find("store path") != std::string::npos);
  REQUIRE(waymark_options_new(&o) == WAYMARK_OK);
  CHECK(waymark_options_set_brand_key(o, kBrandKey, 16, 1) == WAYMARK_ERR_INVALID_ARGUMENT);
  CHECK(waymark_options_set_device_mode(o, static_cast<waymark_device_mode_t>(7)) == WAYMARK_ERR_INVALID_ARGUMENT);
  CHECK(waymark_options_set_caps(o, -1, 0, 0) == WAYMARK_ERR_INVALID_VALUE);
  CHECK(waymark_options_set_store_path(o, "\xff", 1) == WAYMARK_ERR_INVALID_UTF8);
  waymark_options_free(o);
}

TEST_CASE("calls after close return WAYMARK_ERR_CLOSED", "[capi]") {
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), {}, &c) == WAYMARK_OK);
  REQUIRE(waymark_client_close(c) == WAYMARK_OK);
  CHECK(waymark_client_close(c) == WAYMARK_OK);  // idempotent
  CHECK(track(c, "late") == WAYMARK_ERR_CLOSED);
  CHECK(waymark_client_identify(c, WAYMARK_ID_EMAIL, "a@example.com", 13) == WAYMARK_ERR_CLOSED);
  CHECK(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_ERR_CLOSED);
  CHECK(waymark_client_flush(c, 10) == WAYMARK_ERR_CLOSED);
  int64_t v = 0;
  CHECK(waymark_client_stat(c, WAYMARK_STAT_QUEUED, &v) == WAYMARK_ERR_CLOSED);
  waymark_client_free(c);
}

TEST_CASE("event builder validates names, properties, revenue and campaign", "[capi]") {
  waymark_event_t* e = nullptr;
  CHECK(waymark_event_new(WAYMARK_EVENT_TRACK, "", 0, &e) == WAYMARK_ERR_INVALID_ARGUMENT);
  CHECK(waymark_event_new(static_cast<waymark_event_type_t>(2), "x", 1, &e) == WAYMARK_ERR_INVALID_ARGUMENT);
  CHECK(waymark_event_new(WAYMARK_EVENT_TRACK, "bad\xc3", 4, &e) == WAYMARK_ERR_INVALID_UTF8);
  const std::string long_name(WAYMARK_MAX_NAME_BYTES + 1, 'n');
  CHECK(waymark_event_new(WAYMARK_EVENT_TRACK, long_name.data(), long_name.size(), &e) == WAYMARK_ERR_TOO_LARGE);
  REQUIRE(waymark_event_new(WAYMARK_EVENT_PURCHASE, "order", 5, &e) == WAYMARK_OK);
  CHECK(waymark_event_set_double(e, "score", 5, NAN) == WAYMARK_ERR_INVALID_VALUE);
  CHECK(waymark_event_set_double(e, "score", 5, INFINITY) == WAYMARK_ERR_INVALID_VALUE);
  CHECK(waymark_event_set_revenue_decimal(e, NAN, "EUR", 3) == WAYMARK_ERR_INVALID_VALUE);
  CHECK(waymark_event_set_revenue(e, 100, "XYZ", 3) == WAYMARK_ERR_UNKNOWN_CURRENCY);
  CHECK(waymark_event_set_revenue(e, 100, "EU", 2) == WAYMARK_ERR_UNKNOWN_CURRENCY);
  CHECK(waymark_event_set_string(e, "k", 1, "\xc0\xaf", 2) == WAYMARK_ERR_INVALID_UTF8);  // overlong
  const std::string big(WAYMARK_MAX_STRING_BYTES + 1, 'v');
  CHECK(waymark_event_set_string(e, "k", 1, big.data(), big.size()) == WAYMARK_ERR_TOO_LARGE);
  for (int i = 0; i < WAYMARK_MAX_PROPERTIES; ++i) {
    const std::string key = "k" + std::to_string(i);
    REQUIRE(waymark_event_set_int(e, key.data(), key.size(), i) == WAYMARK_OK);
  }
  CHECK(waymark_event_set_bool(e, "one-too-many", 12, 1) == WAYMARK_ERR_TOO_LARGE);
  CHECK(waymark_event_set_int(e, "k3", 2, 33) == WAYMARK_OK);  // replacing is fine at the limit
  CHECK(waymark_event_set_channel(e, static_cast<waymark_channel_t>(99)) == WAYMARK_ERR_INVALID_ARGUMENT);
  CHECK(waymark_event_set_channel(e, WAYMARK_CHANNEL_PRINT) == WAYMARK_OK);  // the last channel appended
  CHECK(waymark_event_set_channel(e, static_cast<waymark_channel_t>(WAYMARK_CHANNEL_PRINT + 1)) ==
        WAYMARK_ERR_INVALID_ARGUMENT);
  waymark_event_free(e);
}

TEST_CASE("a recorded event carries its stamp, properties, revenue, campaign and identifiers", "[capi]") {
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), {}, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(waymark_client_identify(c, WAYMARK_ID_EMAIL, "Jane@Example.com", 16) == WAYMARK_OK);
  waymark_event_t* e = nullptr;
  REQUIRE(waymark_event_new(WAYMARK_EVENT_PURCHASE, "order", 5, &e) == WAYMARK_OK);
  waymark_event_set_channel(e, WAYMARK_CHANNEL_POS);
  waymark_event_set_string(e, "sku", 3, "A-1", 3);
  waymark_event_set_double(e, "weight", 6, 1.5);
  REQUIRE(waymark_event_set_revenue_decimal(e, 12.345, "JPY", 3) == WAYMARK_OK);  // JPY has no minor unit
  REQUIRE(waymark_event_set_revenue_decimal(e, 19.99, "eur", 3) == WAYMARK_OK);
  waymark_event_set_campaign(e, "newsletter", 10, "email", 5, "spring", 6, nullptr, 0);
  REQUIRE(waymark_client_record(c, e) == WAYMARK_OK);
  REQUIRE(waymark_client_record(c, e) == WAYMARK_OK);  // a builder can be reused
  waymark_event_free(e);
  REQUIRE(waymark_client_flush(c, 5000) == WAYMARK_OK);
  CHECK(client_stat(c, WAYMARK_STAT_QUEUED) == 4);  // consent, identify, 2 purchases
  CHECK(client_stat(c, WAYMARK_STAT_BYTES) > 0);
  uint8_t expected[32];
  REQUIRE(waymark_client_pseudonymize(c, WAYMARK_ID_EMAIL, " jane@example.com", 17, expected, 32) == WAYMARK_OK);
  waymark_client_free(c);

  const auto rows = stored_events(dir.store());
  REQUIRE(rows.size() == 4);
  const auto* consent = as_event(rows[0]);
  CHECK(consent->type() == w::EventType::Consent);
  REQUIRE(consent->consent() != nullptr);
  CHECK(consent->consent()->granted());
  const auto* p1 = as_event(rows[2]);
  const auto* p2 = as_event(rows[3]);
  CHECK(p1->type() == w::EventType::Purchase);
  CHECK(p1->channel() == w::Channel::Pos);
  CHECK(p1->sequence() < p2->sequence());
  CHECK(std::memcmp(p1->id()->data(), p2->id()->data(), 16) < 0);  // time-ordered ids
  CHECK((p1->id()->Get(6) >> 4) == 7);                             // UUIDv7
  CHECK(p1->revenue()->amount_minor() == 1999);
  CHECK(p1->revenue()->currency()->str() == "EUR");
  CHECK(p1->campaign()->source()->str() == "newsletter");
  CHECK(p1->properties()->size() == 2);
  CHECK(std::memcmp(p1->consent_head()->data(), consent->consent()->hash()->data(), 32) == 0);
  bool has_email = false, has_device = false;
  for (const auto* id : *p1->identifiers()) {
    if (id->kind() == w::IdKind::Email) {
      has_email = std::memcmp(id->pseudonym()->data(), expected, 32) == 0;
    }
    if (id->kind() == w::IdKind::DeviceId) has_device = id->linking();
  }
  CHECK(has_email);
  CHECK(has_device);  // personal device: the device id links
}

TEST_CASE("durable mode: record returns after the row is committed", "[capi]") {
  TempDir dir;
  ClientConfig config;
  config.durability = WAYMARK_DURABILITY_DURABLE;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), config, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  for (int i = 0; i < 20; ++i) REQUIRE(track(c, "tap") == WAYMARK_OK);
  // No flush: what returned OK is already on disk, readable by another connection.
  int64_t queued = client_stat(c, WAYMARK_STAT_QUEUED);
  CHECK(queued == 21);
  const auto rows = stored_events(dir.store());
  CHECK(rows.size() == 21);
  waymark_client_free(c);
}

TEST_CASE("sequence numbers keep increasing across restarts", "[capi]") {
  TempDir dir;
  uint64_t last = 0;
  for (int round = 0; round < 2; ++round) {
    waymark_client_t* c = nullptr;
    REQUIRE(open_client(dir.store(), {}, &c) == WAYMARK_OK);
    if (round == 0) REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
    REQUIRE(track(c, "tap") == WAYMARK_OK);
    waymark_client_free(c);
  }
  for (const auto& row : stored_events(dir.store())) {
    const auto* e = as_event(row);
    CHECK(e->sequence() > last);
    last = e->sequence();
  }
  CHECK(last == 3);
}

TEST_CASE("the async queue is bounded: overflow is refused and counted", "[capi]") {
  TempDir dir;
  ClientConfig config;
  config.queue_capacity = 1;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), config, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  int full = 0, ok = 0;
  for (int i = 0; i < 2000; ++i) {
    const waymark_status_t s = track(c, "burst");
    full += s == WAYMARK_ERR_QUEUE_FULL;
    ok += s == WAYMARK_OK;
  }
  REQUIRE(waymark_client_flush(c, 5000) == WAYMARK_OK);
  CHECK(full > 0);
  CHECK(ok + full == 2000);
  CHECK(client_stat(c, WAYMARK_STAT_DROPPED) == full);
  CHECK(client_stat(c, WAYMARK_STAT_QUEUED) == ok + 1);
  waymark_client_free(c);
}

TEST_CASE("a flush with nothing queued leaves the writer idle, not spinning", "[capi]") {
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), {}, &c) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 1000) == WAYMARK_OK);
  const std::clock_t before = std::clock();  // process CPU time
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(static_cast<double>(std::clock() - before) / CLOCKS_PER_SEC < 0.1);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);  // and it still commits
  waymark_client_free(c);
}
