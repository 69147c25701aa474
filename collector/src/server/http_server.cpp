#include "server/http_server.hpp"

#include <utility>  // before Asio (Boost 1.74 + g++ 12 in C++20)

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>

namespace waymark::collector {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using TlsContext = std::shared_ptr<ssl::context>;

namespace {

// 431 for headers over the parser's limit, 400 for anything else the HTTP parser refused, 0 when the
// read ended without a request to answer (closed, cut short, timed out).
int malformed_status(const beast::error_code& ec) {
  if (ec.category() != http::make_error_code(http::error::bad_method).category()) return 0;
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) return 0;
  return ec == http::error::header_limit ? 431 : 400;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Shared {
  ServerConfig config;
  Ingest* ingest;  // null on a node that takes no batches (merger, query)
  Metrics& metrics;
  QueryApi* api;
  std::atomic<bool> stopping{false};
  std::atomic<int> in_flight{0};
  std::atomic<int> connections{0};  // sessions alive

  // The TLS context new connections get (null: plain HTTP); reload_tls() replaces it.
  TlsContext tls() {
    std::lock_guard lock(tls_mu);
    return tls_context;
  }
  std::mutex tls_mu{};
  TlsContext tls_context{};  // guarded by tls_mu
};

// A server context from the configured files: TLS 1.2 or later, the certificate chain and its key,
// and (optionally) the CAs whose client certificates the query API requires.
Result<TlsContext> make_tls_context(const ServerConfig& c) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  const auto fail = [](const std::string& what, const std::string& path, const beast::error_code& ec) {
    return Error(Errc::invalid, "cannot use " + what + " " + path + ": " + ec.message());
  };
  beast::error_code ec;
  ctx->use_certificate_chain_file(c.tls_cert_file, ec);
  if (ec) return fail("tls-cert-file", c.tls_cert_file, ec);
  ctx->use_private_key_file(c.tls_key_file, ssl::context::pem, ec);  // checked against the certificate
  if (ec) return fail("tls-key-file", c.tls_key_file, ec);
  if (!c.tls_client_ca_file.empty()) {
    ctx->load_verify_file(c.tls_client_ca_file, ec);
    if (ec) return fail("tls-client-ca-file", c.tls_client_ca_file, ec);
    SSL_CTX_set_client_CA_list(ctx->native_handle(), SSL_load_client_CA_file(c.tls_client_ca_file.c_str()));
    ctx->set_verify_mode(ssl::verify_peer);  // asked for, not required: devices have none
    constexpr unsigned char kSessionContext[] = "waymark-collector";
    SSL_CTX_set_session_id_context(ctx->native_handle(), kSessionContext, sizeof kSessionContext - 1);
  }
  return ctx;
}

// Descriptors kept free for the store, the log, and connections answered beyond the cap.
constexpr int kSpareDescriptors = 128, kOverflowSlots = 64;

// The connection cap within the descriptor limit (raised to its hard maximum first).
int connection_cap(int configured) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return configured;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &lim);
    (void)getrlimit(RLIMIT_NOFILE, &lim);
  }
  if (lim.rlim_cur == RLIM_INFINITY) return configured;
  const auto fit = static_cast<int64_t>(lim.rlim_cur) - kSpareDescriptors;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(configured, fit)));
}

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection, over plain TCP or TLS.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  // `overflow`: beyond the connection cap: one short answer, then closed.
  Session(tcp::socket socket, Shared& shared, bool overflow, TlsContext tls)
      : stream_(make_stream(std::move(socket), tls)), shared_(shared), overflow_(overflow), tls_(std::move(tls)) {
    ++shared_.connections;
  }
  ~Session() { --shared_.connections; }

  void start() {
    if constexpr (kTls) {
      lowest().expires_after(deadline());
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (ec) return self->shared_.metrics.add("tls_handshake_failures_total", 1);
        self->read();
      });
    } else {
      read();
    }
  }

 private:
  static Stream make_stream(tcp::socket socket, const TlsContext& tls) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *tls);
    } else {
      return Stream(std::move(socket));
    }
  }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  std::chrono::milliseconds deadline() const {  // slow-loris
    return std::chrono::milliseconds(overflow_ ? shared_.config.overflow_timeout_ms : shared_.config.read_timeout_ms);
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(shared_.config.max_body_bytes);
    lowest().expires_after(deadline());
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  // Whether the client presented a certificate the configured client CAs signed.
  bool client_certified() {
    if constexpr (kTls) {
      SSL* ssl = stream_.native_handle();
      return SSL_get0_peer_certificate(ssl) != nullptr && SSL_get_verify_result(ssl) == X509_V_OK;
    } else {
      return false;
    }
  }

  double elapsed() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count(); }

  void on_read(beast::error_code ec) {
    started_ = std::chrono::steady_clock::now();
    if (ec && ec != http::error::body_limit) {
      const int status = malformed_status(ec);
      if (status == 0) return;  // closed or timed out: nobody to answer
      ++shared_.in_flight;
      shared_.metrics.request("malformed", status, elapsed());
      return respond(status, "text/plain", status == 431 ? "request header fields too large\n" : "malformed request\n",
                     false);
    }
    ++shared_.in_flight;
    if (ec) {
      shared_.metrics.refused_batch("oversized");
      return respond(413, "text/plain", "request too large\n", false);
    }
    const auto& req = parser_->get();
    const std::string target(req.target());
    const bool keep_alive = req.keep_alive() && !shared_.stopping && !overflow_;
    if (overflow_ && !(req.method() == http::verb::get && target == "/healthz")) {
      shared_.metrics.request("overflow", 503, elapsed());
      res_ = {};
      res_.set(http::field::retry_after, "1");
      res_.result(http::status::service_unavailable);
      res_.set(http::field::content_type, "text/plain");
      res_.body() = "too many connections\n";
      return write(false);
    }
    if (req.method() == http::verb::post && target == "/v1/batches" && shared_.ingest == nullptr) {
      shared_.metrics.request("/v1/batches", 404, elapsed());
      return respond(404, "text/plain", "this node takes no batches: send them to an ingest node\n", keep_alive);
    }
    if (req.method() == http::verb::post && target == "/v1/batches") {
      // Answered when the group commit that holds the batch is over; the I/O thread moves on to
      // other connections meanwhile, so many devices' batches share one commit.
      const auto& body = req.body();
      // The answer comes from the committer thread: it hands its only reference to the session over
      // to the I/O thread, so no session is ever released (its socket closed) off the I/O threads.
      shared_.ingest->submit(reinterpret_cast<const uint8_t*>(body.data()), body.size(), now_ms(),
                             [self = this->shared_from_this(), keep_alive](IngestResponse r) mutable {
                               const auto executor = self->stream_.get_executor();
                               asio::post(executor, [self = std::move(self), keep_alive, r = std::move(r)]() mutable {
                                 self->answer_batch(std::move(r), keep_alive);
                               });
                             });
      return;
    }
    if (req.method() == http::verb::get && target == "/healthz") {
      const auto why = shared_.config.degraded ? shared_.config.degraded() : std::nullopt;
      shared_.metrics.request("/healthz", why ? 503 : 200, elapsed());
      const std::string note = !why && shared_.config.health_note ? shared_.config.health_note() : "";
      return respond(why ? 503 : 200, "text/plain", why ? "degraded: " + *why + "\n" : "ok" + note + "\n", keep_alive);
    }
    if (req.method() == http::verb::get && target == "/metrics") {
      if (shared_.config.before_metrics) shared_.config.before_metrics();
      shared_.metrics.request("/metrics", 200, elapsed());
      return respond(200, "text/plain; version=0.0.4", shared_.metrics.prometheus(), keep_alive);
    }
    if (shared_.api != nullptr && !shared_.config.tls_client_ca_file.empty() && target.rfind("/v1/devices/", 0) != 0 &&
        !client_certified()) {
      shared_.metrics.request("client_certificate", 403, elapsed());
      return respond(403, "application/problem+json",
                     R"j({"title":"the query API requires a client certificate (tls-client-ca-file)","status":403})j",
                     keep_alive);
    }
    if (shared_.api != nullptr) {
      const auto auth = req[http::field::authorization];
      if (auto r = shared_.api->handle(std::string_view(req.method_string().data(), req.method_string().size()), target,
                                       std::string_view(auth.data(), auth.size()), req.body(), now_ms())) {
        shared_.metrics.request(r->route, r->status, elapsed());
        return respond(r->status, r->content_type.c_str(), std::move(r->body), keep_alive);
      }
    }
    shared_.metrics.request("other", 404, elapsed());
    respond(404, "text/plain", "not found\n", keep_alive);
  }

  void answer_batch(IngestResponse r, bool keep_alive) {
    shared_.metrics.request("/v1/batches", r.http_status, elapsed());
    res_ = {};
    res_.result(static_cast<http::status>(r.http_status));
    if (r.retry_after_s >= 0) res_.set(http::field::retry_after, std::to_string(r.retry_after_s));
    if (r.http_status == 200) {
      res_.set(http::field::content_type, "application/vnd.waymark.receipt");
      res_.body().assign(r.body.begin(), r.body.end());
    } else {
      res_.set(http::field::content_type, "text/plain");
      res_.body() = r.reason + "\n";
    }
    write(keep_alive);
  }

  void respond(int status, const char* type, std::string body, bool keep_alive) {
    res_ = {};
    res_.result(static_cast<http::status>(status));
    res_.set(http::field::content_type, type);
    res_.body() = std::move(body);
    write(keep_alive);
  }

  void write(bool keep_alive) {
    res_.version(11);
    res_.keep_alive(keep_alive);
    res_.set(http::field::server, "waymark-collector");
    res_.prepare_payload();
    http::async_write(stream_, res_, [self = this->shared_from_this(), keep_alive](beast::error_code ec, size_t) {
      --self->shared_.in_flight;
      if (ec || !keep_alive) return self->close(!ec);
      self->read();
    });
  }

  // TLS: close_notify first (within the overflow deadline) when the connection is still sound.
  void close(bool sound) {
    if constexpr (kTls) {
      if (sound) {
        lowest().expires_after(std::chrono::milliseconds(shared_.config.overflow_timeout_ms));
        return stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->close(false); });
      }
    }
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  Stream stream_;
  Shared& shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool overflow_ = false;
  TlsContext tls_;                                   // the context this connection was accepted with (null: plain)
  std::chrono::steady_clock::time_point started_{};  // when the request being answered was read
  http::response<http::string_body> res_;
};

}  // namespace

