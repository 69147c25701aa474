// The identity graph's working set in memory: every node by key with its profile, and every
// profile's members and kind counts. The resolver (identity/resolver.hpp) keeps it in step with what
// the store persists, inside the store's writer lock; the store rebuilds it from the database whenever
// a transaction does not commit.
//
// Resolution looks up every identifier of every event here, so the layout is flat: nodes live in
// one deque (stable addresses), found through an open-addressing table of fingerprints and
// indexes (one probe touches one cache line, not a chain of heap nodes); profiles are a vector
// indexed by profile id (ids are the profiles table's dense row ids). Slot ids come from devices,
// so the table hashes with SipHash under a per-process random key: no client can aim collisions.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <unordered_set>
#include <vector>

#include "identity/rules.hpp"

namespace waymark::collector {

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

  GraphIndex();
  GraphIndex(const GraphIndex&) = delete;  // blocked_ hashes with seed_ by address
  GraphIndex& operator=(const GraphIndex&) = delete;
  bool valid() const { return valid_; }
  void invalidate();
  void mark_valid() { valid_ = true; }

  Node* find(const uint8_t* key, size_t len);
  // Starts loading the table position a later find() of `key` reads first.
  void prefetch(const uint8_t* key, size_t len) const { __builtin_prefetch(&table_[home(hash(key, len))]); }
  Node* add(const uint8_t* key, size_t len, const Node& n);
  // The profile's members and counts, or null when it has no member.
  const Profile* profile(int64_t id) const;
  // Moves the smaller profile's members into the larger; returns the survivor.
  int64_t merge(int64_t a, int64_t b);
  void move(Node* n, int64_t profile);
  void set_blocked(Node* n);
  void remove(const uint8_t* key, size_t len);
  // Keys that never become nodes (the brand's junk list and unmerged identifiers).
  bool is_blocked_key(const uint8_t* key, size_t len) const;
  void block_key(const uint8_t* key, size_t len);

 private:
  // A key of up to 32 bytes (re-keyed pseudonyms are 32, slot ids 16).
  struct Key {
    std::array<uint8_t, 32> b{};
    uint8_t len = 0;
    Key() = default;
    Key(const uint8_t* key, size_t n);
    bool operator==(const Key& o) const;
  };
  struct KeyHash {
    const uint8_t* seed;
    size_t operator()(const Key& k) const;
  };
  struct Entry {
    Key key;
    Node node;
  };
  uint64_t hash(const uint8_t* key, size_t len) const;
  size_t home(uint64_t slot_or_hash) const;
  // The table position holding `key`, or the empty position where it would go.
  size_t probe(const Key& key, uint64_t h) const;
  void grow();
  Entry& entry(size_t index) { return chunks_[index >> kChunkBits][index & (kChunk - 1)]; }
  const Entry& entry(size_t index) const { return chunks_[index >> kChunkBits][index & (kChunk - 1)]; }
  size_t new_entry();
  Profile& profile_slot(int64_t id);
  void detach(Node* n);

  std::array<uint8_t, 16> seed_{};
  // Entries in fixed chunks: addresses stay stable and a position is two shifts away (a deque's
  // 512-byte blocks would hold 7 entries each).
  static constexpr size_t kChunkBits = 12, kChunk = size_t{1} << kChunkBits;
  std::vector<std::unique_ptr<Entry[]>> chunks_;
  size_t entries_ = 0;           // positions handed out
  std::vector<uint32_t> free_;   // positions left by remove()
  std::vector<uint64_t> table_;  // hash's high 32 bits << 32 | entry position + 1; 0 = empty
  size_t used_ = 0;              // occupied table positions
  std::vector<Profile> profiles_;
  std::unordered_set<Key, KeyHash> blocked_;
  bool valid_ = false;
};

}  // namespace waymark::collector
