// The identity graph on SQLite: incremental resolution in commit order, exact recompute after an
// unmerge, and erasure. Every function here runs with the writer lock held, inside a transaction.
#include <algorithm>
#include <cstring>
#include <map>

#include "store/sql/sql_store.hpp"

namespace waymark::collector {

using sql::Statement;

// Loads every node and blocked key into memory (at the first use after open or after a
// transaction that did not commit).
Status SqlStore::load_graph() {
  if (graph_.valid()) return Status::Ok();
  graph_.invalidate();
  Status s;
  Use st = writer_.prepare("SELECT node_id, key, kind, profile, blocked, join_link FROM nodes", &s);
  if (st == nullptr) return s;
  // Ids are handed out here, not by the database, so that no write has to wait for its answer.
  Use last = writer_.prepare(
      "SELECT (SELECT coalesce(max(link_id), 0) FROM link_log), (SELECT coalesce(max(node_id), 0) FROM nodes), "
      "(SELECT coalesce(max(profile_id), 0) FROM profiles)",
      &s);
  if (last == nullptr) return s;
  int rc = last->step();
  if (rc != sql::kRow) return writer_.error(rc, "link log");
  next_link_ = last->int64(0) + 1;
  next_node_ = last->int64(1) + 1;
  next_profile_ = last->int64(2) + 1;
  while ((rc = st->step()) == sql::kRow) {
    const auto key = st->blob(1);
    graph_.add(reinterpret_cast<const uint8_t*>(key.data()), key.size(),
               {st->int64(0), st->int64(3), static_cast<uint8_t>(st->int64(2)), st->int64(4) != 0});
    next_link_ = std::max(next_link_, st->int64(5) + 1);
  }
  if (rc != sql::kDone) return writer_.error(rc, "nodes");
  Use b = writer_.prepare("SELECT key FROM blocked", &s);
  if (b == nullptr) return s;
  while ((rc = b->step()) == sql::kRow) {
    graph_.block_key(reinterpret_cast<const uint8_t*>(b->blob(0).data()), b->blob(0).size());
  }
  if (rc != sql::kDone) return writer_.error(rc, "blocked");
  graph_.mark_valid();
  return Status::Ok();
}

Result<int64_t> SqlStore::current_profile(int64_t profile_id, Connection& c) {
  Status s;
  for (int hops = 0; hops < 64; ++hops) {  // merges flatten the chain; this only guards a loop
    Use st = c.prepare("SELECT merged_into FROM profiles WHERE profile_id = ?1", &s);
    if (st == nullptr) return s;
    st->bind(1, profile_id);
    const int rc = st->step();
    if (rc == sql::kDone) return int64_t{0};
    if (rc != sql::kRow) return c.error(rc, "profiles");
    if (st->is_null(0)) return profile_id;
    profile_id = st->int64(0);
  }
  return Error(Errc::internal, "profile merge chain does not end");
}

Status SqlStore::append_link(const LinkDecision& d) {
  ++(std::string_view(d.outcome) == "merged" ? merges_ : refusals_);
  Status s;
  Use st = writer_.prepare(
      "INSERT INTO link_log(a, b, event_id, batch_id, time_ms, rule, outcome, link_id) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
      &s);
  if (st == nullptr) return s;
  if (d.a) st->bind(1, *d.a);
  st->bind(2, d.b)
      .bind(3, d.event_id.data(), d.event_id.size())
      .bind(4, d.batch_id.data(), d.batch_id.size())
      .bind(5, d.time_ms)
      .bind(6, d.rule)
      .bind(7, std::string_view(d.outcome))
      .bind(8, next_link_++);
  return writer_.done(*st, "link log");
}

Status SqlStore::relabel_profile(int64_t gone, int64_t keep) {
  Status s;
  for (const char* sql : {"UPDATE nodes SET profile = ?1 WHERE profile = ?2",
                          "UPDATE profiles SET merged_into = ?1 WHERE profile_id = ?2",
                          "UPDATE profiles SET merged_into = ?1 WHERE merged_into = ?2"}) {
    Use st = writer_.prepare(sql, &s);
    if (st == nullptr) return s;
    st->bind(1, keep).bind(2, gone);
    if (s = writer_.done(*st, "merge"); !s.ok()) return s;
  }
  return Status::Ok();
}

// The queue holds one row per committed batch: what resolution needs of each of its events, in
// order (append_resolve_input). Events are only ever deleted by an erasure, which resolves the
// whole queue first, so every queued event still exists.
Result<int64_t> SqlStore::resolve_locked(int64_t max_events) {
  int64_t resolved = 0;
  Status s = load_graph();
  if (!s.ok()) return s;
  Resolver resolver(graph_, rules_, *this);
  while (resolved < max_events) {
    Use q = writer_.prepare("SELECT seq, batch_id, inputs, format FROM resolve_inputs ORDER BY seq LIMIT 1", &s);
    if (q == nullptr) return s;
    const int rc = q->step();
    if (rc == sql::kDone) {
      drained_ = true;
      break;
    }
    if (rc != sql::kRow) return writer_.error(rc, "resolve queue");
    const int64_t seq = q->int64(0);
    const Bytes batch_id = bytes_of(q->blob(1)), inputs = bytes_of(q->blob(2));
    const int format = static_cast<int>(q->int64(3));
    q->reset();
    std::string_view rest(reinterpret_cast<const char*>(inputs.data()), inputs.size());
    std::vector<ResolveInput> batch;
    while (!rest.empty()) {
      if (!take_resolve_input(rest, &batch.emplace_back(), format))
        return writer_.error(sql::kCorrupt, "resolve queue");
    }
    // The graph's table is far bigger than the CPU's caches: the keys of an event a few ahead are
    // looked up early, so their cache misses overlap the work on this one.
    constexpr size_t kAhead = 4;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (i + kAhead < batch.size()) {
        const ResolveInput& next = batch[i + kAhead];
        graph_.prefetch(next.slot.data(), next.slot.size());
        for (size_t at = 0; at + kPackedIdentifierBytes <= next.identifiers.size(); at += kPackedIdentifierBytes) {
          graph_.prefetch(reinterpret_cast<const uint8_t*>(next.identifiers.data()) + at + kPackedPseudonymAt, 32);
        }
      }
      const ResolveInput& in = batch[i];
      s = resolver.resolve_event(in.event_id, batch_id, in.slot, unpack_identifiers(in.identifiers), in.time_ms);
      if (!s.ok()) return s;
      ++resolved;
    }
    Use del = writer_.prepare("DELETE FROM resolve_inputs WHERE seq = ?1", &s);
    if (del == nullptr) return s;
    pending_delta_ -= static_cast<int64_t>(batch.size());
    del->bind(1, seq);
    if (s = writer_.done(*del, "resolve queue"); !s.ok()) return s;
  }
  return resolved;
}

