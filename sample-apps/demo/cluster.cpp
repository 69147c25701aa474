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
    : collector_(collector), work_(work), nats_(work + "/nats") {
  const std::vector<std::string> queue = {"--data-dir", data_dir, "--nats", nats_.urls(), "--queue-replicas", "3"};
  // Ingest nodes on ports of their own: one killed comes back where haproxy expects it.
  for (int i = 0; i < 2; ++i) {
    roles_.push_back(
        {"ingest" + std::to_string(i),
         with(with({"serve", "--role", "ingest", "--port", std::to_string(free_port())}, queue), serve_args), false,
         nullptr});
  }
  const auto merger = with(with({"serve", "--role", "merger", "--port", "0", "--store", store_uri}, queue), serve_args);
  roles_.push_back({"merger-a", merger, true, nullptr});
  roles_.push_back({"merger-b", merger, true, nullptr});
  roles_.push_back({"query",
                    with({"serve", "--role", "query", "--port", "0", "--data-dir", data_dir, "--store", store_uri,
                          "--nats", nats_.urls()},
                         serve_args),
                    false, nullptr});
  for (Role& r : roles_) {
    start(r);
    if (r.name == "merger-a") await_active_merger();  // so that merger-b starts as its standby
  }
  const std::string config = work + "/haproxy.cfg";
  haproxy_port_ = static_cast<uint16_t>(free_port());
  std::ofstream(config) << haproxy_config(haproxy_port_, {roles_[0].process->port(), roles_[1].process->port()},
                                          roles_[kQuery].process->port());
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

void DemoCluster::start(Role& role) {
  logs_.push_back(work_ + "/" + role.name + "-" + std::to_string(logs_.size()) + ".log");
  role.process = std::make_unique<CollectorProcess>(collector_, role.args, logs_.back(), !role.merger);
}

void DemoCluster::supervise() {
  for (Role& r : roles_) {
    if (r.process && r.process->exited()) start(r);
  }
}

CollectorProcess* DemoCluster::active_merger() {
  for (size_t i : kMergers) {
    CollectorProcess* m = roles_[i].process.get();
    if (m != nullptr && !m->exited() && m->listening()) return m;
  }
  return nullptr;
}

CollectorProcess& DemoCluster::await_active_merger() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    supervise();
    if (CollectorProcess* m = active_merger()) return *m;
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("no merger took the store over");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void DemoCluster::kill_ingest(int i) {
  roles_.at(static_cast<size_t>(i)).process->stop(SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // haproxy's health check finds it down
  start(roles_[static_cast<size_t>(i)]);
}

void DemoCluster::kill_merger() {
  await_active_merger().stop(SIGKILL);
  await_active_merger();  // restarts the killed one as the standby, and waits for the other to take over
}

// Settled: the active merger has nothing left on the queue and nothing unresolved. A merger deposed a
// moment ago may still answer; it exits within a tick, and the next round asks the one that took over.
void DemoCluster::wait_settled() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  for (;;) {
    try {
      HttpClient merger("127.0.0.1", await_active_merger().port(), "");
      const auto r = merger.get("/metrics");
      if (r.status == 200 && metric(r.body, "waymark_queue_lag_messages") == 0 &&
          metric(r.body, "waymark_identity_pending_events") == 0) {
        return;
      }
    } catch (const std::runtime_error&) {  // it stopped between the look and the request
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
  CollectorProcess* active = roles_.empty() ? nullptr : active_merger();
  for (size_t i : kMergers) {  // standbys first, so that none takes over from the merger stopping
    if (!roles_.empty() && roles_[i].process.get() != active) roles_[i].process->stop();
  }
  for (Role& r : roles_) {
    const int code = r.process->stop();
    if (rc == 0 && code > 0) rc = code;  // -1: stopped already
  }
  roles_.clear();
  return rc;
}

}  // namespace demo
