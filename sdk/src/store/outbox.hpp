// The device outbox: sealed events, the consent ledger and persisted counters in one SQLite
// database (WAL, secure_delete, mode 0600). Not thread-safe: after open, only the writer
// thread touches it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/event.hpp"
#include "common/crypto/secure.hpp"
#include "common/sqlite/sqlite.hpp"

namespace waymark::detail {

// Priority for eviction: conversions and consent/erasure records go last.
inline uint8_t priority_of(uint8_t type) {
  if (type == WAYMARK_EVENT_PURCHASE || type == kEventTypeConsent || type == kEventTypeErasure) return 2;
  if (type == kEventTypeIdentify) return 1;
  return 0;
}

using SlotId = std::array<uint8_t, 16>;

// A row on its way in: `plaintext` holds `events` encoded events, sealed by seal() or else by
// insert(). One event is stored as it is; several (consecutive events of one call, one slot, purpose
// and priority: see pack_rows) each follow their 4-byte little-endian length. The row's id and
// event id are its first event's; the others' sequence numbers follow on from the id.
struct OutboxRow {
  int64_t id = 0;
  Uuid event_id{};
  SlotId slot{};
  uint8_t purpose = 0;
  uint8_t priority = 0;
  int64_t created_ms = 0;
  int64_t events = 1;
  std::vector<uint8_t> plaintext;
  std::vector<uint8_t> sealed;  // nonce(24) || XChaCha20-Poly1305(plaintext), once sealed
};

// Packs consecutive one-event rows that share slot, purpose and priority into rows of at most
// `max_events` events and `max_bytes` of plaintext (an event larger than that keeps a row of its
// own). One sealed row per run instead of one per event: a recorded batch costs a fraction of the
// AEAD overhead, row headers and inserts. The packed rows' plaintext is wiped.
std::vector<OutboxRow> pack_rows(std::vector<OutboxRow>&& rows, size_t max_events, size_t max_bytes);

// An event read back and authenticated; `id` is its sequence number.
struct StoredEvent {
  int64_t id = 0;
  std::vector<uint8_t> plaintext;
};

// Persisted counters (the C ABI's stats).
struct Counters {
  int64_t dropped = 0, refused = 0, evicted = 0, unreadable = 0, purged = 0, uploaded = 0, dead_lettered = 0;
  int64_t rejected = 0;  // batch refusals by the collector (each response)

  Counters& operator+=(const Counters& o) {
    dropped += o.dropped;
    refused += o.refused;
    evicted += o.evicted;
    unreadable += o.unreadable;
    purged += o.purged;
    uploaded += o.uploaded;
    dead_lettered += o.dead_lettered;
    rejected += o.rejected;
    return *this;
  }
  bool operator==(const Counters&) const = default;
};

// What a new batch is stamped with when it is leased (kept for every resend).
struct BatchLease {
  Uuid batch_id{};
  int64_t sent_at_ms = 0, sent_monotonic_ms = 0;
  Counters counters;
  size_t max_events = 500;
  int64_t max_bytes = 1 << 20;
};

struct LeasedBatch {
  int64_t seq = 0;
  Uuid batch_id{};
  int64_t sent_at_ms = 0, sent_monotonic_ms = 0;
  int64_t dropped = 0, refused = 0, evicted = 0;
  int64_t first_id = 0, last_id = 0;  // the batch's rows are the marked rows in this id range
  std::vector<StoredEvent> events;
};

struct OutboxConfig {
  std::string dir;
  bool durable = false;                                   // synchronous=FULL: a commit survives power loss
  int64_t max_bytes = 0, max_events = 0, max_age_ms = 0;  // 0 = no cap
};

class Outbox {
 public:
  static constexpr uint32_t kKeyId = 1;
  static constexpr int64_t kSealOverhead = 24 + 16;  // nonce and tag: a row's sealed bytes over its plaintext
  static constexpr const char* kFileName = "outbox.db";

  struct Opened {
    std::unique_ptr<Outbox> outbox;
    bool recovered = false;  // a corrupt file was moved aside
    int64_t unreadable = 0;  // events dropped because the data key does not open them
  };
  // Creates the store directory (mode 0700) if missing; its parent must exist.
  static Status create_directory(const std::string& dir);
  // Opens (creating or migrating) the store; quarantines a corrupt file.
  static Result<Opened> open(const OutboxConfig& config, const uint8_t* data_key, RandomPool& random);
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  Status begin();
  Status commit();
  void rollback();

