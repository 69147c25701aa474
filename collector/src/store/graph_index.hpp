// The identity graph's working set in memory: every node by key with its profile, and every
// profile's members and kind counts. The SQLite store keeps it in step with the database inside
// the writer lock, and rebuilds it from the database whenever a transaction does not commit.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "identity/rules.hpp"

namespace waymark::collector {

// A node key: a 32-byte re-keyed pseudonym or a 16-byte slot id (both uniformly random).
struct NodeKey {
  std::array<uint8_t, 32> b{};
  uint8_t len = 0;
  NodeKey() = default;
  NodeKey(const uint8_t* key, size_t n) : len(static_cast<uint8_t>(n < 32 ? n : 32)) {
    std::memcpy(b.data(), key, len);
  }
  bool operator==(const NodeKey& o) const { return len == o.len && std::memcmp(b.data(), o.b.data(), len) == 0; }
};

struct NodeKeyHash {
  size_t operator()(const NodeKey& k) const {
    size_t h;
    std::memcpy(&h, k.b.data(), sizeof h);  // random bytes already
    return h ^ k.len;
  }
};

class GraphIndex {
 public:
  struct Node {
    int64_t id = 0, profile = 0;
    uint8_t kind = 0;
    bool blocked = false;
  };
  struct Profile {
    std::vector<Node*> members;
    KindCounts counts;  // members that are not blocked
  };

  bool valid() const { return valid_; }
  void invalidate() {
    nodes_.clear();
    profiles_.clear();
    blocked_.clear();
    valid_ = false;
  }
  void mark_valid() { valid_ = true; }

  Node* find(const uint8_t* key, size_t len);
  Node* add(const uint8_t* key, size_t len, const Node& n);
  const Profile* profile(int64_t id) const;
  // Moves the smaller profile's members into the larger; returns the survivor.
  int64_t merge(int64_t a, int64_t b);
  void move(Node* n, int64_t profile);
  void set_blocked(Node* n);
  void remove(const uint8_t* key, size_t len);
  // Keys that never become nodes (the brand's junk list and unmerged identifiers).
  bool is_blocked_key(const uint8_t* key, size_t len) const { return blocked_.count(NodeKey(key, len)) != 0; }
  void block_key(const uint8_t* key, size_t len) { blocked_.insert(NodeKey(key, len)); }

 private:
  void detach(Node* n);
  std::unordered_map<NodeKey, Node, NodeKeyHash> nodes_;  // element addresses are stable
  std::unordered_map<int64_t, Profile> profiles_;
  std::unordered_set<NodeKey, NodeKeyHash> blocked_;
  bool valid_ = false;
};

}  // namespace waymark::collector
