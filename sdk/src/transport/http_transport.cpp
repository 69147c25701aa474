#include "transport/http_transport.hpp"

#include <charconv>
#include <optional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace waymark::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Result<Url> parse_url(std::string_view url) {
  constexpr std::string_view kHttp = "http://";
  if (url.rfind("https://", 0) == 0) {
    return Error(WAYMARK_ERR_INVALID_ARGUMENT, "https collector URLs need TLS, which this build does not have yet");
  }
  if (url.rfind(kHttp, 0) != 0) return Error(WAYMARK_ERR_INVALID_ARGUMENT, "collector URL must start with http://");
  std::string_view rest = url.substr(kHttp.size());
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  Url out;
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    out.host = std::string(authority.substr(0, colon));
    out.port = std::string(authority.substr(colon + 1));
  } else {
    out.host = std::string(authority);
    out.port = "80";
  }
  int port = 0;
  const auto [p, ec] = std::from_chars(out.port.data(), out.port.data() + out.port.size(), port);
  if (out.host.empty() || ec != std::errc() || p != out.port.data() + out.port.size() || port < 1 || port > 65535) {
    return Error(WAYMARK_ERR_INVALID_ARGUMENT, "collector URL has no valid host or port");
  }
  return out;
}

namespace {

int64_t parse_retry_after(std::string_view v) {
  int64_t seconds = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
  if (ec != std::errc() || p != v.data() + v.size() || seconds < 0) return -1;  // HTTP-dates are ignored
  return std::min<int64_t>(seconds, 24 * 3600) * 1000;
}

class BeastTransport final : public Transport {
 public:
  BeastTransport(asio::io_context& ioc, Url url, HttpTimeouts t)
      : ioc_(ioc), resolver_(ioc), url_(std::move(url)), timeouts_(t) {}

  void post(std::vector<uint8_t> body, HttpHandler done) override {
    done_ = std::move(done);
    req_ = {http::verb::post, url_.target, 11};
    req_.set(http::field::host, url_.host);
    req_.set(http::field::user_agent, "waymark-sdk/" WAYMARK_VERSION_STRING);
    req_.set(http::field::content_type, "application/vnd.waymark.envelope");
    req_.keep_alive(true);
    req_.body() = std::move(body);
    req_.prepare_payload();
    if (stream_) {
      reused_ = true;
      write();
    } else {
      reused_ = false;
      connect();
    }
  }

  void cancel() override {
    resolver_.cancel();
    if (stream_) stream_->cancel();
    stream_.reset();
  }

 private:
  void connect() {
    resolver_.async_resolve(url_.host, url_.port, [this](beast::error_code ec, tcp::resolver::results_type results) {
      if (ec) return fail("cannot resolve the collector host");
      stream_.emplace(ioc_);
      stream_->expires_after(std::chrono::milliseconds(timeouts_.connect_ms));
      stream_->async_connect(results, [this](beast::error_code ec2, const tcp::endpoint&) {
        if (ec2) return fail("cannot connect to the collector");
        write();
      });
    });
  }

  void write() {
    stream_->expires_after(std::chrono::milliseconds(timeouts_.io_ms));
    http::async_write(*stream_, req_, [this](beast::error_code ec, size_t) {
      if (ec) return retry_or_fail("sending to the collector failed");
      parser_.emplace();
      parser_->body_limit(64 * 1024);
      buffer_.clear();
      http::async_read(*stream_, buffer_, *parser_, [this](beast::error_code ec2, size_t) {
        if (ec2) return retry_or_fail("reading the collector's response failed");
        auto res = parser_->release();
        HttpResult r;
        r.http_status = static_cast<int>(res.result_int());
        r.body = std::move(res.body());
        if (auto it = res.find(http::field::retry_after); it != res.end())
          r.retry_after_ms = parse_retry_after({it->value().data(), it->value().size()});
        if (!res.keep_alive()) stream_.reset();
        finish(std::move(r));
      });
    });
  }

  // A kept-alive connection the server closed while idle fails on first use: one fresh try.
  void retry_or_fail(const char* what) {
    stream_.reset();
    if (reused_) {
      reused_ = false;
      return connect();
    }
    fail(what);
  }

  void fail(const char* what) {
    stream_.reset();
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
  std::optional<beast::tcp_stream> stream_;
  bool reused_ = false;
  http::request<http::vector_body<uint8_t>> req_;
  std::optional<http::response_parser<http::vector_body<uint8_t>>> parser_;
  beast::flat_buffer buffer_;
  HttpHandler done_;
};

class HostTransport final : public Transport {
 public:
  HostTransport(asio::io_context& ioc, std::string url, waymark_transport_fn fn, void* user_data)
      : ioc_(ioc), url_(std::move(url)), fn_(fn), user_data_(user_data) {}

  void post(std::vector<uint8_t> body, HttpHandler done) override {
    HttpResult r;
    r.body.resize(64 * 1024);
    int32_t status = 0;
    size_t len = 0;
    const waymark_status_t rc = fn_(url_.c_str(), body.data(), body.size(), &status, r.body.data(), r.body.size(), &len,
                                    &r.retry_after_ms, user_data_);
    if (rc != WAYMARK_OK || len > r.body.size()) {
      r.status = Error(WAYMARK_ERR_NETWORK, "the host transport reported a network failure");
      r.body.clear();
    } else {
      r.http_status = status;
      r.body.resize(len);
    }
    asio::post(ioc_, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  }

  void cancel() override {}

 private:
  asio::io_context& ioc_;
  std::string url_;
  waymark_transport_fn fn_;
  void* user_data_;
};

}  // namespace

std::unique_ptr<Transport> make_beast_transport(asio::io_context& ioc, Url url, HttpTimeouts timeouts) {
  return std::make_unique<BeastTransport>(ioc, std::move(url), timeouts);
}

std::unique_ptr<Transport> make_host_transport(asio::io_context& ioc, std::string url, waymark_transport_fn fn,
                                               void* user_data) {
  return std::make_unique<HostTransport>(ioc, std::move(url), fn, user_data);
}

}  // namespace waymark::detail
