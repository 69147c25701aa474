// The built-in transport: HTTP/1.1 POST over Boost.Beast, TLS through OpenSSL with host name
// verification and optional SPKI pins. Left out with WAYMARK_WITH_BUILTIN_TRANSPORT=OFF (boards whose
// firmware brings its own HTTP stack: the host transport is then the only one).
#include "transport/http_transport.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sodium.h>

namespace waymark::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

int64_t parse_retry_after(std::string_view v) {
  int64_t seconds = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
  if (ec != std::errc() || p != v.data() + v.size() || seconds < 0) return -1;  // HTTP-dates are ignored
  return std::min<int64_t>(seconds, 24 * 3600) * 1000;
}

// SHA-256 of the peer certificate's SubjectPublicKeyInfo (DER), the value pins are made of.
bool spki_sha256(SSL* ssl, std::array<uint8_t, 32>& out) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return false;
  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  X509_free(cert);
  if (len <= 0) return false;
  crypto_hash_sha256(out.data(), der, static_cast<unsigned long long>(len));
  OPENSSL_free(der);
  return true;
}

class BeastTransport final : public Transport {
 public:
  BeastTransport(asio::io_context& ioc, Url url, HttpTimeouts t, TlsConfig tls)
      : ioc_(ioc),
        resolver_(ioc),
        url_(std::move(url)),
        timeouts_(t),
        tls_config_(std::move(tls)),
        ssl_(asio::ssl::context::tls_client) {}

  Status init() {
    if (!url_.tls) return Status::Ok();
    beast::error_code ec;
    ssl_.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    ssl_.set_default_verify_paths(ec);  // the system trust store
    if (ec) return Error(WAYMARK_ERR_INVALID_ARGUMENT, "cannot load the system trust store");
    if (!tls_config_.ca_file.empty()) {
      ssl_.load_verify_file(tls_config_.ca_file, ec);
      if (ec) return Error(WAYMARK_ERR_INVALID_ARGUMENT, "cannot read the TLS CA file");
    }
    ssl_.set_verify_mode(asio::ssl::verify_peer, ec);
    return Status::Ok();
  }

  void post(std::vector<uint8_t> body, HttpHandler done) override {
    ++generation_;
    done_ = std::move(done);
    req_ = {http::verb::post, url_.target, 11};
    req_.set(http::field::host, url_.authority);
    req_.set(http::field::user_agent, "waymark-sdk/" WAYMARK_VERSION_STRING);
    req_.set(http::field::content_type, "application/vnd.waymark.envelope");
    req_.keep_alive(true);
    req_.body() = std::move(body);
    req_.prepare_payload();
    if (connected()) {
      reused_ = true;
      write();
    } else {
      reused_ = false;
      connect();
    }
  }

  void cancel() override {
    ++generation_;
    resolver_.cancel();
    if (plain_) plain_->cancel();
    if (tls_) beast::get_lowest_layer(*tls_).cancel();
    close();
  }

 private:
  bool connected() const { return plain_.has_value() || tls_.has_value(); }
  void close() {
    plain_.reset();
    tls_.reset();
  }
  beast::tcp_stream& tcp() { return plain_ ? *plain_ : beast::get_lowest_layer(*tls_); }

  void connect() {
    resolver_.async_resolve(url_.host, url_.port,
                            [this, g = generation_](beast::error_code ec, tcp::resolver::results_type results) {
                              if (g != generation_) return;
                              if (ec) return fail("cannot resolve the collector host");
                              if (url_.tls) {
                                tls_.emplace(ioc_, ssl_);
                              } else {
                                plain_.emplace(ioc_);
                              }
                              tcp().expires_after(std::chrono::milliseconds(timeouts_.connect_ms));
                              tcp().async_connect(results, [this, g](beast::error_code ec2, const tcp::endpoint&) {
                                if (g != generation_) return;
                                if (ec2) return fail("cannot connect to the collector");
                                if (!url_.tls) return write();
                                handshake();
                              });
                            });
  }

