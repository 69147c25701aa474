#include "http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>

namespace demo {

namespace http = boost::beast::http;

HttpClient::HttpClient(std::string host, uint16_t port, std::string bearer_token)
    : host_(std::move(host)), port_(port), token_(std::move(bearer_token)), stream_(io_) {}

HttpClient::Response HttpClient::once(const std::string& target, const std::string* body) {
  if (!connected_) {
    stream_.expires_after(std::chrono::seconds(10));
    stream_.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address(host_), port_));
    connected_ = true;
  }
  http::request<http::string_body> req(body == nullptr ? http::verb::get : http::verb::post, target, 11);
  req.set(http::field::host, host_);
  req.set(http::field::authorization, "Bearer " + token_);
  req.keep_alive(true);
  if (body != nullptr) {
    req.body() = *body;
    req.prepare_payload();
  }
  stream_.expires_after(std::chrono::seconds(120));  // a report over a large store takes a while
  http::write(stream_, req);
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(256u << 20);
  http::read(stream_, buffer, parser);
  auto res = parser.release();
  if (!res.keep_alive()) {
    boost::system::error_code ignored;
    stream_.socket().close(ignored);
    connected_ = false;
  }
  return {static_cast<int>(res.result_int()), std::move(res.body())};
}

HttpClient::Response HttpClient::get(const std::string& target) {
  try {
    return once(target);
  } catch (const boost::system::system_error&) {
    boost::system::error_code ignored;
    stream_.socket().close(ignored);
    connected_ = false;
    return once(target);  // the server closed an idle connection: one fresh attempt
  }
}

HttpClient::Response HttpClient::post(const std::string& target, const std::string& body) {
  if (connected_) {  // a fresh connection: a kept-alive one the server closed would fail the write
    boost::system::error_code ignored;
    stream_.socket().close(ignored);
    connected_ = false;
  }
  return once(target, &body);
}

}  // namespace demo
