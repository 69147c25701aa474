#include "store/sqlite/sqlite_store.hpp"

#include <unordered_map>

#include "store/sql/sql_store.hpp"
#include "common/sqlite/sqlite.hpp"

namespace waymark::collector {
namespace {

static_assert(sql::kRow == SQLITE_ROW && sql::kDone == SQLITE_DONE && sql::kCorrupt == SQLITE_CORRUPT);

constexpr const char* kMigrations[] = {R"sql(
CREATE TABLE devices(device_key BLOB PRIMARY KEY, last_sequence INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE batches(batch_id BLOB PRIMARY KEY, device_key BLOB NOT NULL, sequence INTEGER NOT NULL,
                     received_ms INTEGER NOT NULL, receipt BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE events(event_id BLOB PRIMARY KEY, device_key BLOB NOT NULL, batch_id BLOB NOT NULL,
                    type INTEGER NOT NULL, channel INTEGER NOT NULL, purpose INTEGER NOT NULL, name TEXT NOT NULL,
                    occurred_ms INTEGER NOT NULL, corrected_ms INTEGER NOT NULL, slot BLOB NOT NULL,
                    revenue_minor INTEGER, currency TEXT, campaign_source TEXT, campaign_medium TEXT,
                    campaign_name TEXT) WITHOUT ROWID;
CREATE TABLE event_identifiers(event_id BLOB NOT NULL, kind INTEGER NOT NULL, pseudonym BLOB NOT NULL,
                               linking INTEGER NOT NULL, PRIMARY KEY(event_id, kind, pseudonym)) WITHOUT ROWID;
CREATE INDEX event_identifiers_by_pseudonym ON event_identifiers(pseudonym);
CREATE TABLE consent_state(slot BLOB NOT NULL, purpose INTEGER NOT NULL, granted INTEGER NOT NULL,
                           ledger_seq INTEGER NOT NULL, PRIMARY KEY(slot, purpose)) WITHOUT ROWID;
)sql",
                                       R"sql(
CREATE TABLE tombstones(pseudonym BLOB PRIMARY KEY, erased_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX events_by_slot ON events(slot);
)sql",
                                       // The identity graph: nodes are identifiers and slots, a profile is a
                                       // component (union by size, members relabelled), every link and refusal
                                       // is logged with its provenance. An event is found from a node through
                                       // its anchor or a logged refusal, so ingest keeps no index on random
                                       // pseudonyms (each one dirtied a page per identifier per batch), and an
                                       // event's identifiers are packed into its row (see pack_identifiers).
                                       R"sql(
DROP INDEX event_identifiers_by_pseudonym;
DROP INDEX events_by_slot;
ALTER TABLE events ADD COLUMN identifiers BLOB;
CREATE TABLE resolve_queue(seq INTEGER PRIMARY KEY, event_ids BLOB NOT NULL);
CREATE TABLE profiles(profile_id INTEGER PRIMARY KEY, created_ms INTEGER NOT NULL, merged_into INTEGER);
CREATE INDEX profiles_by_merged_into ON profiles(merged_into) WHERE merged_into IS NOT NULL;
CREATE TABLE nodes(node_id INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE, kind INTEGER NOT NULL,
                   profile INTEGER NOT NULL, blocked INTEGER NOT NULL DEFAULT 0);
CREATE INDEX nodes_by_profile ON nodes(profile);
CREATE TABLE event_anchor(event_id BLOB PRIMARY KEY, node_id INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX event_anchor_by_node ON event_anchor(node_id);
CREATE TABLE link_log(link_id INTEGER PRIMARY KEY, a INTEGER, b INTEGER NOT NULL, event_id BLOB NOT NULL,
                      batch_id BLOB NOT NULL, time_ms INTEGER NOT NULL, rule TEXT NOT NULL, outcome TEXT NOT NULL,
                      revoked_ms INTEGER);
CREATE INDEX link_log_by_a ON link_log(a);
CREATE INDEX link_log_by_b ON link_log(b);
CREATE TABLE blocked(key BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE revocations(key BLOB PRIMARY KEY, time_ms INTEGER NOT NULL) WITHOUT ROWID;
)sql",
                                       // Resolution's inputs travel with the queue (append_resolve_input):
                                       // one row per committed batch, read once, instead of every event
                                       // looked up again by id. Older queue rows: convert_old_resolve_queue.
                                       R"sql(
CREATE TABLE resolve_inputs(seq INTEGER PRIMARY KEY, batch_id BLOB NOT NULL, events INTEGER NOT NULL,
                            inputs BLOB NOT NULL);
)sql",
                                       // Most links are a node seen for the first time joining the
                                       // profile of an event's anchor (or, new itself, the anchor joining
                                       // a known node's profile): such a link is kept in the new node's
                                       // row, with an id from link_log's sequence, instead of a link_log
                                       // row and two index entries. It always joins two nodes of one
                                       // profile: a recompute, which alone splits profiles, moves it into
                                       // link_log first (node_links, SqliteStore::recompute).
                                       R"sql(
ALTER TABLE nodes ADD COLUMN join_link INTEGER;
ALTER TABLE nodes ADD COLUMN join_with INTEGER;
ALTER TABLE nodes ADD COLUMN join_anchored INTEGER;
ALTER TABLE nodes ADD COLUMN join_event BLOB;
ALTER TABLE nodes ADD COLUMN join_batch BLOB;
ALTER TABLE nodes ADD COLUMN join_ms INTEGER;
CREATE VIEW node_links AS
  SELECT join_link AS link_id, CASE WHEN join_anchored THEN join_with ELSE node_id END AS a,
         CASE WHEN join_anchored THEN node_id ELSE join_with END AS b, join_event AS event_id,
         join_batch AS batch_id, join_ms AS time_ms, 'co_occurrence' AS rule, 'merged' AS outcome,
         NULL AS revoked_ms, node_id, profile
  FROM nodes WHERE join_link IS NOT NULL;
)sql",
                                       // Resolve inputs written from now on take 4 bytes for an event's
                                       // identifiers' length (append_resolve_input); older rows keep 2.
                                       R"sql(
ALTER TABLE resolve_inputs ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
)sql",
                                       // A tombstone of an identifier that other people's events carried
                                       // too (shared = 1) strips it from later events instead of erasing
                                       // their visit (Tombstone::Shared).
                                       R"sql(
ALTER TABLE tombstones ADD COLUMN shared INTEGER NOT NULL DEFAULT 0;
)sql",
                                       // Everything the wire carries: typed properties (a JSON object),
                                       // the campaign's content, and where each batch came from.
                                       R"sql(
ALTER TABLE events ADD COLUMN properties TEXT;
ALTER TABLE events ADD COLUMN campaign_content TEXT;
ALTER TABLE batches ADD COLUMN app_id TEXT;
ALTER TABLE batches ADD COLUMN platform TEXT;
ALTER TABLE batches ADD COLUMN sdk_version TEXT;
ALTER TABLE batches ADD COLUMN device_model TEXT;
ALTER TABLE batches ADD COLUMN os_version TEXT;
)sql",
                                       // Devices that proved an identifier with the brand's identity
                                       // assertion (Proof::Asserted): what entitles a device to read a
                                       // profile other devices' events joined (device_slot).
                                       R"sql(