Result<int64_t> SqlStore::new_profile(int64_t now_ms) {
  Status s;
  Use p = writer_.prepare("INSERT INTO profiles(profile_id, created_ms) VALUES(?1, ?2)", &s);
  if (p == nullptr) return s;
  p->bind(1, next_profile_).bind(2, now_ms);
  if (s = writer_.done(*p, "profiles"); !s.ok()) return s;
  return next_profile_++;
}

Result<GraphIndex::Node> SqlStore::insert_node(uint8_t kind, std::span<const uint8_t> key,
                                               std::optional<int64_t> profile, int64_t now_ms, const Join* join) {
  Status s;
  if (!profile) {
    auto fresh = new_profile(now_ms);
    if (!fresh.ok()) return fresh.status();
    profile = fresh.value();
  }
  Use node = writer_.prepare(
      "INSERT INTO nodes(key, kind, profile, join_link, join_with, join_anchored, join_event, join_batch, join_ms, "
      "node_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
      &s);
  if (node == nullptr) return s;
  node->bind(1, key.data(), key.size()).bind(2, kind).bind(3, *profile);
  if (join != nullptr) {
    ++merges_;
    node->bind(4, next_link_++)
        .bind(5, join->with)
        .bind(6, join->anchored ? 1 : 0)
        .bind(7, join->event_id.data(), join->event_id.size())
        .bind(8, join->batch_id.data(), join->batch_id.size())
        .bind(9, now_ms);
  }
  node->bind(10, next_node_);
  if (s = writer_.done(*node, "nodes"); !s.ok()) return s;
  return GraphIndex::Node{next_node_++, *profile, kind, false};
}

Status SqlStore::anchor_event(std::span<const uint8_t> event_id, int64_t node_id) {
  return writer_.run(
      "INSERT INTO event_anchor(event_id, node_id) VALUES(?1, ?2) ON CONFLICT(event_id) DO UPDATE SET "
      "node_id = excluded.node_id",
      "event anchor", [&](Statement& st) { st.bind(1, event_id.data(), event_id.size()).bind(2, node_id); });
}

