// TLS to the collector: system trust store plus a CA file, host name verification, key pins.
// Certificates are made at test time with the openssl command-line tool (an independent
// implementation of the SPKI pin hash).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include <sodium.h>

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
  ClientConfig config;
  config.collector_url = r.url();
  config.collector_keys = {{Receiver::kKeyId, r.public_key()}};
  config.backoff_cap_ms = 100;
  config.tls_ca_file = ca_file;
  if (pin != nullptr) config.tls_pins.push_back(*pin);
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), config, &c) == WAYMARK_OK);
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
  ClientConfig config;
  config.collector_url = "https://127.0.0.1:9/v1/batches";
  std::array<uint8_t, 32> pk{};
  uint8_t sk[64];
  crypto_sign_keypair(pk.data(), sk);
  config.collector_keys = {{1, pk}};
  config.tls_ca_file = "/nonexistent/ca.pem";
  waymark_client_t* c = nullptr;
  CHECK(open_client(dir.store(), config, &c) == WAYMARK_ERR_INVALID_ARGUMENT);
  CHECK(std::string(waymark_last_error_message()).find("CA file") != std::string::npos);
}
