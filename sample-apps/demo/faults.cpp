#include "faults.hpp"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <functional>
#include <vector>

namespace demo {

namespace {

constexpr const char* kDone[] = {"ingest node kill -9", "active merger kill -9", "NATS node kill -9",
                                 "NATS node partitioned", "PostgreSQL restart"};

}  // namespace

FaultLoop::FaultLoop(DemoCluster& cluster, PrivatePostgres& postgres, int gap_ms, std::vector<std::string> only)
    : cluster_(cluster), postgres_(postgres), gap_ms_(gap_ms), only_(std::move(only)), thread_([this] { run(); }) {}

bool FaultLoop::enabled(size_t f) const {
  return only_.empty() || std::find(only_.begin(), only_.end(), kNames[f]) != only_.end();
}

FaultLoop::~FaultLoop() {
  stop();
}

void FaultLoop::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool FaultLoop::pause(int ms) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_; });
}

void FaultLoop::run() {
  // Each fault returns with the cluster whole again; a partition lasts through the stop request.
  const std::vector<std::function<void(int round)>> faults = {
      [this](int round) { cluster_.kill_ingest(round % 2); },
      [this](int) { cluster_.kill_merger(); },
      [this](int round) {
        NatsServer& node = cluster_.nats().node(round % 3);
        node.stop(SIGKILL);
        pause(gap_ms_);
        node.start();
        if (!node.wait_healthy()) throw std::runtime_error("a NATS node killed and started again did not catch up");
      },
      [this](int round) {
        NatsServer& node = cluster_.nats().node((round + 1) % 3);
        node.freeze();
        pause(2 * gap_ms_);
        node.thaw();
        if (!node.wait_healthy()) throw std::runtime_error("a partitioned NATS node did not catch up");
      },
      [this](int) { postgres_.restart(); },
  };
  try {
    for (int round = 0;; ++round) {
      for (size_t f = 0; f < faults.size(); ++f) {
        if (!enabled(f)) continue;
        if (!pause(gap_ms_)) return;
        faults[f](round);
        cluster_.supervise();  // a role the fault made exit (a deposed merger) comes back
        ++done_[f];
        std::lock_guard lock(mu_);
        ++injected_;
        cv_.notify_all();
      }
    }
  } catch (const std::exception& e) {
    std::lock_guard lock(mu_);
    error_ = e.what();
    cv_.notify_all();
  }
}

void FaultLoop::keep_pace(double share, int rounds) {
  size_t kinds = 0;
  for (size_t f = 0; f < done_.size(); ++f) kinds += enabled(f) ? 1 : 0;
  const auto due = static_cast<int>(std::ceil(share * rounds * static_cast<double>(kinds)));
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return injected_ >= due || stopping_ || !error_.empty(); });
}

std::string FaultLoop::counts() const {
  std::string out;
  for (size_t f = 0; f < done_.size(); ++f) {
    if (enabled(f)) out += (out.empty() ? "" : ", ") + std::string(kDone[f]) + " x" + std::to_string(done_[f].load());
  }
  return out;
}

int FaultLoop::rounds() const {
  int least = INT32_MAX;
  for (size_t f = 0; f < done_.size(); ++f) {
    if (enabled(f)) least = std::min(least, done_[f].load());
  }
  return least;
}

std::string FaultLoop::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

}  // namespace demo
