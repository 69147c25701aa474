#include <utility>  // before Asio

#include "support/nats_support.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include <boost/asio.hpp>

namespace fs = std::filesystem;

namespace waymark::test {

namespace {

int free_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

bool accepts(int port) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket s(ioc);
  boost::system::error_code ec;
  s.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)}, ec);
  return !ec;
}

}  // namespace

NatsServer::NatsServer(std::string dir) : dir_(std::move(dir)), port_(free_port()) {
  start();
}

NatsServer::~NatsServer() {
  stop();
}

void NatsServer::start() {
  fs::create_directories(dir_ + "/jetstream");
  const std::string port = std::to_string(port_), store = dir_ + "/jetstream", log = dir_ + "/nats.log";
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("cannot fork for nats-server");
  if (pid_ == 0) {
    execlp("nats-server", "nats-server", "-js", "-sd", store.c_str(), "-a", "127.0.0.1", "-p", port.c_str(), "-l",
           log.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!accepts(port_)) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != 0) {
      pid_ = -1;
      throw std::runtime_error("nats-server exited at start (is it installed?): see " + log);
    }
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("nats-server did not listen within 10 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void NatsServer::stop(int signal) {
  if (pid_ <= 0) return;
  kill(pid_, signal);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace waymark::test
