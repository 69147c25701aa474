#include <catch2/catch.hpp>

#include <sodium.h>

#include "support/test_support.hpp"

using namespace waymark::test;
namespace w = waymark::wire::v1;

TEST_CASE("without consent nothing is stored and the refusal is counted", "[consent]") {
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), {}, &c) == WAYMARK_OK);
  CHECK(track(c, "view") == WAYMARK_DROPPED_NO_CONSENT);
  CHECK(waymark_client_identify(c, WAYMARK_ID_EMAIL, "jane@example.com", 16) == WAYMARK_DROPPED_NO_CONSENT);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  CHECK(track(c, "view") == WAYMARK_OK);
  CHECK(track(c, "ad-click", WAYMARK_PURPOSE_ADVERTISING) == WAYMARK_DROPPED_NO_CONSENT);
  REQUIRE(waymark_client_flush(c, 5000) == WAYMARK_OK);
  CHECK(client_stat(c, WAYMARK_STAT_REFUSED) == 3);
  CHECK(client_stat(c, WAYMARK_STAT_QUEUED) == 2);  // consent record + one view
  waymark_client_free(c);
}

TEST_CASE("consent persists across restarts and withdrawal purges queued events", "[consent]") {
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), {}, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_PERSONALISATION) == WAYMARK_OK);
  for (int i = 0; i < 5; ++i) REQUIRE(track(c, "view") == WAYMARK_OK);
  for (int i = 0; i < 3; ++i) REQUIRE(track(c, "reco", WAYMARK_PURPOSE_PERSONALISATION) == WAYMARK_OK);
  waymark_client_free(c);

  REQUIRE(open_client(dir.store(), {}, &c) == WAYMARK_OK);
  int granted = 0;
  REQUIRE(waymark_client_get_consent(c, WAYMARK_PURPOSE_ANALYTICS, &granted) == WAYMARK_OK);
  CHECK(granted == 1);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS, false) == WAYMARK_OK);
  REQUIRE(waymark_client_get_consent(c, WAYMARK_PURPOSE_ANALYTICS, &granted) == WAYMARK_OK);
  CHECK(granted == 0);
  CHECK(client_stat(c, WAYMARK_STAT_PURGED) == 5);
  CHECK(track(c, "view") == WAYMARK_DROPPED_NO_CONSENT);
  waymark_client_free(c);

  int consent_records = 0, views = 0, recos = 0;
  for (const auto& row : stored_events(dir.store())) {
    const auto* e = as_event(row);
    consent_records += e->type() == w::EventType::Consent;
    views += e->name()->str() == "view";
    recos += e->name()->str() == "reco";
  }
  CHECK(consent_records == 3);
  CHECK(views == 0);
  CHECK(recos == 3);  // other purposes untouched
}

TEST_CASE("consent records chain and carry the device signature", "[consent]") {
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), {}, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ADVERTISING) == WAYMARK_OK);
  CHECK(waymark_client_set_consent(c, WAYMARK_PURPOSE_ANALYTICS, 1, "", 0) == WAYMARK_ERR_INVALID_ARGUMENT);
  waymark_client_free(c);
  const auto rows = stored_events(dir.store());
  REQUIRE(rows.size() == 2);
  const auto* first = as_event(rows[0])->consent();
  const auto* second = as_event(rows[1])->consent();
  CHECK(std::equal(first->hash()->begin(), first->hash()->end(), second->prev_hash()->begin()));
  CHECK(crypto_sign_verify_detached(second->signature()->data(), second->hash()->data(), 32,
                                    second->device_public_key()->data()) == 0);
}

TEST_CASE("child mode: no advertising consent, no persistent device or cookie id", "[consent]") {
  TempDir dir;
  ClientConfig config;
  config.child_mode = true;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), config, &c) == WAYMARK_OK);
  CHECK(grant(c, WAYMARK_PURPOSE_ADVERTISING) == WAYMARK_ERR_NOT_ALLOWED);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  CHECK(waymark_client_identify(c, WAYMARK_ID_COOKIE_ID, "ck-123", 6) == WAYMARK_ERR_NOT_ALLOWED);
  REQUIRE(track(c, "lesson") == WAYMARK_OK);
  char out[80];
  size_t len = 0;
  CHECK(waymark_client_export_hashed(c, WAYMARK_ID_EMAIL, WAYMARK_EXPORT_UID2, "kid@example.com", 15, out, sizeof out,
                                     &len) == WAYMARK_ERR_NOT_ALLOWED);
  waymark_client_free(c);
  for (const auto& row : stored_events(dir.store())) {
    for (const auto* id : *as_event(row)->identifiers()) {
      CHECK(id->kind() != w::IdKind::DeviceId);
      CHECK(id->kind() != w::IdKind::CookieId);
    }
  }
}

TEST_CASE("the export adapter needs advertising consent", "[consent]") {
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), {}, &c) == WAYMARK_OK);
  char out[80];
  size_t len = 0;
  CHECK(waymark_client_export_hashed(c, WAYMARK_ID_EMAIL, WAYMARK_EXPORT_UID2, "user@example.com", 16, out, sizeof out,
                                     &len) == WAYMARK_ERR_NOT_ALLOWED);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ADVERTISING) == WAYMARK_OK);
  REQUIRE(waymark_client_export_hashed(c, WAYMARK_ID_EMAIL, WAYMARK_EXPORT_UID2, "user@example.com", 16, out,
                                       sizeof out, &len) == WAYMARK_OK);
  CHECK(std::string(out, len) == "tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ=");
  waymark_client_free(c);
}