Status SqlStore::record_claim(int64_t node_id, std::span<const uint8_t> batch_id) {
  return writer_.run(
      "INSERT INTO verified_claims(node_id, device_key) SELECT ?1, device_key FROM batches WHERE batch_id = ?2 "
      "ON CONFLICT DO NOTHING",
      "verified claims", [&](Statement& st) { st.bind(1, node_id).bind(2, batch_id.data(), batch_id.size()); });
}

Result<std::vector<ProfileNode>> SqlStore::nodes_of(int64_t profile, Connection& c) {
  Status s;
  Use st = c.prepare("SELECT node_id, kind, key, blocked FROM nodes WHERE profile = ?1 ORDER BY node_id", &s);
  if (st == nullptr) return s;
  st->bind(1, profile);
  std::vector<ProfileNode> out;
  int rc;
  while ((rc = st->step()) == sql::kRow) {
    out.push_back({st->int64(0), static_cast<uint8_t>(st->int64(1)), bytes_of(st->blob(2)), st->int64(3) != 0});
  }
  st->reset();
  if (rc != sql::kDone) return c.error(rc, "nodes");
  return out;
}

// An event carrying a node either is anchored to a node of the same profile or logged the refusal
// that kept them apart (a = the node), so the anchors and the link log find every one.
Result<std::vector<Bytes>> SqlStore::events_touching(const std::vector<ProfileNode>& nodes, Connection& c) {
  std::set<std::string> seen;
  std::vector<Bytes> out;
  Status s;
  for (const ProfileNode& n : nodes) {
    for (const char* sql :
         {"SELECT event_id FROM event_anchor WHERE node_id = ?1", "SELECT event_id FROM link_log WHERE a = ?1"}) {
      Use st = c.prepare(sql, &s);
      if (st == nullptr) return s;
      st->bind(1, n.node_id);
      int rc;
      while ((rc = st->step()) == sql::kRow) {
        if (seen.emplace(st->blob(0)).second) out.push_back(bytes_of(st->blob(0)));
      }
      st->reset();
      if (rc != sql::kDone) return c.error(rc, "events");
    }
  }
  return out;
}

