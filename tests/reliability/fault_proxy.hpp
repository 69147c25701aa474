// A TCP proxy on 127.0.0.1 that sits between SDK and collector and damages the traffic the way a
// bad network does: each chunk read in either direction may be delayed, dropped with the
// connection, cut off by a reset, truncated, or have a byte flipped; a request may be answered by
// the proxy itself with 503/429 (an overloaded upstream). The upstream port can change
// while it runs (the collector restarted on a new port); while there is none, connections close.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace waymark::test {

class FaultProxy {
 public:
  // `fault_rate`: probability that a chunk (or a request) is hit by a fault. `only` limits the
  // faults to one kind: delay, drop, reset, truncate, corrupt, or answer (503/429).
  FaultProxy(uint32_t seed, double fault_rate, std::string only = "");
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  uint16_t port() const;
  void set_upstream(uint16_t port);  // 0: no upstream, connections are closed at once
  void set_fault_rate(double rate);
  // How often each fault fired, plus "connections", "chunks" and "upstream_down".
  std::map<std::string, uint64_t> counts() const;

 public:
  struct State;  // one io thread: sessions, timers and the random generator

 private:
  std::unique_ptr<State> state_;
};

}  // namespace waymark::test
