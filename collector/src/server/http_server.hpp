// The collector's HTTP/1.1 server (Boost.Beast on Asio, completion handlers): a thread pool,
// keep-alive, request size limits, read deadlines, graceful stop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/status.hpp"
#include "api/query_api.hpp"
#include "ingest/ingest.hpp"

namespace waymark::collector {

struct ServerConfig {
  std::string address = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port
  int threads = 2;
  size_t max_body_bytes = 16u << 20;
  int64_t read_timeout_ms = 30000;
  // Run on the I/O pool every `background_interval_ms` (identity resolution behind ingest).
  std::function<void()> background;
  int64_t background_interval_ms = 200;
  // Why the collector cannot do its job now, or nothing: GET /healthz answers 503 "degraded: <why>".
  std::function<std::optional<std::string>()> degraded;
};

class Server {
 public:
  // `api` may be null: then only ingest, health and metrics are served.
  Server(ServerConfig config, Ingest& ingest, Metrics& metrics, QueryApi* api = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Status start();
  uint16_t port() const;
  // Stops accepting, lets requests in flight finish (at most `drain_ms`), then joins.
  void stop(int64_t drain_ms = 10000);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace waymark::collector
