#include "cluster/lag_watch.hpp"

namespace waymark::collector {

Status LagWatch::poll() {
  auto state = js_.consumer_state(durable_);
  known_ = state.ok();
  if (!state.ok()) {
    metrics_.unset("queue_lag_messages");
    return state.status();
  }
  lag_ = state->lag();
  metrics_.set("queue_lag_messages", lag_);
  return Status::Ok();
}

std::string LagWatch::note() const {
  if (!known_) return " (queue lag: unknown)";
  return std::string(" (queue lag: ") + std::to_string(lag_.load()) + " batches)";
}

}  // namespace waymark::collector
