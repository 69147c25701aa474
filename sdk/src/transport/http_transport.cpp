#include "transport/http_transport.hpp"

#include <charconv>

#include <boost/asio/post.hpp>

namespace waymark::detail {

namespace asio = boost::asio;

namespace {

// host[:port] or [IPv6][:port] -> host and port ("" when not given); false when malformed.
bool split_authority(std::string_view authority, std::string* host, std::string_view* port) {
  size_t host_end = authority.find(':');
  size_t after = host_end;
  if (!authority.empty() && authority.front() == '[') {  // an IPv6 literal: [::1] or [::1]:8443
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    *host = std::string(authority.substr(1, close - 1));
    after = close + 1 == authority.size() ? std::string_view::npos : close + 1;
    if (after != std::string_view::npos && authority[after] != ':') return false;
  } else {
    *host = std::string(authority.substr(0, host_end));
  }
  *port = after == std::string_view::npos ? std::string_view() : authority.substr(after + 1);
  // A colon with no port, or a second colon (an IPv6 address without brackets), is malformed.
  return after == std::string_view::npos || (!port->empty() && port->find(':') == std::string_view::npos);
}

}  // namespace

Result<Url> parse_url(std::string_view url) {
  Url out;
  std::string_view rest;
  if (url.rfind("https://", 0) == 0) {
    out.tls = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else {
    return Error(WAYMARK_ERR_INVALID_ARGUMENT, "collector URL must start with http:// or https://");
  }
  const size_t slash = rest.find('/');
  out.authority = std::string(rest.substr(0, slash));
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  std::string_view port_part;
  if (!split_authority(out.authority, &out.host, &port_part)) {
    return Error(WAYMARK_ERR_INVALID_ARGUMENT,
                 "collector URL has no valid host or port (an IPv6 address goes in brackets: https://[::1]:8443/...)");
  }
  out.port = port_part.empty() ? (out.tls ? "443" : "80") : std::string(port_part);
  int port = 0;
  const auto [p, ec] = std::from_chars(out.port.data(), out.port.data() + out.port.size(), port);
  if (out.host.empty() || ec != std::errc() || p != out.port.data() + out.port.size() || port < 1 || port > 65535) {
    return Error(WAYMARK_ERR_INVALID_ARGUMENT, "collector URL has no valid host or port");
  }
  return out;
}

namespace {

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

#ifndef WAYMARK_WITH_BUILTIN_TRANSPORT
Result<std::unique_ptr<Transport>> make_beast_transport(asio::io_context&, Url, HttpTimeouts, const TlsConfig&) {
  return Error(WAYMARK_ERR_INVALID_ARGUMENT,
               "built without the built-in HTTP transport (WAYMARK_WITH_BUILTIN_TRANSPORT=OFF): "
               "give the client a transport with waymark_options_set_transport");
}
#endif

std::unique_ptr<Transport> make_host_transport(asio::io_context& ioc, std::string url, waymark_transport_fn fn,
                                               void* user_data) {
  return std::make_unique<HostTransport>(ioc, std::move(url), fn, user_data);
}

}  // namespace waymark::detail
