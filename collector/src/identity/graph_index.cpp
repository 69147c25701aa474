#include "identity/graph_index.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <sodium.h>

namespace waymark::collector {

namespace {

constexpr size_t kInitialTable = 1024;  // a power of two; the table stays at most half full
constexpr uint64_t kLowMask = 0xffffffffULL;

uint64_t siphash(const uint8_t* seed, const uint8_t* key, size_t len) {
  uint64_t h;
  crypto_shorthash(reinterpret_cast<uint8_t*>(&h), key, len, seed);
  return h;
}

}  // namespace

GraphIndex::Key::Key(const uint8_t* key, size_t n) : len(static_cast<uint8_t>(std::min<size_t>(n, 32))) {
  std::memcpy(b.data(), key, len);
}

bool GraphIndex::Key::operator==(const Key& o) const {
  return len == o.len && std::memcmp(b.data(), o.b.data(), len) == 0;
}

size_t GraphIndex::KeyHash::operator()(const Key& k) const {
  return static_cast<size_t>(siphash(seed, k.b.data(), k.len));
}

GraphIndex::GraphIndex() : blocked_(0, KeyHash{seed_.data()}) {
  if (sodium_init() < 0) std::abort();  // as every libsodium user: no random source, no service
  crypto_shorthash_keygen(seed_.data());
  table_.assign(kInitialTable, 0);
}

void GraphIndex::invalidate() {
  chunks_.clear();
  entries_ = 0;
  free_.clear();
  table_.assign(kInitialTable, 0);
  used_ = 0;
  profiles_.clear();
  blocked_.clear();
  valid_ = false;
}

uint64_t GraphIndex::hash(const uint8_t* key, size_t len) const {
  return siphash(seed_.data(), key, std::min<size_t>(len, 32));
}

// A key's home position is taken from the hash's high half, which its table slot keeps: growing
// the table moves slots without hashing a key again or touching an entry.
size_t GraphIndex::home(uint64_t slot_or_hash) const {
  return static_cast<size_t>(slot_or_hash >> 32) & (table_.size() - 1);
}

size_t GraphIndex::probe(const Key& key, uint64_t h) const {
  const size_t mask = table_.size() - 1;
  const uint64_t tag = h >> 32 << 32;
  for (size_t at = home(h);; at = (at + 1) & mask) {
    const uint64_t slot = table_[at];
    if (slot == 0) return at;
    if ((slot & ~kLowMask) == tag && entry((slot & kLowMask) - 1).key == key) return at;
  }
}

void GraphIndex::grow() {
  std::vector<uint64_t> old(table_.size() * 2, 0);
  old.swap(table_);
  const size_t mask = table_.size() - 1;
  for (uint64_t slot : old) {
    if (slot == 0) continue;
    size_t at = home(slot);
    while (table_[at] != 0) at = (at + 1) & mask;
    table_[at] = slot;
  }
}

GraphIndex::Node* GraphIndex::find(const uint8_t* key, size_t len) {
  const Key k(key, len);
  const uint64_t slot = table_[probe(k, hash(key, len))];
  return slot == 0 ? nullptr : &entry((slot & kLowMask) - 1).node;
}

GraphIndex::Node* GraphIndex::add(const uint8_t* key, size_t len, const Node& n) {
  if ((used_ + 1) * 2 > table_.size()) grow();
  const Key k(key, len);
  const uint64_t h = hash(key, len);
  const size_t at = probe(k, h);
  Node* node;
  if (table_[at] != 0) {  // already known: replaced, as a map assignment would
    node = &entry((table_[at] & kLowMask) - 1).node;
    detach(node);
    *node = n;
  } else {
    const size_t index = new_entry();
    entry(index) = Entry{k, n};
    table_[at] = (h >> 32 << 32) | (index + 1);
    ++used_;
    node = &entry(index).node;
  }
  Profile& p = profile_slot(n.profile);
  p.members.push_back(node);
  if (!n.blocked) ++p.counts[n.kind];
  return node;
}

size_t GraphIndex::new_entry() {
  if (!free_.empty()) {
    const size_t index = free_.back();
    free_.pop_back();
    return index;
  }
  if (entries_ == chunks_.size() * kChunk) chunks_.push_back(std::make_unique<Entry[]>(kChunk));
  return entries_++;
}

// Position 0 is never a profile: ids are row ids, which start at 1.
GraphIndex::Profile& GraphIndex::profile_slot(int64_t id) {
  const size_t at = id > 0 ? static_cast<size_t>(id) : 0;
  if (at >= profiles_.size()) profiles_.resize(std::max(at + 1, profiles_.size() * 3 / 2));
  return profiles_[at];
}

const GraphIndex::Profile* GraphIndex::profile(int64_t id) const {
  const auto at = static_cast<size_t>(id);
  return id > 0 && at < profiles_.size() && !profiles_[at].members.empty() ? &profiles_[at] : nullptr;
}

int64_t GraphIndex::merge(int64_t a, int64_t b) {
  profile_slot(std::max(a, b));  // grown first: the references below stay valid
  Profile& pa = profile_slot(a);
  Profile& pb = profile_slot(b);
  const bool keep_a = pa.members.size() >= pb.members.size();
  const int64_t keep = keep_a ? a : b;
  Profile& into = keep_a ? pa : pb;
  Profile& from = keep_a ? pb : pa;
  for (Node* n : from.members) n->profile = keep;
  into.members.insert(into.members.end(), from.members.begin(), from.members.end());
  into.counts.add(from.counts);
  from = Profile{};
  return keep;
}

void GraphIndex::detach(Node* n) {
  Profile& p = profile_slot(n->profile);
  auto& m = p.members;
  m.erase(std::remove(m.begin(), m.end(), n), m.end());
  if (!n->blocked) --p.counts[n->kind];
  if (m.empty()) p = Profile{};
}

void GraphIndex::move(Node* n, int64_t profile) {
  detach(n);
  n->profile = profile;
  Profile& p = profile_slot(profile);
  p.members.push_back(n);
  if (!n->blocked) ++p.counts[n->kind];
}

void GraphIndex::set_blocked(Node* n) {
  if (n->blocked) return;
  detach(n);
  n->blocked = true;
  profile_slot(n->profile).members.push_back(n);
}

// Linear probing with backward-shift deletion: later members of the cluster move up so no probe
// ever stops early at the hole.
void GraphIndex::remove(const uint8_t* key, size_t len) {
  const Key k(key, len);
  size_t hole = probe(k, hash(key, len));
  if (table_[hole] == 0) return;
  const size_t index = (table_[hole] & kLowMask) - 1;
  detach(&entry(index).node);
  free_.push_back(static_cast<uint32_t>(index));
  const size_t mask = table_.size() - 1;
  for (size_t at = (hole + 1) & mask; table_[at] != 0; at = (at + 1) & mask) {
    // Movable when its home is not in (hole, at] going round the table.
    if (((at - home(table_[at])) & mask) >= ((at - hole) & mask)) {
      table_[hole] = table_[at];
      hole = at;
    }
  }
  table_[hole] = 0;
  --used_;
}

bool GraphIndex::is_blocked_key(const uint8_t* key, size_t len) const {
  return !blocked_.empty() && blocked_.count(Key(key, len)) != 0;
}

void GraphIndex::block_key(const uint8_t* key, size_t len) {
  blocked_.insert(Key(key, len));
}

}  // namespace waymark::collector
