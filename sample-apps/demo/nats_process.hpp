// A private `nats-server` with JetStream on 127.0.0.1 (a free port, its store in a directory of its
// own), for the demo, the tests and the benches; stopped (SIGTERM, or SIGKILL for a crash) on request or
// by the destructor.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace demo {

// A TCP port on 127.0.0.1 that nothing listens on now (for the processes the demo, tests and benches start).
int free_port();

class NatsServer {
 public:
  // A node of a cluster: its name, its route port, and the route ports of the others.
  struct Peer {
    std::string name;
    int route_port = 0;
    std::vector<int> routes;
  };
  explicit NatsServer(std::string dir);  // starts it; throws std::runtime_error when it does not listen
  NatsServer(std::string dir, Peer peer);
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  std::string url() const { return std::string("nats://127.0.0.1:") + std::to_string(port_); }
  void stop(int signal = 15);
  void start();  // again, on the same port and store (after stop)
  // A partition without a network namespace: SIGSTOP leaves every socket open while the node answers
  // neither clients nor peers, until thaw() (SIGCONT).
  void freeze();
  void thaw();
  // Waits (up to `seconds`) until its monitoring endpoint says it is healthy: listening, and its
  // JetStream current with the cluster (a restarted or thawed node has caught up). False on timeout.
  bool wait_healthy(int seconds = 60);
  bool running() const { return pid_ > 0; }

 private:
  std::string dir_;
  Peer peer_;
  int port_ = 0, monitor_port_ = 0;
  pid_t pid_ = -1;
};

// Three JetStream nodes clustered on loopback (cluster "waymark"), for queue-replicas = 3.
class NatsCluster {
 public:
  explicit NatsCluster(const std::string& dir);
  std::string urls() const;  // all three, comma-separated
  NatsServer& node(int i) { return *nodes_[static_cast<size_t>(i)]; }

 private:
  std::vector<std::unique_ptr<NatsServer>> nodes_;
};

}  // namespace demo
