#include <utility>  // before Asio

#include "nats_process.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <thread>

#include <boost/asio.hpp>

#include "http_client.hpp"

namespace fs = std::filesystem;

namespace demo {

namespace {

bool accepts(int port) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket s(ioc);
  boost::system::error_code ec;
  s.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)}, ec);
  return !ec;
}

}  // namespace

// Below the kernel's ephemeral range (net.ipv4.ip_local_port_range): a port the system handed out
// (bind to 0) can be taken by any outgoing connection before the process it was meant for binds it,
// and a NATS node then exits with "address already in use" (seen in a test run). A random port below
// the range that binds now is never handed to a connection.
int free_port() {
  int low = 32768, high = 60999;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low >> high;
  boost::asio::io_context ioc;
  const auto loopback = boost::asio::ip::make_address("127.0.0.1");
  if (low > 11024) {
    thread_local std::mt19937 pick(std::random_device{}());
    std::uniform_int_distribution<int> port(10000, low - 1);
    for (int attempt = 0; attempt < 100; ++attempt) {
      boost::asio::ip::tcp::acceptor a(ioc);
      boost::system::error_code ec;
      const auto p = static_cast<uint16_t>(port(pick));
      a.open(boost::asio::ip::tcp::v4(), ec);
      if (!ec) a.bind({loopback, p}, ec);
      if (!ec) return p;
    }
  }
  boost::asio::ip::tcp::acceptor a(ioc, {loopback, 0});
  return a.local_endpoint().port();
}

NatsServer::NatsServer(std::string dir) : NatsServer(std::move(dir), Peer{}) {}

NatsServer::NatsServer(std::string dir, Peer peer)
    : dir_(std::move(dir)), peer_(std::move(peer)), port_(free_port()), monitor_port_(free_port()) {
  start();
}

NatsCluster::NatsCluster(const std::string& dir) {
  const std::vector<int> route_ports = {free_port(), free_port(), free_port()};
  for (int i = 0; i < 3; ++i) {
    NatsServer::Peer peer{std::string("n") + std::to_string(i), route_ports[static_cast<size_t>(i)], {}};
    for (int j = 0; j < 3; ++j) {
      if (j != i) peer.routes.push_back(route_ports[static_cast<size_t>(j)]);
    }
    nodes_.push_back(std::make_unique<NatsServer>(dir + "/n" + std::to_string(i), peer));
  }
}

std::string NatsCluster::urls() const {
  std::string out;
  for (const auto& n : nodes_) {
    if (!out.empty()) out += ',';
    out += n->url();
  }
  return out;
}

NatsServer::~NatsServer() {
  stop();
}

void NatsServer::start() {
  fs::create_directories(dir_ + "/jetstream");
  const std::string port = std::to_string(port_), store = dir_ + "/jetstream", log = dir_ + "/nats.log";
  std::vector<std::string> args = {"nats-server", "-js", "-sd", store, "-a", "127.0.0.1",
                                   "-p",          port,  "-l",  log,   "-m", std::to_string(monitor_port_)};
  if (!peer_.name.empty()) {
    std::string routes;
    for (int r : peer_.routes) {
      if (!routes.empty()) routes += ',';
      routes += std::string("nats://127.0.0.1:") + std::to_string(r);
    }
    args.insert(args.end(), {"--server_name", peer_.name, "--cluster_name", "waymark", "--cluster",
                             std::string("nats://127.0.0.1:") + std::to_string(peer_.route_port), "--routes", routes});
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("cannot fork for nats-server");
  if (pid_ == 0) {
    execvp("nats-server", argv.data());
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

// SIGSTOP is delivered asynchronously: a thread of the server already running on another core could
// still answer a request sent right after kill() returns (seen under ASan). So this waits until every
// thread of it shows as stopped.
void NatsServer::freeze() {
  if (pid_ <= 0) return;
  kill(pid_, SIGSTOP);
  const auto stopped = [this] {
    const fs::path tasks = "/proc/" + std::to_string(pid_) + "/task";
    std::error_code ec;
    for (const auto& t : fs::directory_iterator(tasks, ec)) {
      std::ifstream stat(t.path() / "stat");
      std::string line;
      std::getline(stat, line);
      const size_t close = line.rfind(')');  // the state follows the command name in parentheses
      if (close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'T') return false;
    }
    return !ec;
  };
  for (int i = 0; i < 200 && !stopped(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

void NatsServer::thaw() {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

bool NatsServer::wait_healthy(int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      if (HttpClient("127.0.0.1", static_cast<uint16_t>(monitor_port_), "").get("/healthz").status == 200) return true;
    } catch (const std::runtime_error&) {  // not listening yet
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

void NatsServer::stop(int signal) {
  if (pid_ <= 0) return;
  kill(pid_, signal);
  kill(pid_, SIGCONT);  // a frozen node acts on SIGTERM only once it runs again
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace demo