// Rebuilds one profile from its events, as if revoked events, batches and identifiers had never
// linked anything: replayed in corrected time order under the same rules. Links to nodes outside
// the profile were refused before and stay refused. The largest part keeps the profile id.
Status SqlStore::recompute(int64_t profile, int64_t now_ms, std::set<int64_t>* out_profiles) {
  auto nodes = nodes_of(profile, writer_);
  if (!nodes.ok()) return nodes.status();
  auto events = events_touching(nodes.value(), writer_);
  if (!events.ok()) return events.status();
  Components comp(rules_);
  std::map<std::string, size_t> index;  // node key -> component member
  for (const ProfileNode& n : nodes.value()) index[std::string(n.key.begin(), n.key.end())] = comp.add(n.kind);
  struct Replay {
    int64_t time_ms = 0;
    Bytes event_id, batch_id;
    std::vector<size_t> members;
  };
  std::vector<Replay> replay;
  Status s;
  const auto member = [&](const Bytes& key) -> std::optional<size_t> {
    const auto it = index.find(std::string(key.begin(), key.end()));
    if (it == index.end() || nodes.value()[it->second].blocked) return std::nullopt;
    return it->second;
  };
  for (const Bytes& id : events.value()) {
    Use st = writer_.prepare(
        "SELECT batch_id, corrected_ms, slot, (SELECT count(*) FROM revocations WHERE key IN (e.event_id, "
        "e.batch_id)), "
        "identifiers FROM events e WHERE event_id = ?1",
        &s);
    if (st == nullptr) return s;
    st->bind(1, id.data(), id.size());
    const int rc = st->step();
    if (rc != sql::kRow) return writer_.error(rc == sql::kDone ? sql::kCorrupt : rc, "events");
    Replay r{st->int64(1), id, bytes_of(st->blob(0)), {}};
    const Bytes slot = bytes_of(st->blob(2));
    const bool revoked = st->int64(3) != 0;
    const auto ids = unpack_identifiers(st->blob(4));
    st->reset();
    if (revoked) continue;
    for (const StoredIdentifier& en : ids) {
      if (!en.links_profiles() || !IdentityRules::links(en.kind)) continue;
      if (auto m = member(Bytes(en.pseudonym.begin(), en.pseudonym.end()))) r.members.push_back(*m);
    }
    if (auto m = member(slot)) r.members.push_back(*m);
    std::stable_sort(r.members.begin(), r.members.end(), [&](size_t x, size_t y) {
      return anchor_rank(nodes.value()[x].kind) > anchor_rank(nodes.value()[y].kind);
    });
    if (r.members.size() > 1) replay.push_back(std::move(r));
  }
  std::sort(replay.begin(), replay.end(), [](const Replay& x, const Replay& y) {
    return std::tie(x.time_ms, x.event_id) < std::tie(y.time_ms, y.event_id);
  });

  // Decisions among these nodes are superseded by the recompute's own.
  std::set<int64_t> ids;
  for (const ProfileNode& n : nodes.value()) ids.insert(n.node_id);
  Use old = writer_.prepare(
      "SELECT link_id, a, b FROM link_log WHERE b = ?1 AND a IS NOT NULL AND revoked_ms IS NULL "
      "AND rule != 'blocked_pseudonym'",
      &s);
  if (old == nullptr) return s;
  std::vector<int64_t> superseded;
  for (int64_t id : ids) {
    old->reset();
    old->bind(1, id);
    int rc;
    while ((rc = old->step()) == sql::kRow) {
      if (ids.count(old->int64(1)) != 0) superseded.push_back(old->int64(0));
    }
    if (rc != sql::kDone) return writer_.error(rc, "link log");
  }
  Use revoke = writer_.prepare("UPDATE link_log SET revoked_ms = ?2 WHERE link_id = ?1", &s);
  if (revoke == nullptr) return s;
  for (int64_t link : superseded) {
    revoke->bind(1, link).bind(2, now_ms);
    if (s = writer_.done(*revoke, "link log"); !s.ok()) return s;
  }
  // So are the links kept in node rows, which always join two nodes of this profile: they move
  // into the log, revoked, so the node rows only ever hold links that stand.
  Use move = writer_.prepare(
      "INSERT INTO link_log(link_id, a, b, event_id, batch_id, time_ms, rule, outcome, revoked_ms) "
      "SELECT link_id, a, b, event_id, batch_id, time_ms, rule, outcome, ?2 FROM node_links WHERE node_id = ?1",
      &s);
  if (move == nullptr) return s;
  Use clear = writer_.prepare(
      "UPDATE nodes SET join_link = NULL, join_with = NULL, join_anchored = NULL, join_event = NULL, "
      "join_batch = NULL, join_ms = NULL WHERE node_id = ?1 AND join_link IS NOT NULL",
      &s);
  if (clear == nullptr) return s;
  for (int64_t id : ids) {
    move->bind(1, id).bind(2, now_ms);
    if (s = writer_.done(*move, "link log"); !s.ok()) return s;
    clear->bind(1, id);
    if (s = writer_.done(*clear, "nodes"); !s.ok()) return s;
  }
  for (const Replay& r : replay) {
    const size_t anchor = r.members.front();
    for (size_t i = 1; i < r.members.size(); ++i) {
      std::string rule = "co_occurrence";
      const LinkOutcome o = comp.link(anchor, r.members[i], &rule);
      if (o == LinkOutcome::Same) continue;
      s = append_link({nodes.value()[r.members[i]].node_id, nodes.value()[anchor].node_id, r.event_id, r.batch_id,
                       r.time_ms, rule, o == LinkOutcome::Merged ? "merged" : "refused"});
      if (!s.ok()) return s;
    }
  }

  // Assign: the largest component keeps the id, every other one becomes a new profile.
  std::map<size_t, std::vector<size_t>> groups;
  for (size_t i = 0; i < nodes.value().size(); ++i) groups[comp.find(i)].push_back(i);
  auto largest = std::max_element(groups.begin(), groups.end(),
                                  [](const auto& x, const auto& y) { return x.second.size() < y.second.size(); });
  for (auto& [root, members] : groups) {
    int64_t pid = profile;
    if (root != largest->first) {
      auto fresh = new_profile(now_ms);
      if (!fresh.ok()) return fresh.status();
      pid = fresh.value();
      Use relabel = writer_.prepare("UPDATE nodes SET profile = ?2 WHERE node_id = ?1", &s);
      if (relabel == nullptr) return s;
      for (size_t m : members) {
        const ProfileNode& n = nodes.value()[m];
        relabel->bind(1, n.node_id).bind(2, pid);
        if (s = writer_.done(*relabel, "nodes"); !s.ok()) return s;
        if (GraphIndex::Node* g = graph_.find(n.key.data(), n.key.size())) graph_.move(g, pid);
      }
    }
    out_profiles->insert(pid);
  }
  return Status::Ok();
}

