// The identity benches' workload (identity_bench on SQLite, postgres_bench): customers' phones browsing
// anonymously, logging in, and second devices, committed straight to a store in batches of 500.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <sodium.h>

#include "store/store.hpp"
#include "support/direct_store.hpp"

namespace bench {

namespace wc = waymark::collector;

constexpr uint8_t kEmail = 1, kDevice = 9;

inline wc::Key32 key(uint64_t customer, uint8_t what) {
  wc::Key32 k{};
  const uint64_t in[2] = {customer, what};
  crypto_generichash(k.data(), k.size(), reinterpret_cast<const uint8_t*>(in), sizeof in, nullptr, 0);
  return k;
}

struct Spec {
  uint64_t customer;
  int step;  // 0: anonymous browse, 1: login, 2+: logged in; odd customers use a second device from step 3
};

// Loads `specs` in batches of 500, interleaved across customers as real traffic is.
inline void load(wc::Store& store, const std::vector<Spec>& specs) {
  uint64_t n = 0;
  for (size_t at = 0; at < specs.size(); at += 500) {
    std::vector<wc::StoredEvent> events;
    for (size_t i = at; i < std::min(specs.size(), at + 500); ++i) {
      const Spec& s = specs[i];
      wc::StoredEvent e;
      e.event_id = waymark::test::ordered_event_id(++n);
      e.name = "view";
      e.purpose = 1;
      e.occurred_ms = e.corrected_ms = static_cast<int64_t>(n);
      const bool second = s.customer % 2 == 1 && s.step >= 3;
      const wc::Key32 slot = key(s.customer, second ? 3 : 2);
      e.slot.assign(slot.begin(), slot.begin() + 16);
      e.identifiers.push_back({kDevice, key(s.customer, second ? 1 : 0), true});
      if (s.step >= 1) e.identifiers.push_back({kEmail, key(s.customer, 4), true});
      events.push_back(std::move(e));
    }
    if (auto st = waymark::test::commit_events(store, std::move(events)); !st.ok()) {
      std::fprintf(stderr, "identity bench: load failed: %s\n", st.message.c_str());
      std::exit(1);
    }
  }
}

inline std::vector<Spec> traffic(uint64_t customers, uint64_t events, std::mt19937_64& rng) {
  std::vector<Spec> specs;
  specs.reserve(events);
  for (int step = 0; specs.size() < events; ++step) {
    for (uint64_t c = 0; c < customers && specs.size() < events; ++c) specs.push_back({c, step});
  }
  // Shuffle within windows: customers interleave, each customer's own steps stay in order.
  for (size_t at = 0; at < specs.size(); at += 100000) {
    std::shuffle(specs.begin() + static_cast<std::ptrdiff_t>(at),
                 specs.begin() + static_cast<std::ptrdiff_t>(std::min(specs.size(), at + 100000)), rng);
  }
  return specs;
}

}  // namespace bench