CREATE TABLE verified_claims(node_id INTEGER NOT NULL, device_key BLOB NOT NULL,
                             PRIMARY KEY(node_id, device_key)) WITHOUT ROWID;
)sql",
                                       // Marketing spend the brand imports (ROAS, ROMI).
                                       R"sql(
CREATE TABLE spend(day INTEGER NOT NULL, level TEXT NOT NULL, key TEXT NOT NULL, currency TEXT NOT NULL,
                   amount_minor INTEGER NOT NULL, imported_ms INTEGER NOT NULL,
                   PRIMARY KEY(day, level, key, currency)) WITHOUT ROWID;
)sql"};

class SqliteStatement final : public sql::Statement {
 public:
  SqliteStatement(sqlite3* db, const char* sql, int* rc) : st_(db, sql, rc) {}
  Statement& bind(int i, int64_t v) override {
    st_.bind(i, v);
    return *this;
  }
  Statement& bind(int i, const void* data, size_t len) override {
    st_.bind(i, data, len);
    return *this;
  }
  Statement& bind(int i, std::string_view text) override {
    st_.bind(i, text);
    return *this;
  }
  int step() override { return st_.step(); }
  void reset() override { st_.reset(); }
  int64_t int64(int col) const override { return st_.int64(col); }
  std::string_view blob(int col) const override { return st_.blob(col); }
  bool is_null(int col) const override { return sqlite3_column_type(st_.get(), col) == SQLITE_NULL; }