struct Server::Impl {
  Shared shared;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;

  // The background tick's timer lives on a strand of its own: its handler re-arms it on one I/O thread
  // while stop() cancels it from another (a data race TSan found; timers are not thread-safe).
  asio::strand<asio::io_context::executor_type> background_strand{asio::make_strand(ioc)};
  asio::steady_timer background{background_strand};
  asio::steady_timer accept_pause{ioc};

  Impl(ServerConfig c, Ingest* i, Metrics& m, QueryApi* api) : shared{std::move(c), i, m, api} {}

  void schedule_background() {
    if (!shared.config.background) return;
    background.expires_after(std::chrono::milliseconds(shared.config.background_interval_ms));
    background.async_wait([this](beast::error_code ec) {
      if (ec || shared.stopping) return;
      shared.config.background();
      schedule_background();
    });
  }

  // Beyond the cap, at most kOverflowSlots connections are being answered at once; more wait in the
  // kernel's queue. So the process never runs out of descriptors (the store and the log need them).
  void accept() {
    if (shared.connections.load() >= shared.config.max_connections + kOverflowSlots) return pause_accept(10);
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (shared.stopping || !acceptor.is_open()) return;
      if (!ec) {
        const bool overflow = shared.connections.load() >= shared.config.max_connections;
        if (overflow) shared.metrics.add("connections_over_cap_total", 1);
        if (auto tls = shared.tls()) {
          std::make_shared<Session<TlsStream>>(std::move(socket), shared, overflow, std::move(tls))->start();
        } else {
          std::make_shared<Session<PlainStream>>(std::move(socket), shared, overflow, nullptr)->start();
        }
        return accept();
      }
      // Out of descriptors (or another accept error): back off instead of spinning.
      shared.metrics.add("accept_errors_total", 1);
      pause_accept(50);
    });
  }

  void pause_accept(int64_t ms) {
    accept_pause.expires_after(std::chrono::milliseconds(ms));
    accept_pause.async_wait([this](beast::error_code ec) {
      if (!ec && !shared.stopping) accept();
    });
  }
};

