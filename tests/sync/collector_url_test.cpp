// Collector URLs (issue 27): the SDK's parser turned https://[::1]:8443 into host "[::1]:8443" on port
// 443. An IPv6 host is written in brackets; the SDK then connects to it, over TLS too.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "support/collector_fixture.hpp"
#include "transport/http_transport.hpp"

using namespace waymark::test;
using waymark::detail::parse_url;

TEST_CASE("collector URLs: names, IPv4 and bracketed IPv6 hosts, default and explicit ports", "[sync][url]") {
  struct Case {
    const char* url;
    const char* host;
    const char* port;
    const char* target;
    const char* authority;
  };
  for (const Case& c : {Case{"https://[::1]:8443/v1/batches", "::1", "8443", "/v1/batches", "[::1]:8443"},
                        Case{"http://[fd00::2]/v1/batches", "fd00::2", "80", "/v1/batches", "[fd00::2]"},
                        Case{"https://collector.example", "collector.example", "443", "/", "collector.example"},
                        Case{"http://10.0.0.7:8080/in?x=1", "10.0.0.7", "8080", "/in?x=1", "10.0.0.7:8080"}}) {
    INFO(c.url);
    auto u = parse_url(c.url);
    REQUIRE(u.ok());
    CHECK(u->host == c.host);
    CHECK(u->port == c.port);
    CHECK(u->target == c.target);
    CHECK(u->authority == c.authority);
  }
  for (const char* bad :
       {"https://::1:8443/v1/batches", "https://[::1/v1", "https://[::1]x/v1", "https://[::1]:/v1", "http://host:/",
        "http://host:0/", "http://host:65536/", "http://:80/", "ftp://host/", "http://host:8a/"}) {
    INFO(bad);
    CHECK(parse_url(bad).status().code == WAYMARK_ERR_INVALID_ARGUMENT);
  }
}

TEST_CASE("the SDK uploads to a collector on an IPv6 address, over HTTP and HTTPS", "[sync][url]") {
  for (const bool tls : {false, true}) {
    TempDir certs;
    const std::string cert = certs.path() + "/cert.pem", key = certs.path() + "/key.pem";
    if (tls) {
      const std::string gen =
          "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
          "-subj /CN=v6 -addext subjectAltName=IP:::1 -keyout " +
          key + " -out " + cert + " 2>/dev/null";
      REQUIRE(std::system(gen.c_str()) == 0);
    }
    Collector collector({}, 2000, "", 0, [&](waymark::collector::ServerConfig& c) {
      c.address = "::1";
      if (tls) c.tls_cert_file = cert, c.tls_key_file = key;
    });
    ClientConfig config = collector.client();
    config.collector_url =
        std::string(tls ? "https" : "http") + "://[::1]:" + std::to_string(collector.server->port()) + "/v1/batches";
    if (tls) config.tls_ca_file = cert;
    TempDir dir;
    waymark_client_t* c = nullptr;
    REQUIRE(open_client(dir.store(), config, &c) == WAYMARK_OK);
    REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
    REQUIRE(track(c, "v6") == WAYMARK_OK);
    INFO(tls);
    CHECK(waymark_client_flush(c, 5000) == WAYMARK_OK);
    CHECK(collector.events() == 2);
    waymark_client_free(c);
  }
}