  void handshake() {
    // SNI, and the certificate must name the host (DNS name or IP address).
    beast::error_code not_ip;
    (void)asio::ip::make_address(url_.host, not_ip);  // SNI names hosts, never IP addresses (RFC 6066)
    if (not_ip && !SSL_set_tlsext_host_name(tls_->native_handle(), url_.host.c_str())) return fail("TLS setup failed");
    tls_->set_verify_callback(asio::ssl::host_name_verification(url_.host));
    tcp().expires_after(std::chrono::milliseconds(timeouts_.connect_ms));
    tls_->async_handshake(asio::ssl::stream_base::client, [this, g = generation_](beast::error_code ec) {
      if (g != generation_) return;
      if (ec) return fail("TLS handshake with the collector failed (certificate not trusted or wrong host?)");
      if (!tls_config_.pins.empty()) {
        std::array<uint8_t, 32> spki{};
        const bool pinned = spki_sha256(tls_->native_handle(), spki) &&
                            std::find(tls_config_.pins.begin(), tls_config_.pins.end(), spki) != tls_config_.pins.end();
        if (!pinned) return fail("the collector's certificate key does not match any configured pin");
      }
      write();
    });
  }

  void write() {
    tcp().expires_after(std::chrono::milliseconds(timeouts_.io_ms));
    if (tls_) {
      exchange(*tls_);
    } else {
      exchange(*plain_);
    }
  }

  template <class Stream>
  void exchange(Stream& stream) {
    http::async_write(stream, req_, [this, &stream, g = generation_](beast::error_code ec, size_t) {
      if (g != generation_) return;
      if (ec) return retry_or_fail("sending to the collector failed");
      parser_.emplace();
      parser_->body_limit(64 * 1024);
      buffer_.clear();
      http::async_read(stream, buffer_, *parser_, [this, g](beast::error_code ec2, size_t) {
        if (g != generation_) return;
        if (ec2) return retry_or_fail("reading the collector's response failed");
        auto res = parser_->release();
        HttpResult r;
        r.http_status = static_cast<int>(res.result_int());
        r.body = std::move(res.body());
        if (auto it = res.find(http::field::retry_after); it != res.end()) {
          r.retry_after_ms = parse_retry_after({it->value().data(), it->value().size()});
        }
        if (!res.keep_alive()) close();
        finish(std::move(r));
      });
    });
  }

  // A kept-alive connection the server closed while idle fails on first use: one fresh try.
  void retry_or_fail(const char* what) {
    if (reused_) {
      ++generation_;
      close();
      reused_ = false;
      return connect();
    }
    fail(what);
  }

  void fail(const char* what) {
    ++generation_;  // handlers of the streams closed below must not complete a later request
    close();
    HttpResult r;
    r.status = Error(WAYMARK_ERR_NETWORK, what);
    finish(std::move(r));
  }

  void finish(HttpResult r) {
    HttpHandler done = std::move(done_);
    done_ = nullptr;
    if (done) done(std::move(r));
  }

  asio::io_context& ioc_;
  tcp::resolver resolver_;
  Url url_;
  HttpTimeouts timeouts_;
  TlsConfig tls_config_;
  asio::ssl::context ssl_;
  std::optional<beast::tcp_stream> plain_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  bool reused_ = false;
  http::request<http::vector_body<uint8_t>> req_;
  std::optional<http::response_parser<http::vector_body<uint8_t>>> parser_;
  beast::flat_buffer buffer_;
  HttpHandler done_;
  // Bumped whenever a request ends or its streams are dropped: a handler from an older
  // generation (an aborted operation of a closed stream) never completes a later request.
  uint64_t generation_ = 0;
};

}  // namespace

Result<std::unique_ptr<Transport>> make_beast_transport(asio::io_context& ioc, Url url, HttpTimeouts timeouts,
                                                        const TlsConfig& tls) {
  auto t = std::make_unique<BeastTransport>(ioc, std::move(url), timeouts, tls);
  if (Status s = t->init(); !s.ok()) return s;
  return std::unique_ptr<Transport>(std::move(t));
}

}  // namespace waymark::detail
