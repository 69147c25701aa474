// TLS on the collector (issue 19): the collector spoke plain HTTP only, so bearer tokens travelled in
// clear unless a proxy was set up. It now serves HTTPS (TLS 1.2 or later) from certificate files it
// reads again on SIGHUP, and can require client certificates for the query API. Certificates are
// made at test time with the openssl command-line tool.
#include <catch2/catch.hpp>

#include <utility>  // before Asio

#include <cstdlib>
#include <fstream>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "support/collector_fixture.hpp"
#include "support/http_client.hpp"

using namespace waymark::test;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;

namespace {

void sh(const std::string& command) {
  INFO(command);
  REQUIRE(std::system((command + " 2>/dev/null").c_str()) == 0);
}

// A CA and a certificate it signed, in `dir`: <name>-ca.pem, <name>.pem and <name>.key.
struct Pki {
  std::string ca, cert, key;
  Pki(const TempDir& dir, const std::string& name, const std::string& san = "IP:127.0.0.1") {
    const std::string p = dir.path() + "/" + name;
    ca = p + "-ca.pem", cert = p + ".pem", key = p + ".key";
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
    sh("openssl req -x509 " + ec + "-days 2 -subj /CN=" + name + "-ca -keyout " + p + "-ca.key -out " + ca);
    sh("openssl req " + ec + "-subj /CN=" + name + " -keyout " + key + " -out " + p + ".csr");
    sh("printf 'subjectAltName=" + san + "' > " + p + ".ext && openssl x509 -req -in " + p + ".csr -CA " + ca +
       " -CAkey " + p + "-ca.key -CAcreateserial -days 2 -extfile " + p + ".ext -out " + cert);
  }
};

struct TlsClient {
  std::string ca{};           // trusted CA file
  std::string cert{}, key{};  // client certificate, or none
  int max_version = 0;        // e.g. TLS1_1_VERSION; 0: no limit
  std::string bearer{};
};

// One HTTPS GET: the status, or -1 when the handshake (or anything else) failed.
int get(uint16_t port, const std::string& target, const TlsClient& c) {
  try {
    asio::io_context ioc;
    ssl::context ctx(ssl::context::tls_client);
    ctx.load_verify_file(c.ca);
    ctx.set_verify_mode(ssl::verify_peer);
    if (!c.cert.empty()) {
      ctx.use_certificate_file(c.cert, ssl::context::pem);
      ctx.use_private_key_file(c.key, ssl::context::pem);
    }
    if (c.max_version != 0) SSL_CTX_set_max_proto_version(ctx.native_handle(), c.max_version);
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
    beast::get_lowest_layer(stream).connect({asio::ip::make_address("127.0.0.1"), port});
    stream.handshake(ssl::stream_base::client);
    beast::http::request<beast::http::empty_body> req(beast::http::verb::get, target, 11);
    req.set(beast::http::field::host, "127.0.0.1");
    if (!c.bearer.empty()) req.set(beast::http::field::authorization, "Bearer " + c.bearer);
    beast::http::write(stream, req);
    beast::flat_buffer buffer;
    beast::http::response<beast::http::string_body> res;
    beast::http::read(stream, buffer, res);
    return static_cast<int>(res.result_int());
  } catch (const std::exception&) {
    return -1;
  }
}

Collector::Configure tls_files(const Pki& server, const std::string& client_ca = "") {
  return [=](waymark::collector::ServerConfig& c) {
    c.tls_cert_file = server.cert;
    c.tls_key_file = server.key;
    c.tls_client_ca_file = client_ca;
  };
}

// A device that uploads one tracked event (and its consent record) to `collector`, trusting `ca`.
waymark_status_t upload(const Collector& collector, const std::string& ca) {
  TempDir dir;
  ClientConfig config = collector.client();
  config.tls_ca_file = ca;
  config.backoff_cap_ms = 100;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), config, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(track(c, "over_tls") == WAYMARK_OK);
  const waymark_status_t s = waymark_client_flush(c, 10000);
  waymark_client_free(c);
  return s;
}

