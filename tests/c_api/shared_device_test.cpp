#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <set>
#include <thread>

#include "support/test_support.hpp"

using namespace waymark::test;
namespace w = waymark::wire::v1;

namespace {
ClientConfig shared() {
  ClientConfig c;
  c.mode = WAYMARK_DEVICE_SHARED;
  return c;
}
}  // namespace

TEST_CASE("shared device: each visit is its own slot - nothing links through the device", "[shared]") {
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), shared(), &c) == WAYMARK_OK);
  CHECK(track(c, "idle") == WAYMARK_ERR_NO_CUSTOMER);
  CHECK(waymark_client_identify(c, WAYMARK_ID_LOYALTY_ID, "LC-1001", 7) == WAYMARK_ERR_NO_CUSTOMER);

  REQUIRE(waymark_client_begin_customer(c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(waymark_client_identify(c, WAYMARK_ID_LOYALTY_ID, "LC-1001", 7) == WAYMARK_OK);
  REQUIRE(track(c, "scan") == WAYMARK_OK);
  REQUIRE(waymark_client_end_customer(c) == WAYMARK_OK);

  REQUIRE(waymark_client_begin_customer(c) == WAYMARK_OK);
  int granted = 1;
  REQUIRE(waymark_client_get_consent(c, WAYMARK_PURPOSE_ANALYTICS, &granted) == WAYMARK_OK);
  CHECK(granted == 0);  // the previous customer's consent is gone
  CHECK(track(c, "scan") == WAYMARK_DROPPED_NO_CONSENT);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(track(c, "scan") == WAYMARK_OK);
  REQUIRE(waymark_client_end_customer(c) == WAYMARK_OK);
  CHECK(waymark_client_end_customer(c) == WAYMARK_OK);  // no slot open: fine
  waymark_client_free(c);

  std::set<std::string> slots;
  for (const auto& row : stored_events(dir.store())) {
    const auto* e = as_event(row);
    slots.insert(std::string(reinterpret_cast<const char*>(e->slot()->data()), 16));
    int loyalty = 0;
    for (const auto* id : *e->identifiers()) {
      if (id->kind() == w::IdKind::DeviceId) CHECK_FALSE(id->linking());
      loyalty += id->kind() == w::IdKind::LoyaltyId;
    }
    if (e->name()->str() == "scan" && slots.size() == 2) CHECK(loyalty == 0);  // second visitor carries no LC-1001
  }
  CHECK(slots.size() == 2);
}

TEST_CASE("shared device: an idle slot ends by itself", "[shared]") {
  TempDir dir;
  ClientConfig config = shared();
  config.idle_timeout_ms = 100;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), config, &c) == WAYMARK_OK);
  REQUIRE(waymark_client_begin_customer(c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(track(c, "tap") == WAYMARK_OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  CHECK(track(c, "tap") == WAYMARK_ERR_NO_CUSTOMER);
  waymark_client_free(c);
}

TEST_CASE("personal mode has no customer slots to begin", "[shared]") {
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), {}, &c) == WAYMARK_OK);
  CHECK(waymark_client_begin_customer(c) == WAYMARK_ERR_INVALID_ARGUMENT);
  waymark_client_free(c);
}

TEST_CASE("forget deletes the customer's queued events and queues an erasure request", "[shared]") {
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), shared(), &c) == WAYMARK_OK);
  REQUIRE(waymark_client_begin_customer(c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(track(c, "other-visitor") == WAYMARK_OK);
  REQUIRE(waymark_client_begin_customer(c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(waymark_client_identify(c, WAYMARK_ID_EMAIL, "jane@example.com", 16) == WAYMARK_OK);
  for (int i = 0; i < 4; ++i) REQUIRE(track(c, "mine") == WAYMARK_OK);
  uint8_t pseudonym[32];
  REQUIRE(waymark_client_pseudonymize(c, WAYMARK_ID_EMAIL, "jane@example.com", 16, pseudonym, 32) == WAYMARK_OK);
  REQUIRE(waymark_client_forget(c) == WAYMARK_OK);
  CHECK(track(c, "after") == WAYMARK_ERR_NO_CUSTOMER);  // the slot ended
  CHECK(client_stat(c, WAYMARK_STAT_PURGED) == 6);      // consent, identify, 4 events
  waymark_client_free(c);

  int erasures = 0, mine = 0, other = 0;
  for (const auto& row : stored_events(dir.store())) {
    const auto* e = as_event(row);
    mine += e->name()->str() == "mine";
    other += e->name()->str() == "other-visitor";
    if (e->type() == w::EventType::Erasure) {
      ++erasures;
      bool carries = false;
      for (const auto* id : *e->identifiers()) carries |= std::memcmp(id->pseudonym()->data(), pseudonym, 32) == 0;
      CHECK(carries);
    }
  }
  CHECK(erasures == 1);
  CHECK(mine == 0);
  CHECK(other == 1);
}

TEST_CASE("personal forget starts a fresh identity", "[shared]") {
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), {}, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(track(c, "before") == WAYMARK_OK);
  REQUIRE(waymark_client_forget(c) == WAYMARK_OK);
  int granted = 1;
  REQUIRE(waymark_client_get_consent(c, WAYMARK_PURPOSE_ANALYTICS, &granted) == WAYMARK_OK);
  CHECK(granted == 0);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(track(c, "after") == WAYMARK_OK);
  waymark_client_free(c);
  std::set<std::string> devices;
  for (const auto& row : stored_events(dir.store())) {
    for (const auto* id : *as_event(row)->identifiers()) {
      if (id->kind() == w::IdKind::DeviceId)
        devices.insert(std::string(reinterpret_cast<const char*>(id->pseudonym()->data()), 32));
    }
  }
  CHECK(devices.size() == 2);  // the erasure request carries the old device id, new events the new one
}
