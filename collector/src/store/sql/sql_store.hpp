// The SQL store (internal), the same on every database: one writer connection for ingest, identity
// resolution, unmerge and erasure; one reader connection for queries, which run beside the writer.
// sql_store.cpp: ingest, erasure; sql_identity.cpp: the identity graph; sql_query.cpp: profiles,
// journeys, explanations; sql_spend.cpp: marketing spend. The drivers (store/sqlite/, store/postgres/) open the
// connections and lay out the schema.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "store/disk_reserve.hpp"
#include "identity/graph_index.hpp"
#include "identity/resolver.hpp"
#include "store/sql/connection.hpp"
#include "store/store.hpp"

namespace waymark::collector {

// An event's identifiers live in its row: per identifier kind (1 byte), flags (1: bit 0 linking,
// bits 1-2 the Proof), pseudonym (32).
inline Bytes bytes_of(std::string_view b) {
  return Bytes(b.begin(), b.end());
}

constexpr size_t kPackedIdentifierBytes = 34, kPackedPseudonymAt = 2;
// Replaces `out` with the packed identifiers (its capacity is reused).
void pack_identifiers(const std::vector<StoredIdentifier>& ids, Bytes& out);
std::vector<StoredIdentifier> unpack_identifiers(std::string_view packed);

// What identity resolution needs of one event, queued at ingest in the batch's resolve_inputs row
// (resolution then reads one row per batch instead of looking every event up again).
struct ResolveInput {
  std::span<const uint8_t> event_id, slot;
  int64_t time_ms = 0;
  std::string_view identifiers;  // packed (pack_identifiers)
};
inline constexpr int kResolveInputFormat = 2;  // resolve_inputs.format of the rows written now
inline constexpr const char* kQueueResolveInputs =
    "INSERT INTO resolve_inputs(batch_id, events, inputs, format) VALUES(?1, ?2, ?3, 2)";
// Refuses (never wraps) a field longer than its length can say.
Status append_resolve_input(Bytes& out, const Bytes& event_id, const Bytes& slot, int64_t time_ms,
                            const Bytes& packed_identifiers);
// Reads the next input of a row of `format` off the front of `in`; false when `in` does not start
// with a whole one.
bool take_resolve_input(std::string_view& in, ResolveInput* out, int format = kResolveInputFormat);

using sql::Connection;
using sql::Use;

class SqlStore final : public Store, private IngestTxn, private GraphWriter {
 public:
  // `reserve`: space held back on the database's own file system (SQLite), or null.
  SqlStore(IdentityRules rules, std::unique_ptr<Connection> writer, std::unique_ptr<Connection> reader,
           std::unique_ptr<DiskReserve> reserve)
      : rules_(std::move(rules)),
        reserve_(std::move(reserve)),
        writer_(*writer),
        reader_(*reader),
        writer_owned_(std::move(writer)),
        reader_owned_(std::move(reader)) {}
  // A query node's store: it never resolves (the merger does), and its driver refuses writes.
  void set_read_only() { read_only_ = true; }
  // Reads what the store keeps in memory (tombstones, the resolve queue's length), after the driver
  // laid out the schema.
  Status init();

  Result<std::vector<bool>> ingest_group(const std::vector<IngestBuild>& builds) override;
  Result<int64_t> event_count() override;
  std::optional<std::string> degraded() const override;
  Status check_writer() override;
  Result<int64_t> resolve_pending(int64_t max_events) override;
  Result<int64_t> pending_events() override;
  IdentityCounters identity_counters() const override { return {merges_.load(), refusals_.load()}; }
  Status set_blocked(const std::vector<Key32>& pseudonyms) override;
  Result<std::optional<Profile>> profile(int64_t profile_id) override;
  Result<std::optional<int64_t>> profile_of(const uint8_t* key, size_t len) override;
  Result<std::optional<DeviceSlot>> device_slot(const Key32& device_key, const Bytes& slot) override;
  Result<ProfilePage> profiles(const std::string& after, int limit) override;
  Result<JourneyPage> journey(int64_t profile_id, const std::string& after, int limit) override;
  Result<std::optional<Explanation>> explain(int64_t profile_id) override;
  Result<UnmergeResult> unmerge(const UnmergeTarget& target, int64_t now_ms) override;
  Result<ErasureResult> erase(int64_t profile_id, int64_t now_ms) override;
  Status for_each_profile(int64_t from_ms, int64_t to_ms,
                          const std::function<bool(int64_t, const std::vector<AnalyticsEvent>&)>& fn) override;
  Status replace_spend(const std::vector<SpendRow>& rows, int64_t now_ms) override;
  Result<std::vector<SpendRow>> spend(int64_t from_day, int64_t to_day) override;

 private:
  // IngestTxn, called inside the write transaction.
  Result<std::optional<Bytes>> receipt_for(const Bytes& batch_id) override;
  Result<ReplayCheck> check_sequence(const Key32& device_key, uint64_t sequence) override;
  Result<std::vector<bool>> known_events(const std::vector<Bytes>& event_ids) override;
  Result<bool> consent_granted(const Bytes& slot, uint8_t purpose) override;
  Result<Tombstone> tombstone(const uint8_t* key, size_t len) override;

