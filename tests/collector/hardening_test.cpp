// Collector hardening (issue 19): answers to malformed requests, the Bearer scheme, unmerge of what does
// not exist, CSV fields a spreadsheet would run.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/collector_fixture.hpp"
#include "support/http_client.hpp"

using namespace waymark::test;

namespace {

// Sends `raw` on a new connection and returns everything the collector answers before closing.
std::string exchange(uint16_t port, const std::string& raw) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(raw.size()));
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

}  // namespace

TEST_CASE("malformed requests get 400 and oversized headers 431 instead of a closed connection",
          "[collector][hardening]") {
  Collector collector;
  const uint16_t port = collector.server->port();
  CHECK(exchange(port, "NOT HTTP AT ALL\r\n\r\n").rfind("HTTP/1.1 400", 0) == 0);
  CHECK(exchange(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n").rfind("HTTP/1.1 400", 0) ==
        0);
  const std::string huge = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + std::string(20000, 'p') + "\r\n\r\n";
  CHECK(exchange(port, huge).rfind("HTTP/1.1 431", 0) == 0);
  CHECK(request(port, http::verb::get, "/healthz").status == 200);  // and it goes on serving
}

TEST_CASE("the Bearer scheme is matched whatever its case", "[collector][hardening]") {
  Collector collector;
  for (const char* scheme : {"Bearer ", "bearer ", "BEARER "}) {
    const auto r = collector.api->handle("GET", "/v1/profiles", std::string(scheme) + Collector::kReadToken, "", 0);
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  CHECK(collector.api->handle("GET", "/v1/profiles", std::string("Basic ") + Collector::kReadToken, "", 0)->status ==
        401);
}

TEST_CASE("unmerge of an event or batch the collector never saw answers 404", "[collector][hardening]") {
  Collector collector;
  const uint16_t port = collector.server->port();
  const std::string unknown(32, 'a');
  CHECK(api_post(port, "/v1/unmerge", "{\"event_id\": \"" + unknown + "\"}", Collector::kAdminToken).status == 404);
  CHECK(api_post(port, "/v1/unmerge", "{\"batch_id\": \"" + unknown + "\"}", Collector::kAdminToken).status == 404);
}

TEST_CASE("CSV fields never start a spreadsheet formula and quote carriage returns", "[collector][hardening]") {
  using waymark::collector::csv_field;
  CHECK(csv_field("=HYPERLINK(\"http://x\")") == "\"'=HYPERLINK(\"\"http://x\"\")\"");
  CHECK(csv_field("+1") == "'+1");
  CHECK(csv_field("-2") == "'-2");
  CHECK(csv_field("@SUM(A1)") == "'@SUM(A1)");
  CHECK(csv_field("a\rb") == "\"a\rb\"");
  CHECK(csv_field("newsletter / email / spring") == "newsletter / email / spring");
}
