#include "support/receiver.hpp"

#include <sys/socket.h>

#include <utility>  // before Asio

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <sodium.h>

#include "waymark/wire/v1/batch_generated.h"
#include "common/wire/envelope.hpp"

namespace waymark::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
namespace w = waymark::wire::v1;

struct Receiver::State {
  FaultPlan plan;
  std::optional<asio::ssl::context> tls;
  std::array<uint8_t, 32> pk{};
  std::array<uint8_t, 64> sk{};
  std::array<uint8_t, 64> forged_sk{};
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::thread accept_thread;
  std::atomic<bool> stopping{false};

  mutable std::mutex mu;
  std::vector<std::thread> sessions;
  std::vector<std::shared_ptr<tcp::socket>> sockets;
  std::set<std::string> events;
  size_t duplicates = 0;
  std::map<std::string, std::vector<uint8_t>> receipts;  // batch id -> receipt
  size_t resent = 0;
  int request_count = 0;
  std::vector<uint64_t> sequences;
  std::vector<int64_t> sent_monotonic;
  std::vector<std::vector<uint8_t>> bodies;

  // The fault planned for the next request (counting every request).
  Fault next_fault() {
    std::lock_guard lock(mu);
    const int index = request_count++;
    return plan ? plan(index) : Fault{};
  }

  // Returns the HTTP status and fills `response`.
  int process(const std::vector<uint8_t>& body, std::vector<uint8_t>* response, const Fault& fault) {
    auto opened = detail::open_envelope(body.data(), body.size(), sk.data());
    if (!opened.ok()) return 400;
    const w::Batch* batch = w::GetBatch(opened->batch.data());
    const std::string batch_id(reinterpret_cast<const char*>(batch->batch_id()->data()), 16);
    std::lock_guard lock(mu);
    bodies.push_back(body);
    sent_monotonic.push_back(batch->sent_monotonic_ms());
    if (auto it = receipts.find(batch_id); it != receipts.end()) {
      ++resent;
      *response = it->second;
      return 200;
    }
    detail::ReceiptFields f;
    std::memcpy(f.batch_id.data(), batch_id.data(), 16);
    for (const auto* blob : *batch->events()) {
      const auto* ev = flatbuffers::GetRoot<w::Event>(blob->bytes()->data());
      const std::string id(reinterpret_cast<const char*>(ev->id()->data()), ev->id()->size());
      sequences.push_back(ev->sequence());
      if (events.insert(id).second) {
        ++f.accepted;
      } else {
        ++f.duplicates;
        ++duplicates;
      }
    }
    receipts[batch_id] = detail::sign_receipt(f, kKeyId, sk.data());
    if (fault.kind == Fault::Kind::Forge) {
      *response = detail::sign_receipt(f, kKeyId, forged_sk.data());
    } else if (fault.kind == Fault::Kind::OtherReceipt) {
      detail::ReceiptFields other = f;
      other.batch_id[0] ^= 0xFF;
      *response = detail::sign_receipt(other, kKeyId, sk.data());
    } else {
      *response = receipts[batch_id];
    }
    return 200;
  }

  void session(std::shared_ptr<tcp::socket> socket) {
    if (!tls) return serve(*socket, *socket);
    beast::ssl_stream<tcp::socket&> stream(*socket, *tls);
    beast::error_code ec;
    stream.handshake(asio::ssl::stream_base::server, ec);
    if (!ec) serve(stream, *socket);
  }

  // A session closes its socket under `mu`, which the destructor holds while it shuts sockets down.
  void close(tcp::socket& socket) {
    std::lock_guard lock(mu);
    beast::error_code ec;
    socket.close(ec);
  }

  template <class Stream>
  void serve(Stream& stream, tcp::socket& raw) {
    auto* socket = &raw;
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::vector_body<uint8_t>> parser;
      parser.body_limit(detail::kMaxEnvelopeBytes);
      beast::error_code ec;
      http::read_header(stream, buffer, parser, ec);
      if (ec) return;
      const Fault fault = next_fault();
      if (fault.kind == Fault::Kind::ResetMidBody) {
        socket->set_option(asio::socket_base::linger(true, 0), ec);  // RST, not FIN
        close(*socket);
        return;
      }
      http::read(stream, buffer, parser, ec);
      if (ec) return;
      auto req = parser.release();
      if (fault.kind == Fault::Kind::Delay) std::this_thread::sleep_for(std::chrono::milliseconds(fault.delay_ms));
      http::response<http::vector_body<uint8_t>> res;
      res.version(11);
      res.keep_alive(req.keep_alive());
      if (fault.kind == Fault::Kind::Status) {
        res.result(static_cast<http::status>(fault.http_status));
        if (fault.retry_after_s >= 0) res.set(http::field::retry_after, std::to_string(fault.retry_after_s));
      } else {
        std::vector<uint8_t> body;
        res.result(static_cast<http::status>(process(req.body(), &body, fault)));
        res.body() = std::move(body);
        res.set(http::field::content_type, "application/vnd.waymark.receipt");
      }
      res.prepare_payload();
      if (fault.kind == Fault::Kind::LoseResponse) {
        close(*socket);
        return;
      }
      if (fault.kind == Fault::Kind::Truncate) {
        http::response_serializer<http::vector_body<uint8_t>> sr(res);
        http::write_header(stream, sr, ec);
        const auto& b = res.body();
        asio::write(stream, asio::buffer(b.data(), b.size() / 2), ec);
        close(*socket);
        return;
      }
      http::write(stream, res, ec);
      if (ec || !res.keep_alive()) return;
    }
  }
};

