#include "reliability/fault_proxy.hpp"

#include <utility>  // before Asio

#include <array>
#include <atomic>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace waymark::test {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

enum class ChunkFault { None, Delay, Drop, Reset, Truncate, Corrupt };
constexpr const char* kChunkFaultNames[] = {"none", "delay", "drop", "reset", "truncate", "corrupt"};

constexpr std::string_view k503 =
    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
constexpr std::string_view k429 =
    "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

}  // namespace

// Everything runs on the one io thread, so sessions and the random generator need no locks;
// only the counters and the settings are read from other threads.
struct FaultProxy::State {
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::thread thread;
  std::mt19937 rng;
  std::atomic<uint16_t> upstream{0};
  std::atomic<double> rate{0};
  std::string only;  // one fault kind ("answer" for 503/429), or empty for all
  mutable std::mutex mu;
  std::map<std::string, uint64_t> counts;  // guarded by mu

  void count(const std::string& what) {
    std::lock_guard lock(mu);
    ++counts[what];
  }
  bool roll() { return std::uniform_real_distribution<double>(0, 1)(rng) < rate.load(); }
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

  void accept();
};

namespace {

struct Session : std::enable_shared_from_this<Session> {
  FaultProxy::State& proxy;
  tcp::socket client, server;
  std::array<asio::steady_timer, 2> timers;  // one per direction
  std::array<std::array<uint8_t, 16384>, 2> buf{};
  bool closed = false;

  Session(FaultProxy::State& p, tcp::socket c)
      : proxy(p), client(std::move(c)), server(p.ioc), timers{asio::steady_timer(p.ioc), asio::steady_timer(p.ioc)} {}

  void start() {
    const uint16_t port = proxy.upstream.load();
    if (port == 0) return down();
    server.async_connect({asio::ip::address_v4::loopback(), port}, [self = shared_from_this()](error_code ec) {
      if (ec) return self->down();
      self->pump(0);
      self->pump(1);
    });
  }

  void down() {
    proxy.count("upstream_down");
    close(false);
  }

  // An overloaded upstream: the request is answered with a canned status and the connection closed.
  void answer_itself(std::string_view response) {
    proxy.count(response == k503 ? "answer_503" : "answer_429");
    asio::async_write(client, asio::buffer(response.data(), response.size()),
                      [self = shared_from_this()](error_code, size_t) { self->close(false); });
  }

  // Direction 0 copies client -> server, direction 1 server -> client.
  void pump(int dir) {
    tcp::socket& from = dir == 0 ? client : server;
    from.async_read_some(asio::buffer(buf[dir]), [self = shared_from_this(), dir](error_code ec, size_t n) {
      if (self->closed) return;
      if (ec) return self->close(false);
      self->proxy.count("chunks");
      self->forward(dir, n);
    });
  }

  void forward(int dir, size_t n) {
    const bool request = dir == 0 && n >= 5 && std::memcmp(buf[0].data(), "POST ", 5) == 0;
    if (request && (proxy.only.empty() || proxy.only == "answer") && proxy.roll()) {
      return answer_itself(proxy.uniform(0, 1) == 0 ? k503 : k429);
    }
    auto fault = ChunkFault::None;
    if (proxy.only != "answer" && proxy.roll()) {
      fault = static_cast<ChunkFault>(proxy.uniform(1, 5));
      for (int k = 1; k <= 5; ++k) {
        if (proxy.only == kChunkFaultNames[k]) fault = static_cast<ChunkFault>(k);
      }
    }
    if (fault != ChunkFault::None) proxy.count(kChunkFaultNames[static_cast<int>(fault)]);
    switch (fault) {
      case ChunkFault::Drop: return close(false);
      case ChunkFault::Reset: return close(true);
      case ChunkFault::Truncate: return write(dir, n / 2, true);
      case ChunkFault::Corrupt:
        buf[dir][static_cast<size_t>(proxy.uniform(0, static_cast<int>(n) - 1))] ^=
            static_cast<uint8_t>(1u << proxy.uniform(0, 7));
        return write(dir, n, false);
      case ChunkFault::Delay:
        timers[dir].expires_after(std::chrono::milliseconds(proxy.uniform(20, 1200)));
        return timers[dir].async_wait([self = shared_from_this(), dir, n](error_code ec) {
          if (!ec && !self->closed) self->write(dir, n, false);
        });
      case ChunkFault::None: return write(dir, n, false);
    }
  }

  void write(int dir, size_t n, bool then_close) {
    tcp::socket& to = dir == 0 ? server : client;
    asio::async_write(to, asio::buffer(buf[dir].data(), n),
                      [self = shared_from_this(), dir, then_close](error_code ec, size_t) {
                        if (self->closed) return;
                        if (ec || then_close) return self->close(false);
                        self->pump(dir);
                      });
  }

  void close(bool reset) {
    if (closed) return;
    closed = true;
    error_code ignored;
    if (reset) client.set_option(tcp::socket::linger(true, 0), ignored);  // close sends RST
    for (auto& t : timers) t.cancel();
    client.close(ignored);
    server.close(ignored);
  }
};

}  // namespace

void FaultProxy::State::accept() {
  acceptor.async_accept([this](error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      count("connections");
      std::make_shared<Session>(*this, std::move(socket))->start();
    }
    accept();
  });
}

FaultProxy::FaultProxy(uint32_t seed, double fault_rate, std::string only) : state_(std::make_unique<State>()) {
  state_->rng.seed(seed);
  state_->only = std::move(only);
  state_->rate = fault_rate;
  const tcp::endpoint at(asio::ip::address_v4::loopback(), 0);
  state_->acceptor.open(at.protocol());
  state_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  state_->acceptor.bind(at);
  state_->acceptor.listen();
  state_->accept();
  state_->thread = std::thread([s = state_.get()] { s->ioc.run(); });
}

FaultProxy::~FaultProxy() {
  state_->ioc.stop();
  state_->thread.join();
}

uint16_t FaultProxy::port() const {
  return state_->acceptor.local_endpoint().port();
}

void FaultProxy::set_upstream(uint16_t port) {
  state_->upstream = port;
}

void FaultProxy::set_fault_rate(double rate) {
  state_->rate = rate;
}

std::map<std::string, uint64_t> FaultProxy::counts() const {
  std::lock_guard lock(state_->mu);
  return state_->counts;
}

}  // namespace waymark::test
