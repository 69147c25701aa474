#include <utility>  // before Asio

#include "cluster.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <stdexcept>
#include <thread>

#include <boost/asio.hpp>

#include "http_client.hpp"

namespace demo {

namespace {

uint16_t free_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// haproxy as a brand would configure it: devices' batches to the ingest nodes (health-checked), their
// segment pulls to the query node.
std::string haproxy_config(uint16_t port, const std::vector<uint16_t>& ingest, uint16_t query) {
  std::string c =
      "global\n  maxconn 4096\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 60s\n"
      "  timeout server 60s\n  retries 3\n  option redispatch\n"
      "frontend devices\n  bind 127.0.0.1:" +
      std::to_string(port) +
      "\n  acl segments path_beg /v1/devices/\n  use_backend query if segments\n  default_backend ingest\n"
      "backend ingest\n  balance roundrobin\n  option httpchk GET /healthz\n";
  for (size_t i = 0; i < ingest.size(); ++i) {
    c += std::string("  server ingest") + std::to_string(i) + " 127.0.0.1:" + std::to_string(ingest[i]) +
         " check inter 500\n";
  }
  return c + "backend query\n  server query 127.0.0.1:" + std::to_string(query) + "\n";
}

void wait_for_port(uint16_t port) {
  for (int i = 0; i < 100; ++i) {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket s(ioc);
    boost::system::error_code ec;
    s.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
    if (!ec) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error(std::string("haproxy did not listen on port ") + std::to_string(port));
}

int64_t metric(const std::string& body, const std::string& name) {
  std::smatch m;
  return std::regex_search(body, m, std::regex("\n" + name + " ([0-9]+)\n")) ? std::stoll(m[1]) : -1;
}

}  // namespace

DemoCluster::DemoCluster(const std::string& collector, const std::string& work, const std::string& data_dir,
                         const std::vector<std::string>& serve_args, const std::string& store_uri)
    : nats_(work + "/nats") {
  const std::vector<std::string> queue = {"--data-dir", data_dir, "--nats", nats_.urls(), "--queue-replicas", "3"};
  const auto start = [&](const std::string& name, const std::vector<std::string>& args, bool wait = true) {
    logs_.push_back(work + "/" + name + ".log");
    return std::make_unique<CollectorProcess>(collector, args, logs_.back(), wait);
  };
  // The first role to connect creates the stream: JetStream needs a moment to elect its leaders.
  const std::vector<std::string> ingest_args =
      with(with({"serve", "--role", "ingest", "--port", "0"}, queue), serve_args);
  for (int attempt = 0; ingest_.empty(); ++attempt) {
    try {
      ingest_.push_back(start("ingest0", ingest_args));
    } catch (const std::exception&) {
      if (attempt == 20) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
  ingest_.push_back(start("ingest1", ingest_args));
  const std::vector<std::string> merger_args =
      with(with({"serve", "--role", "merger", "--port", "0", "--store", store_uri}, queue), serve_args);
  merger_ = start("merger", merger_args);
  standby_ = start("merger-standby", merger_args, false);
  query_ = start(
      "query",
      with({"serve", "--role", "query", "--port", "0", "--data-dir", data_dir, "--store", store_uri}, serve_args));
  haproxy_port_ = free_port();
  const std::string config = work + "/haproxy.cfg";
  std::ofstream(config) << haproxy_config(haproxy_port_, {ingest_[0]->port(), ingest_[1]->port()}, query_->port());
  haproxy_ = fork();
  if (haproxy_ < 0) throw std::runtime_error("cannot fork for haproxy");
  if (haproxy_ == 0) {
    execlp("haproxy", "haproxy", "-f", config.c_str(), "-db", static_cast<char*>(nullptr));
    _exit(127);
  }
  wait_for_port(haproxy_port_);
}

DemoCluster::~DemoCluster() {
  stop();
}

void DemoCluster::wait_settled() {
  HttpClient merger("127.0.0.1", merger_->port(), "");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  for (;;) {
    const auto r = merger.get("/metrics");
    if (r.status == 200 && metric(r.body, "waymark_queue_lag_messages") == 0 &&
        metric(r.body, "waymark_identity_pending_events") == 0) {
      return;
    }
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("the merger did not catch up");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int DemoCluster::stop() {
  if (haproxy_ > 0) {
    kill(haproxy_, SIGTERM);
    waitpid(haproxy_, nullptr, 0);
    haproxy_ = -1;
  }
  int rc = 0;
  const auto note = [&rc](int code) {
    if (rc == 0) rc = code;
  };
  if (standby_) standby_->stop();  // first, so that it does not take over from the merger stopping
  for (auto& n : ingest_) note(n->stop());
  if (query_) note(query_->stop());
  if (merger_) note(merger_->stop());
  ingest_.clear();
  query_.reset();
  merger_.reset();
  standby_.reset();
  return rc;
}

}  // namespace demo
