// The collector's HTTP/1.1 server (Boost.Beast on Asio, completion handlers): a thread pool,
// keep-alive, request size limits, read deadlines, graceful stop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "status.hpp"
#include "api/query_api.hpp"
#include "ingest/ingest.hpp"

namespace waymark::collector {

struct ServerConfig {
  std::string address = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port
  int threads = 2;
  size_t max_body_bytes = 16u << 20;
  int64_t read_timeout_ms = 30000;
  // Connections served at once. Beyond it a connection gets one answer and is closed: /healthz as
  // usual, anything else 503 with Retry-After, each within overflow_timeout_ms, so /healthz still
  // answers at the cap. start() lowers it to fit the process's descriptor limit.
  int max_connections = 20000;
  int64_t overflow_timeout_ms = 250;
  // Run on the I/O pool every `background_interval_ms` (identity resolution behind ingest).
  std::function<void()> background;
  int64_t background_interval_ms = 200;
  // Why the collector cannot do its job now, or nothing: GET /healthz answers 503 "degraded: <why>".
  std::function<std::optional<std::string>()> degraded;
  // Run before each GET /metrics answer, on the I/O thread: gauges that must be as of the scrape (a
  // merger's queue lag and the events waiting for resolution, which decide when a cluster is caught up).
  std::function<void()> before_metrics;
  // What a healthy /healthz adds after "ok" (a cluster role's queue lag), or nothing.
  std::function<std::string()> health_note;
  // HTTPS (TLS 1.2 or later) when both are set: PEM files, read by start() and again by reload_tls().
  std::string tls_cert_file, tls_key_file;
  // With TLS: clients may present a certificate these CAs (PEM) signed, and the query API requires one
  // (devices' routes, /healthz and /metrics do not).
  std::string tls_client_ca_file;
};

class Server {
 public:
  // `api` may be null: then only ingest, health and metrics are served.
  Server(ServerConfig config, Ingest& ingest, Metrics& metrics, QueryApi* api = nullptr);
  // A node that takes no batches (a merger's health and metrics, or the query API alone).
  Server(ServerConfig config, Metrics& metrics, QueryApi* api = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Fails (INVALID_ARGUMENT) on TLS files that cannot be used, and when it cannot listen.
  Status start();
  // Reads the TLS files again (after a certificate renewal): new connections use them, open ones keep
  // theirs. On failure the files in use stay in use.
  Status reload_tls();
  uint16_t port() const;
  // The connection cap in force (after start: within the descriptor limit).
  int max_connections() const;
  // Stops accepting, lets requests in flight finish (at most `drain_ms`), then joins.
  void stop(int64_t drain_ms = 10000);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace waymark::collector
