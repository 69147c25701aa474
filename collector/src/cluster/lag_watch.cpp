#include "cluster/lag_watch.hpp"

namespace waymark::collector {

Status LagWatch::poll(Ingest& ingest, Metrics& metrics) {
  auto state = js_.consumer_state(durable_);
  if (!state.ok()) return state.status();
  lag_ = state->lag();
  metrics.set("queue_lag_messages", lag_);
  ingest.set_queue_lagging(max_lag_ > 0 && lag_ > max_lag_);
  return Status::Ok();
}

std::string LagWatch::note() const {
  return std::string(" (queue lag: ") + std::to_string(lag_.load()) + " batches)";
}

}  // namespace waymark::collector
