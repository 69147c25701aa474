// What the trust tests (issue 19) share: the brand's authority key, devices with analytics consent,
// and where an identifier's profile stands, all against the real collector.
#pragma once

#include <chrono>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "support/collector_fixture.hpp"
#include "support/http_client.hpp"
#include "support/test_support.hpp"

namespace waymark::test {

// The brand backend's authority key pair (Ed25519).
struct Authority {
  std::array<uint8_t, 32> pk{};
  std::array<uint8_t, 64> sk{};
  Authority() { crypto_sign_keypair(pk.data(), sk.data()); }
};

inline int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A fresh personal device that has granted analytics.
inline waymark_client_t* consenting_device(const Collector& collector, const TempDir& dir) {
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), collector.client(), &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  return c;
}

// The profile holding an identifier and its event count, or {0, 0}.
inline std::pair<int64_t, int64_t> profile_of(const Collector& collector, waymark_client_t* c, waymark_id_kind_t kind,
                                              const std::string& raw) {
  using nlohmann::json;
  const uint16_t port = collector.server->port();
  const Reply r = api_get(port, "/v1/profiles?pseudonym=" + pseudonym_hex(c, kind, raw), Collector::kAdminToken);
  if (r.status != 200) return {0, 0};
  const int64_t id = json::parse(r.body).at("profile_id").get<int64_t>();
  const Reply p = api_get(port, "/v1/profiles/" + std::to_string(id), Collector::kAdminToken);
  REQUIRE(p.status == 200);
  return {id, json::parse(p.body).at("events").get<int64_t>()};
}

}  // namespace waymark::test
