// The signed segment list devices pull for on-device personalisation: the wire contract (signed
// request, list signed by the collector and sealed to the device) and the real collector answering
// real SDK clients.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "analytics/segments.hpp"
#include "support/collector_fixture.hpp"
#include "support/http_client.hpp"
#include "common/wire/envelope.hpp"

using namespace waymark::test;
namespace d = waymark::detail;

namespace {

struct DeviceKeys {
  std::array<uint8_t, 32> pk{};
  std::array<uint8_t, 64> sk{};
  DeviceKeys() { crypto_sign_keypair(pk.data(), sk.data()); }
};

d::SegmentRequest request_for(const DeviceKeys& device) {
  d::SegmentRequest r;
  r.device_public_key = device.pk;
  randombytes_buf(r.slot.data(), r.slot.size());
  randombytes_buf(r.nonce.data(), r.nonce.size());
  return r;
}

std::string param(const std::string& query, const std::string& name) {
  const size_t at = query.find(name + "=");
  REQUIRE(at != std::string::npos);
  const size_t end = query.find('&', at);
  return query.substr(at + name.size() + 1, end == std::string::npos ? end : end - at - name.size() - 1);
}

std::vector<std::string> fetch(waymark_client_t* client, waymark_status_t expect = WAYMARK_OK) {
  waymark_segments_t* list = nullptr;
  const waymark_status_t s = waymark_client_fetch_segments(client, 5000, &list);
  INFO(waymark_last_error_message());
  REQUIRE(s == expect);
  std::vector<std::string> names;
  for (size_t i = 0; i < waymark_segments_count(list); ++i) names.emplace_back(waymark_segments_name(list, i));
  CHECK(waymark_segments_name(list, names.size()) == nullptr);
  waymark_segments_free(list);
  return names;
}

}  // namespace

TEST_CASE("segment lists: signed requests, lists only the asking device can open", "[wire][segments][store]") {
  REQUIRE(sodium_init() >= 0);
  DeviceKeys device, other_device;
  std::array<uint8_t, 32> collector_pk{};
  std::array<uint8_t, 64> collector_sk{};
  crypto_sign_keypair(collector_pk.data(), collector_sk.data());
  const std::vector<std::pair<uint32_t, std::array<uint8_t, 32>>> trusted = {{7, collector_pk}};

  const d::SegmentRequest asked = request_for(device);
  const std::string query = d::sign_segment_request(asked, device.sk.data());
  auto verified = d::verify_segment_request(param(query, "device"), param(query, "slot"), param(query, "nonce"),
                                            param(query, "signature"));
  REQUIRE(verified.ok());
  CHECK(verified.value().slot == asked.slot);
  CHECK(verified.value().nonce == asked.nonce);
  // Another nonce under the same signature, or a signature by another key: refused.
  std::string forged_nonce = param(query, "nonce");
  forged_nonce[0] = forged_nonce[0] == '0' ? '1' : '0';
  CHECK(d::verify_segment_request(param(query, "device"), param(query, "slot"), forged_nonce, param(query, "signature"))
            .status()
            .code == WAYMARK_ERR_CRYPTO);
  const std::string foreign = d::sign_segment_request(asked, other_device.sk.data());
  CHECK(d::verify_segment_request(param(query, "device"), param(query, "slot"), param(query, "nonce"),
                                  param(foreign, "signature"))
            .status()
            .code == WAYMARK_ERR_CRYPTO);
  CHECK(d::verify_segment_request("zz", param(query, "slot"), param(query, "nonce"), param(query, "signature"))
            .status()
            .code == WAYMARK_ERR_INVALID_VALUE);

  d::SegmentListFields fields;
  fields.request = asked;
  fields.issued_at_ms = fields.as_of_ms = 1'775'001'600'000;
  fields.personalisation = true;
  fields.segments = {"big_spenders", "pos_regulars"};
  auto sealed = d::seal_segment_list(fields, 7, collector_sk.data());
  REQUIRE(sealed.ok());
  const auto& bytes = sealed.value();
  auto opened = d::open_segment_list(bytes.data(), bytes.size(), asked, device.sk.data(), trusted);
  REQUIRE(opened.ok());
  CHECK(opened.value().segments == fields.segments);
  CHECK(opened.value().as_of_ms == fields.as_of_ms);
  CHECK(opened.value().personalisation);

  // Only the asking device can open it; a flipped byte, another request's nonce or an untrusted
  // signing key are each refused.
  d::SegmentRequest theirs = asked;
  theirs.device_public_key = other_device.pk;
  CHECK(d::open_segment_list(bytes.data(), bytes.size(), theirs, other_device.sk.data(), trusted).status().code ==
        WAYMARK_ERR_CRYPTO);
  auto flipped = bytes;
  flipped[flipped.size() / 2] ^= 1;
  CHECK(d::open_segment_list(flipped.data(), flipped.size(), asked, device.sk.data(), trusted).status().code ==
        WAYMARK_ERR_CRYPTO);
  d::SegmentRequest later = asked;
  later.nonce[0] ^= 1;
  CHECK(d::open_segment_list(bytes.data(), bytes.size(), later, device.sk.data(), trusted).status().code ==
        WAYMARK_ERR_CRYPTO);
  CHECK(d::open_segment_list(bytes.data(), bytes.size(), asked, device.sk.data(), {{8, collector_pk}}).status().code ==
        WAYMARK_ERR_CRYPTO);
  CHECK(d::open_segment_list(bytes.data(), 10, asked, device.sk.data(), trusted).status().code ==
        WAYMARK_ERR_INVALID_VALUE);
}