  // Seals row.plaintext into row.sealed (bound to the row's id, event id and key id) and wipes
  // the plaintext. Thread-safe: it reads only the key and draws the nonce from the pool, so
  // callers can seal their rows in parallel with the writer's inserts.
  Status seal(OutboxRow& row) const;
  Status insert(const OutboxRow& row);
  // Deletes a slot's rows (of one purpose, or all); adds the count to *deleted.
  Status purge(const SlotId& slot, std::optional<uint8_t> purpose, int64_t* deleted);
  // Enforces the caps (age when `by_age`, then count and bytes: lowest priority, oldest first).
  Status evict(int64_t now_ms, bool by_age, int64_t* evicted);

  Status append_consent(const ConsentRecord& record);
  Status delete_consent(const SlotId& slot);
  Result<std::vector<ConsentRecord>> load_consent(const SlotId& slot);

  Counters load_counters() const { return loaded_counters_; }
  // Persists the counters that differ from the last committed values (inside a transaction).
  Status save_counters(const Counters& counters);
  int64_t next_id() const { return next_id_; }

  // Up to `limit` rows, oldest first, authenticated, an entry per event; rows that fail
  // authentication are deleted and their events counted into *unreadable (never returned, never crash).
  Result<std::vector<StoredEvent>> read_oldest(size_t limit, int64_t* unreadable);
  Status remove(const std::vector<int64_t>& ids);

  // The oldest open batch (after a crash or a failed attempt: the same id and rows), or a new
  // one of the oldest unleased rows; empty when nothing is queued. Unreadable rows are dropped.
  Result<std::optional<LeasedBatch>> lease_batch(const BatchLease& fresh, Counters& delta);
  // After a valid receipt: deletes the batch's rows (no-op when already completed).
  Status complete_batch(const LeasedBatch& batch, Counters& delta);
  // After a permanent rejection: moves the rows to the dead-letter table.
  Status dead_letter_batch(const LeasedBatch& batch, int32_t http_status, int64_t now_ms, Counters& delta);
  // Every row with an id <= the result has left the outbox.
  Result<int64_t> uploaded_through();

  // Events queued (a packed row counts each of its events) and their sealed bytes.
  int64_t events() const noexcept { return events_; }
  int64_t bytes() const noexcept { return bytes_; }

 private:
  Outbox(sqlite3* db, const OutboxConfig& config, const uint8_t* data_key, RandomPool& random);
  Status setup(int64_t* unreadable);
  Status exec(const char* sql, bool detect_corrupt = false);
  Result<Statement*> prepare(Statement& slot, const char* sql);
  Status save_next_id(int64_t next_id);
  Status seal_to(const OutboxRow& row, std::vector<uint8_t>& out) const;
  // Steps a `DELETE … RETURNING length(sealed), events` to its end, keeping the event and byte
  // totals right; adds the number of events deleted to *count.
  Status drain_deleted(Statement& st, int64_t* count, std::string_view what);
  // Reads (id, event_id, sealed, events) rows into `out`, an entry per event; rows that fail
  // authentication are deleted and their events added to *unreadable.
  Status read_sealed(Statement& st, std::vector<StoredEvent>& out, int64_t* unreadable, std::string_view what);
  Status finish_batch(const LeasedBatch& batch);
  Status evict_ordered(int64_t need_events, int64_t need_bytes, int64_t* evicted);
  bool open_sealed(int64_t id, const uint8_t* event_id, int64_t events, std::string_view sealed,
                   std::vector<uint8_t>& out) const;

  sqlite3* db_;
  OutboxConfig config_;
  Secret<32> key_;
  RandomPool& random_;
  Counters loaded_counters_;
  Counters committed_counters_;  // as persisted by the last commit
  Counters pending_counters_;    // as written in the open transaction
  bool deleted_in_txn_ = false;
  int64_t next_id_ = 1;
  int64_t events_ = 0;
  int64_t bytes_ = 0;
  int64_t events_at_begin_ = 0, bytes_at_begin_ = 0;  // restored by rollback()
  Statement insert_, delete_id_, save_counter_, save_meta_, append_consent_;
  std::vector<uint8_t> sealed_;  // reused buffer for rows that come unsealed
};

}  // namespace waymark::detail
