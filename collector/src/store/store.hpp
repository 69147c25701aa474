// The collector's store: one interface, on SQLite (the default, one file) or PostgreSQL.
// Every method is thread-safe. Nothing in the store is a raw identifier: pseudonyms arrive
// re-keyed with the server secret, customer slots are random device-made ids.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "status.hpp"
#include "identity/rules.hpp"

namespace waymark::collector {

using Bytes = std::vector<uint8_t>;
using Key32 = std::array<uint8_t, 32>;

// How the device showed that an identifier is its customer's (docs/security.md, "Verified identity").
enum class Proof : uint8_t {
  Claimed = 0,   // sent with the brand key alone: links under the identity rules
  Asserted = 1,  // with a valid identity assertion for this device: links, and entitles the device
  Unproven = 2,  // of a kind in `verified-kinds`, without a valid assertion: kept, never links
};

struct StoredIdentifier {
  uint8_t kind = 0;
  Key32 pseudonym{};  // already re-keyed with the server secret
  bool linking = true;
  Proof proof = Proof::Claimed;
  // Whether resolution may join profiles through it.
  bool links_profiles() const { return linking && proof != Proof::Unproven; }
};

struct StoredEvent {
  Bytes event_id;  // 16 bytes, UUIDv7
  uint8_t type = 0, channel = 0, purpose = 0;
  std::string name;
  int64_t occurred_ms = 0;
  int64_t corrected_ms = 0;  // device clock corrected with the batch's sent-at
  Bytes slot;
  std::vector<StoredIdentifier> identifiers;
  std::optional<int64_t> revenue_minor;
  std::string currency;
  std::string campaign_source, campaign_medium, campaign_name, campaign_content;
  std::string properties;  // a JSON object of typed values (string, integer, number, boolean); "" for none
};

// What a batch says of where it came from, kept with the batch and shown with each of its events.
struct BatchSource {
  std::string app_id, platform, sdk_version, device_model, os_version;
};

struct ConsentUpdate {
  Bytes slot;
  uint8_t purpose = 0;
  bool granted = false;
  uint64_t ledger_seq = 0;
};

// Everything one batch changes, committed in one transaction.
struct BatchWrite {
  Bytes batch_id;
  Key32 device_key{};
  uint64_t sequence = 0;
  int64_t received_ms = 0;
  BatchSource source;
  std::vector<StoredEvent> events;  // new events only
  std::vector<ConsentUpdate> consent;
  // Whole-customer erasures (an erasure token signed by the brand, or a visit that carried an erased
  // identifier): the profiles holding these re-keyed pseudonyms or customer slots are erased (see
  // Store::erase) and their keys tombstoned.
  std::vector<Key32> erase_pseudonyms;
  std::vector<Bytes> erase_slots;
  // The SDK's forget without the brand's erasure token: each slot's events from this batch's device
  // are deleted and the links they made revoked; nothing else (see Store: forget_slot_locked).
  std::vector<Bytes> forget_slots;
  // The other identifiers of a visit erased whole (it carried an erased identifier): tombstoned as
  // owned, without erasing any profile that holds them.
  std::vector<Key32> tombstone_pseudonyms;
  Bytes receipt;  // returned again for a resent batch
};

enum class ReplayCheck { New, KnownBatch, SequenceNotIncreasing };

// What an erasure left of a key. `Owned`: only the erased customer used it, so a later visit that
// carries it is theirs and is erased whole. `Shared`: other people's events carried it too (a
// family's loyalty card), so later events keep everything but that identifier.
enum class Tombstone { None, Owned, Shared };

// Lookups the ingest pipeline makes while the store holds its write transaction, so what it
// decides cannot be overtaken by a concurrent batch (and costs no extra lock round trips).
class IngestTxn {
 public:
  virtual ~IngestTxn() = default;
  // The stored receipt when `batch_id` was already acknowledged.
  virtual Result<std::optional<Bytes>> receipt_for(const Bytes& batch_id) = 0;
  virtual Result<ReplayCheck> check_sequence(const Key32& device_key, uint64_t sequence) = 0;
  // Which of these event ids are already stored (dedupe is forever, not a window).
  virtual Result<std::vector<bool>> known_events(const std::vector<Bytes>& event_ids) = 0;
  virtual Result<bool> consent_granted(const Bytes& slot, uint8_t purpose) = 0;
  // Whether a re-keyed pseudonym or a customer slot was erased, and how. Asked for every key of
  // every event, so an implementation answers from memory (SQLite loads every tombstone at open).
  virtual Result<Tombstone> tombstone(const uint8_t* key, size_t len) = 0;
};

// Fills the write for one batch and returns true to commit it, false to write nothing (a rejection,
// or a resent batch). A store error from a lookup is returned.
using IngestBuild = std::function<Result<bool>(IngestTxn&, BatchWrite&)>;

// --- identity graph and queries ---------------------------------------------------------------

struct ProfileNode {
  int64_t node_id = 0;
  uint8_t kind = 0;  // IdKind, or kSlotKind
  Bytes key;         // re-keyed pseudonym (32 bytes) or slot id (16 bytes)
  bool blocked = false;
};

struct Profile {
  int64_t profile_id = 0;
  int64_t created_ms = 0;
  std::vector<ProfileNode> nodes;
  int64_t events = 0;
  int64_t first_seen_ms = 0, last_seen_ms = 0;
  int64_t revenue_minor = 0;  // summed over all currencies' minor units; see `currencies`
  std::vector<std::string> currencies;
};

struct Touchpoint {
  Bytes event_id, batch_id;
  uint8_t type = 0, channel = 0, purpose = 0;
  std::string name;
  int64_t occurred_ms = 0, corrected_ms = 0;
  std::optional<int64_t> revenue_minor;
  std::string currency;
  std::string campaign_source, campaign_medium, campaign_name, campaign_content;
  std::string properties;  // JSON object text, "" for none
  BatchSource source;
  int64_t anchor_node = 0;
};

// Paging: pass back `next` to continue; empty when done. Opaque to clients.
struct JourneyPage {
  std::vector<Touchpoint> items;
  std::string next;
};

struct LinkRecord {
  int64_t link_id = 0;
  std::optional<int64_t> a;  // none: the identifier was never made a node (blocked, shared device)
  int64_t b = 0;
  Bytes event_id, batch_id;
  int64_t time_ms = 0;
  std::string rule, outcome;  // outcome: merged | refused; rule says which rule decided
  std::optional<int64_t> revoked_ms;
};

struct Explanation {
  Profile profile;
  std::vector<LinkRecord> links;  // every link and refusal touching the profile's nodes
};

struct UnmergeTarget {
  enum class By { Event, Batch, Identifier } by = By::Event;
  Bytes key;  // event id, batch id, or re-keyed pseudonym
};

struct UnmergeResult {
  int64_t links_revoked = 0;
  std::vector<int64_t> profiles;  // the profiles the affected nodes belong to afterwards
};

struct ErasureResult {
  int64_t profiles = 0;
  int64_t events = 0;           // the profile's own events, deleted
  int64_t events_stripped = 0;  // other people's events that carried its identifiers: those stripped, kept
  int64_t identifiers = 0;      // nodes deleted and tombstoned
};

// One event as the analytics see it.
struct AnalyticsEvent {
  int64_t time_ms = 0;  // corrected
  uint8_t type = 0, channel = 0;
  std::string name;
  std::optional<int64_t> revenue_minor;
  std::string currency;
  std::string campaign;  // "source / medium / name", empty without a campaign
  std::string campaign_source, campaign_medium;
  std::string properties;  // JSON object text, "" for none
  std::string platform;    // of the device that sent it (its batch's), e.g. "android", "linux"
};

struct ProfilePage {
  std::vector<int64_t> ids;
  std::string next;
};

// A customer slot as its device sees it (see Store::device_slot).
struct DeviceSlot {
  int64_t profile = 0;
  bool personalisation = false;  // the slot's newest consent record granted personalisation
  // The device may read the profile: every event of it came from this device, or the device holds an
  // asserted identifier of it. Otherwise it was joined to other devices' events by claims anyone can make.
  bool entitled = false;
};

// What ingest needs: batches committed in groups, and whether the store can take writes now.
class IngestStore {
 public:
  virtual ~IngestStore() = default;
  // Group commit: runs every build in order inside one write transaction (each sees what the ones
  // before it wrote) and commits once. Returns, per build, whether it wrote. A build that refuses
  // writes nothing and never affects the others; a store error from any lookup, write or the commit
  // rolls everything back and is returned.
  virtual Result<std::vector<bool>> ingest_group(const std::vector<IngestBuild>& builds) = 0;
  // A group of one.
  Result<bool> ingest(const IngestBuild& build) {
    auto r = ingest_group({build});
    if (!r.ok()) return r.status();
    return static_cast<bool>(r.value()[0]);
  }
  // Why the store cannot commit now (the disk is full, the database is unreachable), or nothing.
  // Writes are refused while it says so; queries still answer. Thread-safe.
  virtual std::optional<std::string> degraded() const = 0;
  // Whether this process may write now: on PostgreSQL its session is alive and holds the writer lock
  // (reconnecting if it was cut); store_busy once another writer took the lock. A merger asks before it
  // takes batches off the queue.
  virtual Status check_writer() = 0;
};

// The identity graph's upkeep: resolution behind ingest, the brand's blocklist, unmerge and erasure.
class IdentityStore {
 public:
  virtual ~IdentityStore() = default;
  // Identity resolution runs behind ingest: every committed event is queued and linked in
  // commit order. Returns how many events were resolved (at most `max_events`).
  virtual Result<int64_t> resolve_pending(int64_t max_events) = 0;
  virtual Result<int64_t> pending_events() = 0;
  // Link decisions since the store was opened (for metrics).
  struct IdentityCounters {
    uint64_t merges = 0, refusals = 0;
  };
  virtual IdentityCounters identity_counters() const = 0;
  // Re-keyed pseudonyms that never link (a brand's junk list, computed by the caller).
  virtual Status set_blocked(const std::vector<Key32>& pseudonyms) = 0;
  // Removes the links a given event, batch or identifier made and recomputes the affected
  // profiles from their events. An identifier unmerged this way is blocked from linking again.
  virtual Result<UnmergeResult> unmerge(const UnmergeTarget& target, int64_t now_ms) = 0;
  // Deletes the profile, its events (those anchored to it or recorded in its visits), its links and
  // nodes; strips its identifiers from other people's events that carried them (kept); tombstones
  // its pseudonyms and slots so a replayed batch cannot bring it back.
  virtual Result<ErasureResult> erase(int64_t profile_id, int64_t now_ms) = 0;
};

// Profiles, journeys and explanations. Queries resolve everything pending first. Profile ids merged
// into another answer with the surviving profile.
class QueryStore {
 public:
  virtual ~QueryStore() = default;
  virtual Result<std::optional<Profile>> profile(int64_t profile_id) = 0;
  virtual Result<std::optional<int64_t>> profile_of(const uint8_t* key, size_t len) = 0;
  virtual Result<ProfilePage> profiles(const std::string& after, int limit) = 0;
  // The profile of the newest event of `slot` sent by `device_key`, and the slot's personalisation
  // consent. Nothing when that device never sent an event of that slot.
  virtual Result<std::optional<DeviceSlot>> device_slot(const Key32& device_key, const Bytes& slot) = 0;
  virtual Result<JourneyPage> journey(int64_t profile_id, const std::string& after, int limit) = 0;
  virtual Result<std::optional<Explanation>> explain(int64_t profile_id) = 0;
  // Every stored event, counted (a full scan, behind GET /v1/reports/totals).
  virtual Result<int64_t> event_count() = 0;
};

// What the analytics read: every event of a window, profile by profile.
class AnalyticsScan {
 public:
  virtual ~AnalyticsScan() = default;
  // Every event in [from_ms, to_ms) of customers who have not withdrawn analytics consent, one call
  // per profile with its events in time order. `fn` returning false stops the scan.
  virtual Status for_each_profile(
      int64_t from_ms, int64_t to_ms,
      const std::function<bool(int64_t profile, const std::vector<AnalyticsEvent>&)>& fn) = 0;
};

// Marketing spend the brand imports: an amount per day (of the brand's calendar) on a channel group or
// a campaign, what ROAS and ROMI divide by.
struct SpendRow {
  int64_t day = 0;    // days since 1970-01-01 in the brand's calendar
  std::string level;  // "channel_group" or "campaign"
  std::string key;    // the channel group ("Paid Search") or the campaign ("source / medium / name")
  std::string currency;
  int64_t amount_minor = 0;
};
class SpendStore {
 public:
  virtual ~SpendStore() = default;
  // Replaces, in one transaction, what was imported before for each day and level that `rows` hold:
  // importing a day again is idempotent, and a corrected day replaces the old one whole.
  virtual Status replace_spend(const std::vector<SpendRow>& rows, int64_t now_ms) = 0;
  // The spend of days in [from_day, to_day), by day, level, key and currency.
  virtual Result<std::vector<SpendRow>> spend(int64_t from_day, int64_t to_day) = 0;
};

// A backend: all of them. Each role of the collector takes only the part it uses.
class Store : public IngestStore, public IdentityStore, public QueryStore, public AnalyticsScan, public SpendStore {};

// SQLite: WAL, migrations, one writer connection and one reader connection for queries.
// `busy_timeout_ms`: how long a commit waits for a lock before the store reports itself unavailable.
// `disk_reserve_bytes`: space held in `<path>.reserve` for when the disk fills up (0: none).
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, int busy_timeout_ms = 5000,
                                                 IdentityRules rules = {}, uint64_t disk_reserve_bytes = 0);

// What `store = …` names: "sqlite" (collector.db in `data_dir`) or a PostgreSQL URI (postgresql:// or
// postgres://). Anything else is refused with a message that says what is accepted.
enum class Access { Write, ReadOnly };
Result<std::unique_ptr<Store>> open_store(const std::string& store, const std::string& data_dir,
                                          IdentityRules rules = {}, uint64_t disk_reserve_bytes = 0,
                                          Access access = Access::Write);
bool is_postgres_location(const std::string& store);
// The `store` option's default and its help text.
inline constexpr const char* kDefaultStore = "sqlite";
inline constexpr const char* kStoreHelp =
    "sqlite (collector.db in data-dir) or a PostgreSQL URI, postgresql://host/db (password: PGPASSFILE)";

// PostgreSQL 15: `conninfo` is a libpq connection string or URI (postgresql://…). Refuses a database
// another collector is writing to. Access::ReadOnly (a query node, which may read a replica): no lock,
// no migration (the schema must be this build's), every transaction read-only, nothing resolved.
Result<std::unique_ptr<Store>> open_postgres_store(const std::string& conninfo, IdentityRules rules = {},
                                                   Access access = Access::Write);

}  // namespace waymark::collector