Server::Server(ServerConfig config, Ingest& ingest, Metrics& metrics, QueryApi* api)
    : impl_(std::make_unique<Impl>(std::move(config), &ingest, metrics, api)) {}

Server::Server(ServerConfig config, Metrics& metrics, QueryApi* api)
    : impl_(std::make_unique<Impl>(std::move(config), nullptr, metrics, api)) {}

Server::~Server() {
  stop(0);
}

Status Server::reload_tls() {
  const ServerConfig& c = impl_->shared.config;
  if (c.tls_cert_file.empty()) return Error(Errc::invalid, "TLS is not configured");
  auto ctx = make_tls_context(c);
  if (!ctx.ok()) return ctx.status();
  std::lock_guard lock(impl_->shared.tls_mu);
  impl_->shared.tls_context = std::move(ctx.value());
  return Status::Ok();
}

Status Server::start() {
  if (!impl_->shared.config.tls_cert_file.empty()) {
    if (Status s = reload_tls(); !s.ok()) return s;
  }
  beast::error_code ec;
  const auto address = asio::ip::make_address(impl_->shared.config.address, ec);
  if (ec) return Error(Errc::invalid, "listen address is not an IP address");
  const tcp::endpoint ep(address, impl_->shared.config.port);
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error(Errc::listen, "cannot listen on " + impl_->shared.config.address + " port " +
                                   std::to_string(impl_->shared.config.port) + ": " + ec.message());
  }
  impl_->shared.config.max_connections = connection_cap(impl_->shared.config.max_connections);
  impl_->accept();
  impl_->schedule_background();
  for (int i = 0; i < std::max(1, impl_->shared.config.threads); ++i) {
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  }
  return Status::Ok();
}

int Server::max_connections() const {
  return impl_->shared.config.max_connections;
}

uint16_t Server::port() const {
  return impl_->acceptor.local_endpoint().port();
}

void Server::stop(int64_t drain_ms) {
  if (impl_->shared.stopping.exchange(true)) return;
  asio::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
    impl_->accept_pause.cancel();
  });
  asio::post(impl_->background_strand, [this] { impl_->background.cancel(); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(drain_ms);
  while (impl_->shared.in_flight > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Batches still being committed answer through this server's I/O threads: wait for the committer
  // (bounded by the store's busy timeout) so that no answer is posted to a stopped server.
  while (impl_->shared.ingest != nullptr && impl_->shared.ingest->waiting() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  impl_->ioc.stop();  // idle keep-alive connections are simply closed
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

}  // namespace waymark::collector
