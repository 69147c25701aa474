#include "identity/resolver.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace waymark::collector {

Status Resolver::resolve_event(std::span<const uint8_t> event_id, std::span<const uint8_t> batch_id,
                               std::span<const uint8_t> slot, const std::vector<StoredIdentifier>& ids,
                               int64_t time_ms) {
  Event e{event_id, batch_id, time_ms, {}, false, std::nullopt};
  collect(e, slot, ids);
  if (e.nodes.empty()) return Status::Ok();
  auto joined = place_anchor(e);
  if (!joined.ok()) return joined.status();
  const int64_t anchor_id = e.nodes.front().node->id;
  if (Status s = writer_.anchor_event(event_id, anchor_id); !s.ok()) return s;
  if (e.shared) {  // recorded once per event: a shared device's id joined no one
    if (Status s = log(e, std::nullopt, anchor_id, "shared_device", "refused"); !s.ok()) return s;
  }
  if (e.blocked) {
    if (Status s = log(e, *e.blocked, anchor_id, "blocked_pseudonym", "refused"); !s.ok()) return s;
  }
  for (size_t i = 1; i < e.nodes.size(); ++i) {
    if (Status s = link(e, e.nodes[i], i == 1 && joined.value()); !s.ok()) return s;
  }
  for (const Candidate& c : e.nodes) {
    if (c.proof != Proof::Asserted) continue;
    if (Status s = writer_.record_claim(c.node->id, batch_id); !s.ok()) return s;
  }
  return Status::Ok();
}

// The event's linking identifiers and its slot, each once, strongest first; unproven identifiers come
// last: never the anchor, never joined.
void Resolver::collect(Event& e, std::span<const uint8_t> slot, const std::vector<StoredIdentifier>& ids) {
  const auto consider = [&](uint8_t kind, std::span<const uint8_t> key, Proof proof) {
    for (const Candidate& c : e.nodes) {  // an identifier listed twice is one node
      if (c.key.size() == key.size() && std::memcmp(c.key.data(), key.data(), key.size()) == 0) return;
    }
    GraphIndex::Node* found = graph_.find(key.data(), key.size());
    if (found != nullptr && found->blocked) {
      e.blocked = found->id;
    } else if (found == nullptr && graph_.is_blocked_key(key.data(), key.size())) {
      e.blocked = std::optional<int64_t>();  // a junk value: never a node, never linked
    } else {
      e.nodes.push_back({kind, key, found, proof});
    }
  };
  for (const StoredIdentifier& id : ids) {
    if (!id.linking) {
      e.shared = true;
    } else if (IdentityRules::links(id.kind)) {
      consider(id.kind, id.pseudonym, id.proof);
    }
  }
  consider(kSlotKind, slot, Proof::Claimed);
  std::stable_sort(e.nodes.begin(), e.nodes.end(), [](const Candidate& x, const Candidate& y) {
    return std::make_pair(x.proof != Proof::Unproven, anchor_rank(x.kind)) >
           std::make_pair(y.proof != Proof::Unproven, anchor_rank(y.kind));
  });
}

// Gives the anchor its node. A new anchor beside a known node (a login on a known device) is created
// straight in that node's profile when the rules allow: the partition is the one a fresh profile and a
// merge would give, without the profile that would only be merged away. The link, as that merge would
// have made it, is kept with the new node. True when it joined the next node so.
Result<bool> Resolver::place_anchor(Event& e) {
  Candidate& anchor = e.nodes.front();
  if (anchor.node != nullptr) return false;
  std::optional<int64_t> into;
  std::optional<GraphWriter::Join> join;
  if (e.nodes.size() > 1 && e.nodes[1].node != nullptr && e.nodes[1].proof != Proof::Unproven &&
      !merge_refusal(graph_.profile(e.nodes[1].node->profile)->counts, {{anchor.kind, 1}}, rules_)) {
    into = e.nodes[1].node->profile;
    join = GraphWriter::Join{e.nodes[1].node->id, true, e.event_id, e.batch_id};
  }
  auto n = create_node(anchor, into, e.time_ms, join ? &*join : nullptr);
  if (!n.ok()) return n.status();
  anchor.node = n.value();
  return join.has_value();
}

// Links one more node to the event's anchor, or logs why not. `joined_with_anchor`: the anchor was
// created in this node's profile, and the link is kept with it already.
Status Resolver::link(Event& e, Candidate& c, bool joined_with_anchor) {
  const GraphIndex::Node& anchor = *e.nodes.front().node;
  const int64_t here = anchor.profile;  // current: merges relabel the nodes in memory
  const KindCounts mine = graph_.profile(here)->counts;
  std::optional<std::string> why;
  if (c.proof == Proof::Unproven) {  // a claim anyone with the brand key can make: kept apart
    if (c.node != nullptr && c.node->profile == here) return Status::Ok();
    why = "unverified_identifier";
    if (c.node == nullptr) {
      auto n = create_node(c, std::nullopt, e.time_ms);
      if (!n.ok()) return n.status();
      c.node = n.value();
    }
  } else if (c.node == nullptr) {
    why = merge_refusal(mine, {{c.kind, 1}}, rules_);
    const GraphWriter::Join join{anchor.id, false, e.event_id, e.batch_id};
    auto n = create_node(c, why ? std::nullopt : std::optional<int64_t>(here), e.time_ms, why ? nullptr : &join);
    if (!n.ok()) return n.status();
    c.node = n.value();
    if (!why) return Status::Ok();  // the link is kept with the node
  } else if (joined_with_anchor || c.node->profile == here) {
    return Status::Ok();
  } else {
    why = merge_refusal(mine, graph_.profile(c.node->profile)->counts, rules_);
    if (!why) {
      if (Status s = merge(here, c.node->profile); !s.ok()) return s;
    }
  }
  return why ? log(e, c.node->id, anchor.id, *why, "refused")
             : log(e, c.node->id, anchor.id, "co_occurrence", "merged");
}

Result<GraphIndex::Node*> Resolver::create_node(const Candidate& c, std::optional<int64_t> profile, int64_t now_ms,
                                                const GraphWriter::Join* join) {
  auto node = writer_.insert_node(c.kind, c.key, profile, now_ms, join);
  if (!node.ok()) return node.status();
  return graph_.add(c.key.data(), c.key.size(), node.value());
}

// Union by size: the smaller profile's nodes are relabelled, its id forwards to the survivor.
Status Resolver::merge(int64_t a, int64_t b) {
  const auto* pa = graph_.profile(a);
  const auto* pb = graph_.profile(b);
  const bool keep_a = (pa == nullptr ? 0 : pa->members.size()) >= (pb == nullptr ? 0 : pb->members.size());
  if (Status s = writer_.relabel_profile(keep_a ? b : a, keep_a ? a : b); !s.ok()) return s;
  graph_.merge(a, b);
  return Status::Ok();
}

Status Resolver::log(const Event& e, std::optional<int64_t> a, int64_t b, const std::string& rule,
                     const char* outcome) {
  return writer_.append_link({a, b, e.event_id, e.batch_id, e.time_ms, rule, outcome});
}

}  // namespace waymark::collector
