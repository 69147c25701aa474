// The scale-out fault matrix (issue 21) as the demo runs it (`waymark-demo --cluster --faults`, and
// `make soak-cluster`): while the devices upload, a thread takes the cluster through one fault after
// another, each repaired before the next, round after round until stopped:
//   kill -9 of an ingest node (started again), kill -9 of the active merger (its standby takes over),
//   kill -9 of a NATS node (started again), a NATS node partitioned (SIGSTOP, then SIGCONT), and a
//   PostgreSQL restart.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster.hpp"
#include "collector_process.hpp"

namespace demo {

class FaultLoop {
 public:
  static constexpr const char* kNames[] = {"ingest", "merger", "nats-kill", "nats-partition", "postgres"};
  // `gap_ms`: the quiet time after each repair (and how long a partition lasts, twice that). `only`:
  // the faults to inject, named as in kNames; empty: all of them.
  FaultLoop(DemoCluster& cluster, PrivatePostgres& postgres, int gap_ms, std::vector<std::string> only = {});
  ~FaultLoop();
  FaultLoop(const FaultLoop&) = delete;
  FaultLoop& operator=(const FaultLoop&) = delete;

  // Ends the current fault's repair and stops; the cluster is whole again when it returns.
  void stop();
  // What was done, e.g. "ingest kill -9 ×3, merger kill -9 ×3, ...".
  std::string counts() const;
  int rounds() const;  // rounds in which every fault was done
  // Keeps the devices in step with the faults: returns once `share` (0..1) of `rounds` full rounds
  // is done, or the loop stopped or failed. The devices call it before each task, so that the faults
  // fall among their uploads however fast either goes.
  void keep_pace(double share, int rounds);
  // An error that stopped the loop early ("" when none).
  std::string error() const;

 private:
  void run();
  bool enabled(size_t fault) const;
  bool pause(int ms);  // false once stop() was called

  DemoCluster& cluster_;
  PrivatePostgres& postgres_;
  const int gap_ms_;
  std::vector<std::string> only_;
  std::array<std::atomic<int>, 5> done_{};
  int injected_ = 0;  // faults done and repaired, all kinds (under mu_)
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::string error_;
  std::thread thread_;
};

}  // namespace demo
