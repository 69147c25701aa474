// Runs the simulated devices: each one a real SDK client (the sample apps' code) with its own store,
// a simulated clock (the platform table's clock callbacks) and an in-memory keystore (as a host app's
// keystore would be), offline until the demo's "now", then uploading to the collector.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "simulator.hpp"

namespace demo {

struct DeviceEnv {
  std::string root;  // device stores live under root/<index>-<kind>
  std::string collector_url;
  std::array<uint8_t, 32> brand_key{};
  uint32_t brand_key_epoch = 1;
  std::array<uint8_t, 32> collector_key{};
  uint32_t collector_key_id = 1;
  int64_t wall_origin_ms = 0;  // real Unix time of simulated t = 0
  int64_t send_at = 0;         // simulated time at which every device uploads (the demo's "now")
  // The real moment simulated `send_at` stands for: online, a device's clock runs in real time from it,
  // so the collector, which places events by when their batch arrived, places them alike in every run.
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  // The brand's backend: an erasure token for a customer who asks to be forgotten after signing in.
  std::function<std::vector<uint8_t>(int customer)> erasure_token;
};

// An identifier the collector was given with consent, as the ground truth for scoring.
struct Presented {
  int customer;
  waymark_id_kind_t kind;
  std::string value;
};

struct Outcome {
  int64_t recorded = 0, refused = 0, junk = 0, invalid = 0, errors = 0;
  int64_t uploaded = 0, purged = 0, dead_lettered = 0, queued_left = 0;
  int64_t dropped = 0, evicted = 0, unreadable = 0;  // lost on the device: a full queue, the caps, bad rows
  std::vector<Presented> presented;
  std::vector<std::string> messages;  // the first few errors, for the summary
  void add(const Outcome& o);
};

class SimulatedDevice;

// Personal devices: opened, driven through their steps, uploaded, closed.
void run_personal(const Plan& plan, int device, const DeviceEnv& env, Outcome& out);

// Shared devices record first; `upload` runs once every personal device has uploaded.
class SharedDevice {
 public:
  SharedDevice(const Plan& plan, int device, const DeviceEnv& env);
  ~SharedDevice();
  void record(Outcome& out);
  void upload(Outcome& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace demo