Result<UnmergeResult> SqlStore::unmerge(const UnmergeTarget& target, int64_t now_ms) {
  return in_write_txn([&]() -> Result<UnmergeResult> {
    if (auto r = resolve_locked(INT64_MAX); !r.ok()) return r.status();
    UnmergeResult result;
    std::set<int64_t> affected;
    Status s;
    if (target.by == UnmergeTarget::By::Identifier) {
      GraphIndex::Node* node = graph_.find(target.key.data(), target.key.size());
      if (node == nullptr) return Error(Errc::invalid, "no such identifier");
      // Blocked from now on, so the next event carrying it cannot join the profiles again.
      for (const char* sql : {"UPDATE nodes SET blocked = 1 WHERE key = ?1",
                              "INSERT INTO blocked(key) VALUES(?1) ON CONFLICT DO NOTHING"}) {
        Use st = writer_.prepare(sql, &s);
        if (st == nullptr) return s;
        st->bind(1, target.key.data(), target.key.size());
        if (s = writer_.done(*st, "unmerge"); !s.ok()) return s;
      }
      graph_.set_blocked(node);
      graph_.block_key(target.key.data(), target.key.size());
      affected.insert(node->profile);
    } else {
      Use known = writer_.prepare(target.by == UnmergeTarget::By::Event ? "SELECT 1 FROM events WHERE event_id = ?1"
                                                                        : "SELECT 1 FROM batches WHERE batch_id = ?1",
                                  &s);
      if (known == nullptr) return s;
      known->bind(1, target.key.data(), target.key.size());
      const int found = known->step();
      known->reset();
      if (found == sql::kDone) {
        return Error(Errc::invalid, target.by == UnmergeTarget::By::Event ? "no such event" : "no such batch");
      }
      if (found != sql::kRow) return writer_.error(found, "unmerge");
      Use rev = writer_.prepare("INSERT INTO revocations(key, time_ms) VALUES(?1, ?2) ON CONFLICT DO NOTHING", &s);
      if (rev == nullptr) return s;
      rev->bind(1, target.key.data(), target.key.size()).bind(2, now_ms);
      if (s = writer_.done(*rev, "revocations"); !s.ok()) return s;
      // Only a profile this event or batch merged can fall apart: every other link it made was
      // redundant when it was made, and what it was redundant with still stands.
      const bool by_event = target.by == UnmergeTarget::By::Event;
      for (const char* sql :
           {by_event ? "SELECT (SELECT profile FROM nodes WHERE node_id = b) FROM link_log WHERE event_id = ?1 "
                       "AND outcome = 'merged' AND revoked_ms IS NULL"
                     : "SELECT (SELECT profile FROM nodes WHERE node_id = b) FROM link_log WHERE batch_id = ?1 "
                       "AND outcome = 'merged' AND revoked_ms IS NULL",
            by_event ? "SELECT profile FROM node_links WHERE event_id = ?1"
                     : "SELECT profile FROM node_links WHERE batch_id = ?1"}) {
        Use links = writer_.prepare(sql, &s);
        if (links == nullptr) return s;
        links->bind(1, target.key.data(), target.key.size());
        int rc;
        while ((rc = links->step()) == sql::kRow) {
          ++result.links_revoked;
          affected.insert(links->int64(0));
        }
        if (rc != sql::kDone) return writer_.error(rc, "link log");
      }
    }
    std::set<int64_t> after;
    for (int64_t p : affected) {
      if (s = recompute(p, now_ms, &after); !s.ok()) return s;
    }
    if (target.by == UnmergeTarget::By::Identifier) result.links_revoked = static_cast<int64_t>(after.size()) - 1;
    result.profiles.assign(after.begin(), after.end());
    return result;
  });
}