Receiver::Receiver(FaultPlan plan, std::optional<TlsFiles> tls) : state_(std::make_unique<State>()) {
  if (sodium_init() < 0) throw std::runtime_error("sodium_init");
  state_->plan = std::move(plan);
  if (tls) {
    state_->tls.emplace(asio::ssl::context::tls_server);
    state_->tls->use_certificate_chain_file(tls->cert_pem);
    state_->tls->use_private_key_file(tls->key_pem, asio::ssl::context::pem);
  }
  crypto_sign_keypair(state_->pk.data(), state_->sk.data());
  std::array<uint8_t, 32> forged_pk{};
  crypto_sign_keypair(forged_pk.data(), state_->forged_sk.data());
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  state_->acceptor.open(ep.protocol());
  state_->acceptor.set_option(asio::socket_base::reuse_address(true));
  state_->acceptor.bind(ep);
  state_->acceptor.listen();
  state_->accept_thread = std::thread([s = state_.get()] {
    while (!s->stopping) {
      auto socket = std::make_shared<tcp::socket>(s->ioc);
      beast::error_code ec;
      s->acceptor.accept(*socket, ec);
      if (ec || s->stopping) return;
      std::lock_guard lock(s->mu);
      s->sockets.push_back(socket);
      s->sessions.emplace_back([s, socket] { s->session(socket); });
    }
  });
}

Receiver::~Receiver() {
  state_->stopping = true;
  beast::error_code ec;
  {
    // A blocking accept() is not interrupted by close() from another thread: connect to wake it.
    tcp::socket wake(state_->ioc);
    wake.connect(state_->acceptor.local_endpoint(), ec);
  }
  if (state_->accept_thread.joinable()) state_->accept_thread.join();
  state_->acceptor.close(ec);
  std::vector<std::thread> sessions;
  {
    std::lock_guard lock(state_->mu);
    // Only the kernel socket is shut down here (which wakes a session blocked in a read); the asio
    // socket object belongs to its session thread until the join (TSan flagged closing it from here).
    for (auto& s : state_->sockets) ::shutdown(s->native_handle(), SHUT_RDWR);
    sessions.swap(state_->sessions);
  }
  for (auto& t : sessions) t.join();
}

std::string Receiver::url() const {
  return std::string(state_->tls ? "https" : "http") +
         "://127.0.0.1:" + std::to_string(state_->acceptor.local_endpoint().port()) + "/v1/batches";
}

const std::array<uint8_t, 32>& Receiver::public_key() const {
  return state_->pk;
}

int Receiver::handle(const std::vector<uint8_t>& body, std::vector<uint8_t>* response) {
  const Fault fault = state_->next_fault();
  if (fault.kind == Fault::Kind::Status) return fault.http_status;
  return state_->process(body, response, fault);
}

size_t Receiver::distinct_events() const {
  std::lock_guard lock(state_->mu);
  return state_->events.size();
}
size_t Receiver::duplicate_events() const {
  std::lock_guard lock(state_->mu);
  return state_->duplicates;
}
size_t Receiver::batches() const {
  std::lock_guard lock(state_->mu);
  return state_->receipts.size();
}
size_t Receiver::resent_batches() const {
  std::lock_guard lock(state_->mu);
  return state_->resent;
}
size_t Receiver::requests() const {
  std::lock_guard lock(state_->mu);
  return static_cast<size_t>(state_->request_count);
}
std::vector<uint64_t> Receiver::sequences_in_arrival_order() const {
  std::lock_guard lock(state_->mu);
  return state_->sequences;
}
std::vector<int64_t> Receiver::sent_monotonic_in_arrival_order() const {
  std::lock_guard lock(state_->mu);
  return state_->sent_monotonic;
}
std::vector<std::vector<uint8_t>> Receiver::envelopes() const {
  std::lock_guard lock(state_->mu);
  return state_->bodies;
}

}  // namespace waymark::test