  // Runs `fn` in a write transaction (the writer lock held), committing when it succeeds.
  template <class F>
  auto in_write_txn(F&& fn) -> decltype(fn());
  Status write_batch(const BatchWrite& w);
  Status pack_old_identifiers();
  Status convert_old_resolve_queue();
  // An owned tombstone wins over a shared one for the same key.
  Status add_tombstone(const uint8_t* key, size_t len, int64_t now_ms, Tombstone how = Tombstone::Owned);

  // Identity graph, writer lock held (sqlite_identity.cpp).
  Status load_graph();
  Result<int64_t> resolve_locked(int64_t max_events);
  Result<int64_t> new_profile(int64_t now_ms);
  Result<int64_t> current_profile(int64_t profile_id, Connection& c);
  // GraphWriter: what the resolver decided, persisted (identity/resolver.hpp).
  Result<GraphIndex::Node> insert_node(uint8_t kind, std::span<const uint8_t> key, std::optional<int64_t> profile,
                                       int64_t now_ms, const Join* join) override;
  Status relabel_profile(int64_t gone, int64_t keep) override;
  Status append_link(const LinkDecision& decision) override;
  Status anchor_event(std::span<const uint8_t> event_id, int64_t node_id) override;
  Status record_claim(int64_t node_id, std::span<const uint8_t> batch_id) override;
  Status recompute(int64_t profile, int64_t now_ms, std::set<int64_t>* out_profiles);
  Result<std::vector<ProfileNode>> nodes_of(int64_t profile, Connection& c);
  // Every event id that belongs to or carries one of `nodes` (anchored, identifier, slot).
  Result<std::vector<Bytes>> events_touching(const std::vector<ProfileNode>& nodes, Connection& c);
  Result<ErasureResult> erase_locked(int64_t profile_id, int64_t now_ms);
  Status drop_node(const ProfileNode& n);
  Status forget_slot_locked(const Key32& device_key, const Bytes& slot, int64_t now_ms);
  Status drop_unheld_nodes(int64_t profile);
  // Disk full (writer lock held): the reserve is released so the WAL can be folded into the database
  // and truncated; writes wait until the reserve can be held again (recover_locked).
  void enter_degraded_locked(const std::string& why);
  bool recover_locked();
  // Queries resolve what is pending first, but never fail for it: with the disk full they answer
  // from what is resolved.
  void resolve_for_query() { (void)resolve_pending(INT64_MAX); }
  Result<bool> strip_or_own(const Bytes& event_id, const std::set<int64_t>& node_ids,
                            const std::set<std::string, std::less<>>& keys, std::set<std::string, std::less<>>* shared);

  IdentityRules rules_;
  bool read_only_ = false;
  std::unique_ptr<DiskReserve> reserve_;
  std::atomic<bool> degraded_{false};
  mutable std::mutex degraded_mu_;
  std::string degraded_reason_;  // guarded by degraded_mu_
  Connection &writer_, &reader_;
  std::unique_ptr<Connection> writer_owned_, reader_owned_;
  GraphIndex graph_;       // writer lock held
  int64_t next_link_ = 1;  // link ids, shared by link_log and the links kept in node rows (load_graph)
  int64_t next_node_ = 1, next_profile_ = 1;  // writer lock held; from the database at load_graph
  std::atomic<uint64_t> merges_{0}, refusals_{0};
  // Something may wait in the resolve queue (checked at open). Cleared only once a transaction that
  // emptied the queue has committed: a query that finds it clear reads the resolution it waits for.
  std::atomic<bool> queued_{true};
  bool drained_ = false;                                           // the open transaction emptied the resolve queue
  std::atomic<int64_t> pending_{0};                                // events in the resolve queue, as committed
  int64_t pending_delta_ = 0;                                      // what the open transaction adds there (or takes)
  std::map<std::string, Tombstone, std::less<>> tombstones_;       // every erased key: ingest never asks SQLite
  std::vector<std::pair<std::string, Tombstone>> new_tombstones_;  // added by the open transaction
  bool erased_ = false;                                            // the open transaction erased a profile
};

}  // namespace waymark::collector

namespace waymark::collector {

template <class F>
auto SqlStore::in_write_txn(F&& fn) -> decltype(fn()) {
  std::lock_guard lock(writer_.mu);
  if (degraded_ && !recover_locked()) {
    return Error(Errc::store_full, "the disk is full: writes resume once space is freed");
  }
  new_tombstones_.clear();
  erased_ = false;
  drained_ = false;
  pending_delta_ = 0;
  if (Status s = writer_.begin(); !s.ok()) return s;
  auto result = fn();
  if (result.ok()) {
    if (Status s = writer_.exec("COMMIT", "commit"); !s.ok()) {
      const bool full = writer_.disk_full();
      (void)writer_.exec("ROLLBACK", "rollback");
      graph_.invalidate();
      if (full) enter_degraded_locked(s.message);
      return s;
    }
    for (auto& [key, how] : new_tombstones_) {
      Tombstone& t = tombstones_[std::move(key)];
      if (t != Tombstone::Owned) t = how;
    }
    if (drained_) queued_ = false;
    pending_ += pending_delta_;
    if (erased_) writer_.compact();  // no copy of erased rows stays behind in SQLite's log
  } else {
    const bool full = writer_.disk_full();
    (void)writer_.exec("ROLLBACK", "rollback");
    graph_.invalidate();  // memory may be ahead of the database: reload at next use
    if (full) enter_degraded_locked("a write failed: the disk is full");
  }
  return result;
}

}  // namespace waymark::collector