std::string metric(const Collector& collector, const std::string& name) {
  const std::string body = collector.metrics.prometheus();
  const size_t at = body.find("\nwaymark_" + name + " ");
  REQUIRE(at != std::string::npos);
  return body.substr(at + name.size() + 10, body.find('\n', at + 1) - at - name.size() - 10);
}

}  // namespace

TEST_CASE("devices upload over HTTPS, plain HTTP and TLS 1.1 get nothing", "[collector][tls]") {
  TempDir dir;
  const Pki server(dir, "collector");
  Collector collector({}, 2000, "", 0, tls_files(server));
  REQUIRE(collector.url().rfind("https://", 0) == 0);
  CHECK(upload(collector, server.ca) == WAYMARK_OK);
  CHECK(collector.events() == 2);
  const uint16_t port = collector.server->port();
  CHECK(get(port, "/healthz", {server.ca}) == 200);
  CHECK(get(port, "/v1/profiles", {server.ca, "", "", 0, Collector::kReadToken}) == 200);
  CHECK(get(port, "/healthz", {server.ca, "", "", TLS1_1_VERSION}) == -1);
  CHECK(request(port, http::verb::get, "/healthz").status != 200);  // plain HTTP: no answer
  // Counted when the server's handshake completes, which may be just after the client gave up.
  for (int i = 0; i < 200 && metric(collector, "tls_handshake_failures_total") != "2"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(metric(collector, "tls_handshake_failures_total") == "2");
}

TEST_CASE("with tls-client-ca-file the query API needs a client certificate, devices do not", "[collector][tls]") {
  TempDir dir;
  const Pki server(dir, "collector"), analyst(dir, "analyst"), stranger(dir, "stranger");
  Collector collector({}, 2000, "", 0, tls_files(server, analyst.ca));
  const uint16_t port = collector.server->port();
  const TlsClient anonymous{server.ca, "", "", 0, Collector::kReadToken};
  TlsClient certified = anonymous;
  certified.cert = analyst.cert;
  certified.key = analyst.key;
  TlsClient forged = anonymous;
  forged.cert = stranger.cert;
  forged.key = stranger.key;
  CHECK(get(port, "/v1/profiles", anonymous) == 403);
  CHECK(get(port, "/v1/profiles", certified) == 200);
  CHECK(get(port, "/v1/profiles", forged) == -1);  // a certificate no configured CA signed: no handshake
  // Devices have no client certificate: ingest and segment pulls are theirs, health and metrics open.
  CHECK(upload(collector, server.ca) == WAYMARK_OK);
  CHECK(get(port, "/v1/devices/segments?device=00", anonymous) == 400);
  CHECK(get(port, "/healthz", anonymous) == 200);
  CHECK(get(port, "/metrics", anonymous) == 200);
}

TEST_CASE("a renewed certificate is served after a reload, unusable files keep the one in use",
          "[collector][tls][concurrent]") {
  TempDir dir;
  const Pki first(dir, "first"), renewed(dir, "renewed");
  TempDir live;  // the paths the collector is configured with
  const Pki serving{live, "serving"};
  sh("cp " + first.cert + " " + serving.cert + " && cp " + first.key + " " + serving.key);
  Collector collector({}, 2000, "", 0, tls_files(serving));
  const uint16_t port = collector.server->port();
  CHECK(get(port, "/healthz", {first.ca}) == 200);

  sh("cp " + renewed.cert + " " + serving.cert + " && cp " + renewed.key + " " + serving.key);
  CHECK(get(port, "/healthz", {first.ca}) == 200);  // read at start: the files change nothing by themselves
  REQUIRE(collector.server->reload_tls().ok());
  CHECK(get(port, "/healthz", {renewed.ca}) == 200);
  CHECK(get(port, "/healthz", {first.ca}) == -1);

  std::ofstream(serving.key) << "not a key\n";
  const auto failed = collector.server->reload_tls();
  CHECK_FALSE(failed.ok());
  CHECK(failed.message.find("tls-key-file") != std::string::npos);
  CHECK(get(port, "/healthz", {renewed.ca}) == 200);
  sh("cp " + first.cert + " " + serving.cert + " && cp " + renewed.key + " " + serving.key);
  CHECK(collector.server->reload_tls().message.find("key values mismatch") != std::string::npos);
  CHECK(get(port, "/healthz", {renewed.ca}) == 200);
}