TEST_CASE("devices pull their customer's segments: consent-gated, device-authenticated, sealed",
          "[api][segments][store]") {
  Collector c;
  auto rule = waymark::collector::analytics::parse_rule_segment("app_fans: channel.app >= 3");
  REQUIRE(rule.ok());
  waymark::collector::ReportSettings settings;
  settings.segments = {rule.value()};
  c.api->set_reports(settings);

  const auto customer = [&](TempDir& dir, bool personalisation) {
    waymark_client_t* client = nullptr;
    REQUIRE(open_client(dir.store(), c.client(), &client) == WAYMARK_OK);
    REQUIRE(grant(client, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
    if (personalisation) REQUIRE(grant(client, WAYMARK_PURPOSE_PERSONALISATION) == WAYMARK_OK);
    for (int i = 0; i < 3; ++i) REQUIRE(track(client, "open") == WAYMARK_OK);
    REQUIRE(waymark_client_flush(client, 5000) == WAYMARK_OK);
    return client;
  };
  TempDir phone_dir, tablet_dir, fresh_dir, kiosk_dir;
  waymark_client_t* phone = customer(phone_dir, true);
  waymark_client_t* tablet = customer(tablet_dir, false);

  CHECK(fetch(phone) == std::vector<std::string>{"app_fans"});
  CHECK(fetch(tablet).empty());  // personalisation not granted: nothing to personalise with
  REQUIRE(grant(tablet, WAYMARK_PURPOSE_PERSONALISATION) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(tablet, 5000) == WAYMARK_OK);
  CHECK(fetch(tablet) == std::vector<std::string>{"app_fans"});
  REQUIRE(grant(phone, WAYMARK_PURPOSE_PERSONALISATION, false) == WAYMARK_OK);  // withdrawn
  REQUIRE(waymark_client_flush(phone, 5000) == WAYMARK_OK);
  CHECK(fetch(phone).empty());

  // A device the collector has heard nothing from gets an empty list; a kiosk needs a customer.
  waymark_client_t* fresh = nullptr;
  REQUIRE(open_client(fresh_dir.store(), c.client(), &fresh) == WAYMARK_OK);
  waymark_segments_t* list = nullptr;
  REQUIRE(waymark_client_fetch_segments(fresh, 5000, &list) == WAYMARK_OK);
  CHECK(waymark_segments_count(list) == 0);
  CHECK(waymark_segments_as_of_ms(list) == 0);
  waymark_segments_free(list);
  ClientConfig shared = c.client();
  shared.mode = WAYMARK_DEVICE_SHARED;
  waymark_client_t* kiosk = nullptr;
  REQUIRE(open_client(kiosk_dir.store(), shared, &kiosk) == WAYMARK_OK);
  fetch(kiosk, WAYMARK_ERR_NO_CUSTOMER);
  for (waymark_client_t* client : {phone, tablet, fresh, kiosk}) {
    CHECK(waymark_client_close(client) == WAYMARK_OK);
    CHECK(waymark_client_fetch_segments(client, 100, &list) == WAYMARK_ERR_CLOSED);
    waymark_client_free(client);
  }

  // Straight at the endpoint: malformed 400, a bad signature 401, an unknown device 404, a body 405.
  const uint16_t port = c.server->port();
  DeviceKeys stranger;
  const std::string query = d::sign_segment_request(request_for(stranger), stranger.sk.data());
  CHECK(request(port, http::verb::get, "/v1/devices/segments?device=00").status == 400);
  std::string bad = query;
  bad[bad.size() - 1] = bad.back() == '0' ? '1' : '0';
  CHECK(request(port, http::verb::get, "/v1/devices/segments?" + bad).status == 401);
  CHECK(request(port, http::verb::get, "/v1/devices/segments?" + query).status == 404);
  CHECK(request(port, http::verb::post, "/v1/devices/segments?" + query, {1, 2, 3}).status == 405);
  CHECK(request(port, http::verb::get, "/v1/devices/other").status == 404);
}

TEST_CASE("a segment pull that gets no answer times out cleanly", "[api][segments][store]") {
  // A socket that listens but never answers: the connection is queued, no response ever comes.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(fd, 8) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ClientConfig config;
  config.collector_url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/v1/batches";
  std::array<uint8_t, 32> pk{};
  std::array<uint8_t, 64> sk{};
  crypto_sign_keypair(pk.data(), sk.data());
  config.collector_keys = {{1, pk}};
  TempDir dir;
  waymark_client_t* client = nullptr;
  REQUIRE(open_client(dir.store(), config, &client) == WAYMARK_OK);
  waymark_segments_t* list = nullptr;
  CHECK(waymark_client_fetch_segments(client, 300, &list) == WAYMARK_ERR_TIMEOUT);
  CHECK(list == nullptr);
  CHECK(waymark_client_close(client) == WAYMARK_OK);
  waymark_client_free(client);
  close(fd);
}
