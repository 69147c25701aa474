#include "support/http_client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace waymark::test {

Reply request(uint16_t port, http::verb verb, const std::string& target, const std::vector<uint8_t>& body,
              const std::string& bearer) {
  boost::asio::io_context ioc;
  boost::beast::tcp_stream stream(ioc);
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  http::request<http::vector_body<uint8_t>> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
  req.body() = body;
  req.prepare_payload();
  boost::beast::error_code ec;
  // A server may answer (413) before the whole body is sent: a failed write still reads the reply.
  http::request_serializer<http::vector_body<uint8_t>> sr(req);
  http::write_header(stream, sr, ec);
  if (!ec && body.size() <= (1u << 20)) http::write(stream, sr, ec);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res, ec);
  Reply r;
  r.status = ec ? -1 : static_cast<int>(res.result_int());
  r.body = res.body();
  if (auto it = res.find(http::field::retry_after); it != res.end()) r.retry_after = std::string(it->value());
  return r;
}

Reply api_get(uint16_t port, const std::string& target, const std::string& bearer) {
  return request(port, http::verb::get, target, {}, bearer);
}

Reply api_post(uint16_t port, const std::string& target, const std::string& json, const std::string& bearer) {
  return request(port, http::verb::post, target, std::vector<uint8_t>(json.begin(), json.end()), bearer);
}

}  // namespace waymark::test
