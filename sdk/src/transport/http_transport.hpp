// How a sealed envelope reaches the collector: HTTP/1.1 POST over Boost.Beast, or the host
// application's own HTTP stack through a callback (OkHttp, URLSession).
#pragma once

#include <utility>  // before Asio (Boost 1.74 + g++ 12 in C++20)

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "common/status.hpp"

namespace waymark::detail {

struct Url {
  bool tls = false;
  std::string host;  // a name, an IPv4 address, or an IPv6 address without its brackets
  std::string port;
  std::string target;     // path and query
  std::string authority;  // host[:port] as written in the URL (the Host header)
};

// Accepts http://host[:port]/path and https://host[:port]/path; an IPv6 host in brackets, e.g.
// https://[::1]:8443/v1/batches.
Result<Url> parse_url(std::string_view url);

// TLS settings: the system trust store plus an optional extra CA file, host name verification,
// and optional public-key pins (SHA-256 of the leaf certificate's SubjectPublicKeyInfo).
struct TlsConfig {
  std::string ca_file;
  std::vector<std::array<uint8_t, 32>> pins;
};

struct HttpResult {
  Status status;  // not OK: no HTTP response (network error, timeout)
  int http_status = 0;
  std::vector<uint8_t> body;
  int64_t retry_after_ms = -1;  // from Retry-After (seconds), -1 when absent
};

using HttpHandler = std::function<void(HttpResult)>;

// All calls and callbacks happen on the io_context's thread. One request at a time.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual void post(std::vector<uint8_t> body, HttpHandler done) = 0;
  virtual void cancel() = 0;
};

struct HttpTimeouts {
  int64_t connect_ms = 10000;
  int64_t io_ms = 30000;
};

// Fails (clear status) when the TLS context cannot be set up, e.g. an unreadable CA file.
Result<std::unique_ptr<Transport>> make_beast_transport(boost::asio::io_context& ioc, Url url, HttpTimeouts timeouts,
                                                        const TlsConfig& tls);
std::unique_ptr<Transport> make_host_transport(boost::asio::io_context& ioc, std::string url, waymark_transport_fn fn,
                                               void* user_data);

}  // namespace waymark::detail