// An event that touches an erased profile is the profile's own when it is anchored to one of the
// profile's nodes or was recorded in one of its visits (slots): true, to be deleted. Otherwise it is
// someone else's that carried one of the profile's identifiers (a family's shared loyalty card): the
// erased identifiers are stripped from it, added to `shared`, and the event is kept (false).
Result<bool> SqlStore::strip_or_own(const Bytes& event_id, const std::set<int64_t>& node_ids,
                                    const std::set<std::string, std::less<>>& keys,
                                    std::set<std::string, std::less<>>* shared) {
  Status s;
  Use st = writer_.prepare(
      "SELECT a.node_id, e.slot, e.identifiers FROM events e LEFT JOIN event_anchor a USING(event_id) "
      "WHERE e.event_id = ?1",
      &s);
  if (st == nullptr) return s;
  st->bind(1, event_id.data(), event_id.size());
  const int rc = st->step();
  if (rc == sql::kDone) return true;  // nothing left to keep
  if (rc != sql::kRow) return writer_.error(rc, "erase");
  if (st->is_null(0) || node_ids.count(st->int64(0)) != 0 || keys.count(st->blob(1)) != 0) return true;
  std::vector<StoredIdentifier> ids = unpack_identifiers(st->blob(2));
  st->reset();
  std::erase_if(ids, [&](const StoredIdentifier& id) {
    const std::string_view key(reinterpret_cast<const char*>(id.pseudonym.data()), id.pseudonym.size());
    if (keys.count(key) == 0) return false;
    shared->emplace(key);
    return true;
  });
  Bytes packed;
  pack_identifiers(ids, packed);
  Use set = writer_.prepare("UPDATE events SET identifiers = ?2 WHERE event_id = ?1", &s);
  if (set == nullptr) return s;
  set->bind(1, event_id.data(), event_id.size()).bind(2, packed.data(), packed.size());
  if (s = writer_.done(*set, "erase"); !s.ok()) return s;
  return false;
}

// A node, its links and (for a slot) its consent state leave the store and the graph.
Status SqlStore::drop_node(const ProfileNode& n) {
  Status s;
  for (const char* sql : {"DELETE FROM link_log WHERE a = ?1", "DELETE FROM link_log WHERE b = ?1",
                          "DELETE FROM verified_claims WHERE node_id = ?1", "DELETE FROM nodes WHERE node_id = ?1"}) {
    if (s = writer_.run(sql, "erase", [&](Statement& st) { st.bind(1, n.node_id); }); !s.ok()) return s;
  }
  graph_.remove(n.key.data(), n.key.size());
  if (n.kind != kSlotKind) return Status::Ok();
  return writer_.run("DELETE FROM consent_state WHERE slot = ?1", "erase",
                     [&](Statement& st) { st.bind(1, n.key.data(), n.key.size()); });
}

// A device's own forget: the events its slot sent from this device are deleted and their links
// revoked, the profile they were in is rebuilt from what remains, and nodes no event holds any more
// (identifiers only that visit carried) leave; the slot is tombstoned. Nothing else is erased: a
// device cannot prove that the identifiers it sent are its customer's.
Status SqlStore::forget_slot_locked(const Key32& device_key, const Bytes& slot, int64_t now_ms) {
  erased_ = true;  // checkpointed after the commit
  if (const GraphIndex::Node* node = graph_.find(slot.data(), slot.size())) {
    const int64_t profile = node->profile;
    auto nodes = nodes_of(profile, writer_);
    if (!nodes.ok()) return nodes.status();
    auto events = events_touching(nodes.value(), writer_);
    if (!events.ok()) return events.status();
    std::vector<Bytes> own;
    Status s;
    Use mine = writer_.prepare("SELECT 1 FROM events WHERE event_id = ?1 AND slot = ?2 AND device_key = ?3", &s);
    Use revoke = writer_.prepare("INSERT INTO revocations(key, time_ms) VALUES(?1, ?2) ON CONFLICT DO NOTHING", &s);
    if (mine == nullptr || revoke == nullptr) return s;
    for (const Bytes& id : events.value()) {
      mine->bind(1, id.data(), id.size()).bind(2, slot.data(), slot.size()).bind(3, device_key.data(), 32);
      const int rc = mine->step();
      mine->reset();
      if (rc != sql::kRow && rc != sql::kDone) return writer_.error(rc, "events");
      if (rc != sql::kRow) continue;
      revoke->bind(1, id.data(), id.size()).bind(2, now_ms);
      if (s = writer_.done(*revoke, "revocations"); !s.ok()) return s;
      own.push_back(id);
    }
    std::set<int64_t> after;
    if (s = recompute(profile, now_ms, &after); !s.ok()) return s;
    for (const Bytes& id : own) {
      for (const char* sql : {"DELETE FROM events WHERE event_id = ?1", "DELETE FROM event_anchor WHERE event_id = ?1",
                              "DELETE FROM link_log WHERE event_id = ?1", "DELETE FROM revocations WHERE key = ?1"}) {
        if (s = writer_.run(sql, "forget", [&](Statement& st) { st.bind(1, id.data(), id.size()); }); !s.ok()) return s;
      }
    }
    for (int64_t p : after) {
      if (s = drop_unheld_nodes(p); !s.ok()) return s;
    }
  }
  return add_tombstone(slot.data(), slot.size(), now_ms);
}

