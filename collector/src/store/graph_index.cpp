#include "store/graph_index.hpp"

#include <algorithm>

namespace waymark::collector {

GraphIndex::Node* GraphIndex::find(const uint8_t* key, size_t len) {
  auto it = nodes_.find(NodeKey(key, len));
  return it == nodes_.end() ? nullptr : &it->second;
}

GraphIndex::Node* GraphIndex::add(const uint8_t* key, size_t len, const Node& n) {
  Node* node = &(nodes_[NodeKey(key, len)] = n);
  Profile& p = profiles_[n.profile];
  p.members.push_back(node);
  if (!n.blocked) ++p.counts[n.kind];
  return node;
}

const GraphIndex::Profile* GraphIndex::profile(int64_t id) const {
  auto it = profiles_.find(id);
  return it == profiles_.end() ? nullptr : &it->second;
}

int64_t GraphIndex::merge(int64_t a, int64_t b) {
  Profile& pa = profiles_[a];
  Profile& pb = profiles_[b];
  const bool keep_a = pa.members.size() >= pb.members.size();
  const int64_t keep = keep_a ? a : b, gone = keep_a ? b : a;
  Profile& into = keep_a ? pa : pb;
  Profile& from = keep_a ? pb : pa;
  for (Node* n : from.members) n->profile = keep;
  into.members.insert(into.members.end(), from.members.begin(), from.members.end());
  into.counts.add(from.counts);
  profiles_.erase(gone);
  return keep;
}

void GraphIndex::detach(Node* n) {
  auto it = profiles_.find(n->profile);
  if (it == profiles_.end()) return;
  auto& m = it->second.members;
  m.erase(std::remove(m.begin(), m.end(), n), m.end());
  if (!n->blocked) --it->second.counts[n->kind];
  if (m.empty()) profiles_.erase(it);
}

void GraphIndex::move(Node* n, int64_t profile) {
  detach(n);
  n->profile = profile;
  Profile& p = profiles_[profile];
  p.members.push_back(n);
  if (!n->blocked) ++p.counts[n->kind];
}

void GraphIndex::set_blocked(Node* n) {
  if (n->blocked) return;
  detach(n);
  n->blocked = true;
  profiles_[n->profile].members.push_back(n);
}

void GraphIndex::remove(const uint8_t* key, size_t len) {
  auto it = nodes_.find(NodeKey(key, len));
  if (it == nodes_.end()) return;
  detach(&it->second);
  nodes_.erase(it);
}

}  // namespace waymark::collector
