// The in-memory identity graph index against a reference map: adds, removals (backward-shift
// deletion in the open-addressing table), re-adds into freed positions, merges and moves.
#include <catch2/catch.hpp>

#include <array>
#include <map>
#include <random>

#include "identity/graph_index.hpp"

using waymark::collector::GraphIndex;

namespace {

using Key = std::array<uint8_t, 32>;

// Keys that share their first bytes, so fingerprints differ but equality needs every byte.
Key key_of(uint32_t n) {
  Key k{};
  for (size_t i = 0; i < 4; ++i) k[28 + i] = static_cast<uint8_t>(n >> (8 * i));
  return k;
}

}  // namespace

TEST_CASE("the graph index finds exactly the nodes added and not removed", "[identity]") {
  GraphIndex g;
  std::map<uint32_t, int64_t> live;  // key number -> node id
  std::mt19937 rng(11);
  int64_t next_id = 1;
  for (int round = 0; round < 20000; ++round) {
    const uint32_t n = rng() % 5000;
    const Key k = key_of(n);
    if (rng() % 3 == 0 && live.count(n) != 0) {
      g.remove(k.data(), k.size());
      live.erase(n);
    } else if (live.count(n) == 0) {
      const int64_t id = next_id++;
      g.add(k.data(), k.size(), {id, 1 + id % 7, 1, false});
      live[n] = id;
    }
  }
  for (uint32_t n = 0; n < 5000; ++n) {
    const Key k = key_of(n);
    const GraphIndex::Node* found = g.find(k.data(), k.size());
    if (live.count(n) == 0) {
      CHECK(found == nullptr);
    } else {
      REQUIRE(found != nullptr);
      CHECK(found->id == live[n]);
    }
  }
  // A 16-byte key (a slot) is not the 32-byte key with the same leading bytes.
  const Key k = key_of(4999);
  CHECK(g.find(k.data(), 16) == nullptr);
  size_t members = 0;
  for (int64_t p = 1; p <= 7; ++p) {
    if (const auto* prof = g.profile(p)) members += prof->members.size();
  }
  CHECK(members == live.size());
}

TEST_CASE("the graph index merges, moves and blocks nodes with their kind counts", "[identity]") {
  GraphIndex g;
  const Key a = key_of(1), b = key_of(2), c = key_of(3);
  GraphIndex::Node* na = g.add(a.data(), a.size(), {1, 10, 1, false});
  g.add(b.data(), b.size(), {2, 20, 1, false});
  GraphIndex::Node* nc = g.add(c.data(), c.size(), {3, 20, 9, false});
  CHECK(g.profile(0) == nullptr);
  CHECK(g.profile(11) == nullptr);
  const int64_t kept = g.merge(10, 20);  // the larger profile survives
  CHECK(kept == 20);
  CHECK(na->profile == 20);
  CHECK(g.profile(10) == nullptr);
  REQUIRE(g.profile(20) != nullptr);
  CHECK(g.profile(20)->members.size() == 3);
  CHECK(g.profile(20)->counts[1] == 2);
  g.move(nc, 1000);  // beyond every profile seen so far
  CHECK(g.profile(20)->counts[9] == 0);
  CHECK(g.profile(1000)->counts[9] == 1);
  g.set_blocked(na);
  CHECK(g.profile(20)->counts[1] == 1);
  CHECK(g.profile(20)->members.size() == 2);
  g.remove(c.data(), c.size());
  CHECK(g.profile(1000) == nullptr);
  CHECK_FALSE(g.is_blocked_key(c.data(), c.size()));
  g.block_key(c.data(), c.size());
  CHECK(g.is_blocked_key(c.data(), c.size()));
  g.invalidate();
  CHECK(g.find(a.data(), a.size()) == nullptr);
  CHECK_FALSE(g.is_blocked_key(c.data(), c.size()));
}
