// TLS to the collector: system trust store plus a CA file, host name verification, key pins.
// Certificates are made at test time with the openssl command-line tool (an independent
// implementation of the SPKI pin hash).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "support/receiver.hpp"
#include "support/test_support.hpp"

using namespace waymark::test;

namespace {

struct Certs {
  TempDir dir;
  std::string cert, key;
  std::array<uint8_t, 32> pin{};
  // A self-signed certificate for `subject_alt_name` (e.g. "IP:127.0.0.1").
  explicit Certs(const std::string& subject_alt_name) {
    cert = dir.path() + "/cert.pem";
    key = dir.path() + "/key.pem";
    const std::string gen =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "-subj /CN=waymark-test -addext subjectAltName=" +
        subject_alt_name + " -keyout " + key + " -out " + cert + " 2>/dev/null";
    REQUIRE(std::system(gen.c_str()) == 0);
    const std::string pin_file = dir.path() + "/pin.bin";
    const std::string hash = "openssl x509 -in " + cert +
                             " -pubkey -noout | openssl pkey -pubin -outform der | "
                             "openssl dgst -sha256 -binary > " +
                             pin_file;
    REQUIRE(std::system(hash.c_str()) == 0);
    std::ifstream in(pin_file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(bytes.size() == 32);
    std::copy(bytes.begin(), bytes.end(), pin.begin());
  }
};

waymark_status_t upload(const Receiver& r, const std::string& ca_file, const std::array<uint8_t, 32>* pin) {
  TempDir dir;
  waymark_options_t* o = nullptr;
  REQUIRE(waymark_options_new(&o) == WAYMARK_OK);
  waymark_options_set_store_path(o, dir.store().data(), dir.store().size());
  waymark_options_set_app_id(o, "tls", 3);
  waymark_options_set_brand_key(o, kBrandKey, 32, 1);
  const std::string url = r.url();
  REQUIRE(waymark_options_set_collector_url(o, url.data(), url.size()) == WAYMARK_OK);
  waymark_options_add_collector_key(o, r.public_key().data(), 32, Receiver::kKeyId);
  waymark_options_set_retry_policy(o, 20, 100, 2000, 2000);
  if (!ca_file.empty()) waymark_options_set_tls_ca_file(o, ca_file.data(), ca_file.size());
  if (pin != nullptr) waymark_options_add_tls_pin(o, pin->data(), 32);
  waymark_platform_t p{};
  waymark_platform_null(&p);
  waymark_options_set_platform(o, &p);
  waymark_client_t* c = nullptr;
  REQUIRE(waymark_client_open(o, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(track(c, "secure") == WAYMARK_OK);
  const waymark_status_t s = waymark_client_flush(c, 1500);
  if (s != WAYMARK_OK) CHECK(client_stat(c, WAYMARK_STAT_QUEUED) == 2);  // nothing lost
  waymark_client_free(c);
  return s;
}

}  // namespace

TEST_CASE("https: a trusted certificate for the host uploads - others are refused", "[sync][tls]") {
  Certs certs("IP:127.0.0.1");
  Receiver receiver({}, TlsFiles{certs.cert, certs.key});
  REQUIRE(receiver.url().rfind("https://", 0) == 0);

  CHECK(upload(receiver, certs.cert, nullptr) == WAYMARK_OK);
  CHECK(receiver.distinct_events() == 2);

  CHECK(upload(receiver, "", nullptr) == WAYMARK_ERR_TIMEOUT);  // not in the system trust store
  CHECK(std::string(waymark_last_error_message()).find("TLS handshake") != std::string::npos);

  CHECK(upload(receiver, certs.cert, &certs.pin) == WAYMARK_OK);  // the right pin
  std::array<uint8_t, 32> wrong = certs.pin;
  wrong[0] ^= 1;
  CHECK(upload(receiver, certs.cert, &wrong) == WAYMARK_ERR_TIMEOUT);
  CHECK(std::string(waymark_last_error_message()).find("pin") != std::string::npos);
}

TEST_CASE("https: a certificate for another host name is refused", "[sync][tls]") {
  Certs certs("DNS:collector.example.com");
  Receiver receiver({}, TlsFiles{certs.cert, certs.key});
  CHECK(upload(receiver, certs.cert, nullptr) == WAYMARK_ERR_TIMEOUT);
  CHECK(receiver.distinct_events() == 0);
}

TEST_CASE("an unreadable CA file is a clear error at open", "[sync][tls]") {
  TempDir dir;
  waymark_options_t* o = nullptr;
  REQUIRE(waymark_options_new(&o) == WAYMARK_OK);
  waymark_options_set_store_path(o, dir.store().data(), dir.store().size());
  waymark_options_set_app_id(o, "tls", 3);
  waymark_options_set_brand_key(o, kBrandKey, 32, 1);
  const std::string url = "https://127.0.0.1:9/v1/batches";
  waymark_options_set_collector_url(o, url.data(), url.size());
  uint8_t pk[32] = {1};
  waymark_options_add_collector_key(o, pk, 32, 1);
  waymark_options_set_tls_ca_file(o, "/nonexistent/ca.pem", 19);
  waymark_client_t* c = nullptr;
  CHECK(waymark_client_open(o, &c) == WAYMARK_ERR_INVALID_ARGUMENT);
  CHECK(std::string(waymark_last_error_message()).find("CA file") != std::string::npos);
}
