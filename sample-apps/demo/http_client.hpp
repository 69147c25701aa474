// A keep-alive HTTP/1.1 client for the collector's query API (Boost.Beast, synchronous).
#pragma once

#include <utility>  // before Asio (g++ 12, C++20)

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <cstdint>
#include <string>

namespace demo {

class HttpClient {
 public:
  HttpClient(std::string host, uint16_t port, std::string bearer_token);
  struct Response {
    int status = 0;
    std::string body;
  };
  // GET with the bearer token; reconnects once if the kept-alive connection was closed.
  Response get(const std::string& target);
  // POST of `body` (sent once: a write is not repeated behind the caller's back).
  Response post(const std::string& target, const std::string& body);

 private:
  Response once(const std::string& target, const std::string* body = nullptr);
  std::string host_;
  uint16_t port_;
  std::string token_;
  boost::asio::io_context io_;
  boost::beast::tcp_stream stream_;
  bool connected_ = false;
};

}  // namespace demo
