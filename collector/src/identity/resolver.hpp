// Identity resolution as product logic: which of an event's identifiers and slot become nodes, which
// node anchors the event, and which links merge two profiles or are refused, under the identity rules.
// It decides against the in-memory graph (GraphIndex) and has a backend persist each decision through
// GraphWriter, which holds no logic; the same resolver serves every backend.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "identity/graph_index.hpp"
#include "identity/rules.hpp"
#include "store/store.hpp"

namespace waymark::collector {

// One decision about two nodes (a may be absent: a refusal that names no node, e.g. a shared device).
struct LinkDecision {
  std::optional<int64_t> a;
  int64_t b = 0;  // the event's anchor
  std::span<const uint8_t> event_id, batch_id;
  int64_t time_ms = 0;
  std::string rule;     // "co_occurrence", or why it was refused
  const char* outcome;  // "merged" or "refused"
};

// What a backend persists for the resolver, inside its write transaction.
class GraphWriter {
 public:
  // The link a new node makes as it joins a known node's profile, kept with the new node.
  struct Join {
    int64_t with;   // the known node
    bool anchored;  // the new node is the event's anchor (link b; else link a)
    std::span<const uint8_t> event_id, batch_id;
  };
  virtual ~GraphWriter() = default;
  // A new node in `profile`, or (none) in a new profile of its own: its id and profile.
  virtual Result<GraphIndex::Node> insert_node(uint8_t kind, std::span<const uint8_t> key,
                                               std::optional<int64_t> profile, int64_t now_ms, const Join* join) = 0;
  // Every node of profile `gone` moves to `keep`, and `gone` forwards to it.
  virtual Status relabel_profile(int64_t gone, int64_t keep) = 0;
  virtual Status append_link(const LinkDecision& decision) = 0;
  virtual Status anchor_event(std::span<const uint8_t> event_id, int64_t node_id) = 0;
  // The device that sent `batch_id` proved the identifier of `node_id` (Proof::Asserted).
  virtual Status record_claim(int64_t node_id, std::span<const uint8_t> batch_id) = 0;
};

class Resolver {
 public:
  Resolver(GraphIndex& graph, const IdentityRules& rules, GraphWriter& writer)
      : graph_(graph), rules_(rules), writer_(writer) {}

  // One event, in commit order: find the nodes of its linking identifiers and its slot, anchor it to
  // the strongest, and try to link every other one to the anchor under the rules, logging each
  // decision. A node seen for the first time is created straight inside the anchor's profile when the
  // rules allow.
  Status resolve_event(std::span<const uint8_t> event_id, std::span<const uint8_t> batch_id,
                       std::span<const uint8_t> slot, const std::vector<StoredIdentifier>& ids, int64_t time_ms);

 private:
  struct Candidate {
    uint8_t kind;
    std::span<const uint8_t> key;
    GraphIndex::Node* node;  // null: seen for the first time
    Proof proof;
  };
  struct Event {
    std::span<const uint8_t> event_id, batch_id;
    int64_t time_ms;
    std::vector<Candidate> nodes;                   // the anchor first once placed
    bool shared = false;                            // it carried a shared device's id
    std::optional<std::optional<int64_t>> blocked;  // a blocked identifier (its node, if it has one)
  };
  void collect(Event& e, std::span<const uint8_t> slot, const std::vector<StoredIdentifier>& ids);
  Result<bool> place_anchor(Event& e);
  Status link(Event& e, Candidate& c, bool joined_with_anchor);
  Result<GraphIndex::Node*> create_node(const Candidate& c, std::optional<int64_t> profile, int64_t now_ms,
                                        const GraphWriter::Join* join = nullptr);
  Status merge(int64_t a, int64_t b);
  Status log(const Event& e, std::optional<int64_t> a, int64_t b, const std::string& rule, const char* outcome);

  GraphIndex& graph_;
  const IdentityRules& rules_;
  GraphWriter& writer_;
};

}  // namespace waymark::collector