// Drops the nodes of `profile` that no remaining event is anchored to or carried (and the profile
// when none is left).
Status SqlStore::drop_unheld_nodes(int64_t profile) {
  auto nodes = nodes_of(profile, writer_);
  if (!nodes.ok()) return nodes.status();
  Status s;
  Use held = writer_.prepare(
      "SELECT EXISTS(SELECT 1 FROM event_anchor WHERE node_id = ?1) OR EXISTS(SELECT 1 FROM link_log WHERE a = ?1 "
      "AND revoked_ms IS NULL)",
      &s);
  if (held == nullptr) return s;
  size_t dropped = 0;
  for (const ProfileNode& n : nodes.value()) {
    held->bind(1, n.node_id);
    const int rc = held->step();
    const bool kept = rc == sql::kRow && held->int64(0) != 0;
    held->reset();
    if (rc != sql::kRow) return writer_.error(rc, "nodes");
    if (kept) continue;
    if (s = drop_node(n); !s.ok()) return s;
    ++dropped;
  }
  if (dropped < nodes.value().size()) return Status::Ok();
  return writer_.run("DELETE FROM profiles WHERE profile_id = ?1 OR merged_into = ?1", "profiles",
                     [&](Statement& st) { st.bind(1, profile); });
}

Result<ErasureResult> SqlStore::erase_locked(int64_t profile_id, int64_t now_ms) {
  ErasureResult result;
  erased_ = true;  // checkpointed after the commit
  auto nodes = nodes_of(profile_id, writer_);
  if (!nodes.ok()) return nodes.status();
  auto events = events_touching(nodes.value(), writer_);
  if (!events.ok()) return events.status();
  Status s;
  std::set<int64_t> node_ids;
  std::set<std::string, std::less<>> keys, shared;
  for (const ProfileNode& n : nodes.value()) {
    node_ids.insert(n.node_id);
    keys.emplace(n.key.begin(), n.key.end());
  }
  for (const Bytes& id : events.value()) {
    auto owned = strip_or_own(id, node_ids, keys, &shared);
    if (!owned.ok()) return owned.status();
    if (!owned.value()) {  // someone else's event that carried one of the profile's identifiers
      ++result.events_stripped;
      continue;
    }
    for (const char* sql : {"DELETE FROM events WHERE event_id = ?1", "DELETE FROM event_anchor WHERE event_id = ?1"}) {
      if (s = writer_.run(sql, "erase", [&](Statement& st) { st.bind(1, id.data(), id.size()); }); !s.ok()) return s;
    }
    ++result.events;
  }
  for (const ProfileNode& n : nodes.value()) {
    if (s = drop_node(n); !s.ok()) return s;
    const bool others = shared.count(std::string_view(reinterpret_cast<const char*>(n.key.data()), n.key.size())) != 0;
    if (s = add_tombstone(n.key.data(), n.key.size(), now_ms, others ? Tombstone::Shared : Tombstone::Owned); !s.ok()) {
      return s;
    }
  }
  if (s = writer_.run("DELETE FROM profiles WHERE merged_into = ?1", "erase",
                      [&](Statement& st) { st.bind(1, profile_id); });
      !s.ok()) {
    return s;
  }
  Use gone = writer_.prepare("DELETE FROM profiles WHERE profile_id = ?1 RETURNING profile_id", &s);
  if (gone == nullptr) return s;
  gone->bind(1, profile_id);
  const int rc = gone->step();
  if (rc != sql::kRow && rc != sql::kDone) return writer_.error(rc, "erase");
  result.profiles = rc == sql::kRow ? 1 : 0;
  result.identifiers = static_cast<int64_t>(nodes.value().size());
  return result;
}

}  // namespace waymark::collector
