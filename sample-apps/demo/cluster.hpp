// `make demo-cluster` (issue 21): the collector as a brand runs it past one machine, all on loopback:
// three NATS nodes (JetStream, queue-replicas 3), two ingest nodes behind haproxy, an active merger and
// a standby, a query node, and the run's private PostgreSQL. Devices upload through haproxy, which also
// routes their segment pulls to the query node; the demo reads its results from the query node.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "collector_process.hpp"
#include "nats_process.hpp"

namespace demo {

class DemoCluster {
 public:
  // `serve_args`: what every role shares (api token, blocklist, brand authority key), after "serve".
  DemoCluster(const std::string& collector, const std::string& work, const std::string& data_dir,
              const std::vector<std::string>& serve_args, const std::string& store_uri);
  ~DemoCluster();
  DemoCluster(const DemoCluster&) = delete;
  DemoCluster& operator=(const DemoCluster&) = delete;

  uint16_t device_port() const { return haproxy_port_; }
  uint16_t query_port() const { return roles_[kQuery].process->port(); }
  // The active merger's port: the query API's writes (spend, erasure) go there.
  uint16_t write_port() { return await_active_merger().port(); }
  // Waits until the active merger committed every queued batch and resolved every event.
  void wait_settled();
  // Stops every process; the first non-zero exit code of a role (standbys aside), else 0.
  int stop();
  const std::vector<std::string>& logs() const { return logs_; }

  // Starts again every role whose process exited (a merger deposed when PostgreSQL restarted, an ingest
  // node that found no stream), as systemd's Restart=on-failure does (deploy/systemd).
  void supervise();
  // Faults (waymark-demo --faults): each returns once the cluster is whole again.
  void kill_ingest(int i);  // kill -9, then started again on its port
  void kill_merger();       // kill -9 of the active merger: the standby takes over, it comes back as one
  NatsCluster& nats() { return nats_; }

 private:
  struct Role {
    std::string name;
    std::vector<std::string> args;
    bool merger = false;  // starts as a standby: listens once it holds the store
    std::unique_ptr<CollectorProcess> process;
  };
  static constexpr size_t kMergers[] = {2, 3}, kQuery = 4;  // after the two ingest nodes
  void start(Role& role);
  CollectorProcess* active_merger();  // the merger that listens, or null
  CollectorProcess& await_active_merger();

  std::string collector_, work_;
  NatsCluster nats_;
  std::vector<Role> roles_;
  uint16_t haproxy_port_ = 0;
  pid_t haproxy_ = -1;
  std::vector<std::string> logs_;
};

}  // namespace demo
