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
  uint16_t query_port() const { return query_->port(); }
  // Waits until the merger committed every queued batch and resolved every event.
  void wait_settled();
  // Stops every process; the first non-zero exit code of a role, else 0.
  int stop();
  const std::vector<std::string>& logs() const { return logs_; }

 private:
  NatsCluster nats_;
  std::vector<std::unique_ptr<CollectorProcess>> ingest_;
  std::unique_ptr<CollectorProcess> merger_, standby_, query_;
  uint16_t haproxy_port_ = 0;
  pid_t haproxy_ = -1;
  std::vector<std::string> logs_;
};

}  // namespace demo
