// A blocking one-request HTTP/1.1 client for tests against the loopback collector.
#pragma once

#include <utility>  // before Asio

#include <cstdint>
#include <string>
#include <vector>

#include <boost/beast/http/verb.hpp>

namespace waymark::test {

namespace http = boost::beast::http;

struct Reply {
  int status = 0;  // -1: no response
  std::string body;
  std::string retry_after;
};

Reply request(uint16_t port, http::verb verb, const std::string& target, const std::vector<uint8_t>& body = {},
              const std::string& bearer = "");
// JSON requests to the query API.
Reply api_get(uint16_t port, const std::string& target, const std::string& bearer);
Reply api_post(uint16_t port, const std::string& target, const std::string& json, const std::string& bearer);

}  // namespace waymark::test