 private:
  detail::Statement st_;
};

class SqliteConnection final : public sql::Connection {
 public:
  ~SqliteConnection() override {
    cache_.clear();  // statements are finalized before the connection closes
    if (db_ != nullptr) sqlite3_close(db_);
  }
  Status open(const std::string& path, int busy_timeout_ms) {
    const int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    if (rc != SQLITE_OK) return error(rc, "cannot open the collector store");
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, busy_timeout_ms);
    if (Status s = exec(kStoragePragmas, "store"); !s.ok()) return s;
    return exec("PRAGMA secure_delete=ON", "store");  // erased rows leave zeroed pages behind
  }
  sqlite3* db() const { return db_; }

  sql::Use prepare(const char* sql, Status* status) override {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      int rc = SQLITE_OK;
      auto st = std::make_unique<SqliteStatement>(db_, sql, &rc);
      if (rc != SQLITE_OK) {
        *status = error(rc, "prepare");
        return sql::Use(nullptr);
      }
      it = cache_.emplace(sql, std::move(st)).first;
    }
    it->second->reset();
    return sql::Use(it->second.get());
  }
  Status exec(const char* sql, const char* what) override {
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    return rc == SQLITE_OK ? Status::Ok() : error(rc, what);
  }
  Status error(int rc, const char* what) const override { return from_common(detail::sqlite_status(rc, db_, what)); }
  Status begin() override { return exec("BEGIN IMMEDIATE", "begin"); }
  bool disk_full() const override { return (sqlite3_errcode(db_) & 0xff) == SQLITE_FULL; }
  // secure_delete zeroed the freed pages; moving the WAL into the file and truncating it makes sure no
  // copy of erased rows stays behind in the log either, and gives a full disk its space back.
  void compact() override { (void)exec("PRAGMA wal_checkpoint(TRUNCATE)", "checkpoint"); }
  Result<bool> has_table(const char* name) override {
    Status s;
    sql::Use st = prepare("SELECT 1 FROM sqlite_master WHERE name = ?1", &s);
    if (st == nullptr) return s;
    st->bind(1, std::string_view(name));
    const int rc = st->step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return error(rc, "schema");
    return rc == SQLITE_ROW;
  }

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, std::unique_ptr<SqliteStatement>> cache_;
};

}  // namespace

int64_t sqlite_store_schema_version() {
  return static_cast<int64_t>(std::size(kMigrations));
}

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, int busy_timeout_ms, IdentityRules rules,
                                                 uint64_t disk_reserve_bytes) {
  auto writer = std::make_unique<SqliteConnection>();
  if (Status s = writer->open(path, busy_timeout_ms); !s.ok()) return s;
  int rc = SQLITE_OK;
  if (Status s = from_common(detail::migrate(writer->db(), kMigrations, "collector store", &rc)); !s.ok()) return s;
  auto reader = std::make_unique<SqliteConnection>();
  if (Status s = reader->open(path, busy_timeout_ms); !s.ok()) return s;
  auto store = std::make_unique<SqlStore>(std::move(rules), std::move(writer), std::move(reader),
                                          std::make_unique<DiskReserve>(path + ".reserve", disk_reserve_bytes));
  if (Status s = store->init(); !s.ok()) return s;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace waymark::collector
