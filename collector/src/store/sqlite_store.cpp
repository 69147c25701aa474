#include <mutex>

#include "store/sqlite.hpp"
#include "store/store.hpp"

namespace waymark::collector {

using detail::Error;
using detail::sqlite_status;
using detail::Statement;

namespace {

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
)sql"};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  ~SqliteStore() override {
    tombstone_query_ = {};  // finalized before the connection closes
    sqlite3_close(db_);
  }

  Status init() {
    const std::string pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;";
    if (int rc = sqlite3_exec(db_, pragmas.c_str(), nullptr, nullptr, nullptr); rc != SQLITE_OK) {
      return sqlite_status(rc, db_, "store");
    }
    int rc = SQLITE_OK;
    return detail::migrate(db_, kMigrations, "collector store", &rc);
  }

  Result<std::optional<Bytes>> receipt_for(const Bytes& batch_id) override {
    std::lock_guard lock(mu_);
    int rc = SQLITE_OK;
    Statement st(db_, "SELECT receipt FROM batches WHERE batch_id = ?1", &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "batches");
    st.bind(1, batch_id.data(), batch_id.size());
    rc = st.step();
    if (rc == SQLITE_DONE) return std::optional<Bytes>{};
    if (rc != SQLITE_ROW) return sqlite_status(rc, db_, "batches");
    const auto r = st.blob(0);
    return std::optional<Bytes>(Bytes(r.begin(), r.end()));
  }

  Result<ReplayCheck> check_sequence(const Key32& device_key, uint64_t sequence) override {
    std::lock_guard lock(mu_);
    int rc = SQLITE_OK;
    Statement st(db_, "SELECT last_sequence FROM devices WHERE device_key = ?1", &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "devices");
    st.bind(1, device_key.data(), device_key.size());
    rc = st.step();
    if (rc == SQLITE_DONE) return ReplayCheck::New;
    if (rc != SQLITE_ROW) return sqlite_status(rc, db_, "devices");
    return static_cast<uint64_t>(st.int64(0)) < sequence ? ReplayCheck::New : ReplayCheck::SequenceNotIncreasing;
  }

  Result<std::vector<bool>> known_events(const std::vector<Bytes>& ids) override {
    std::lock_guard lock(mu_);
    int rc = SQLITE_OK;
    Statement st(db_, "SELECT 1 FROM events WHERE event_id = ?1", &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "events");
    std::vector<bool> out;
    out.reserve(ids.size());
    for (const Bytes& id : ids) {
      st.bind(1, id.data(), id.size());
      rc = st.step();
      st.reset();
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite_status(rc, db_, "events");
      out.push_back(rc == SQLITE_ROW);
    }
    return out;
  }

  Result<bool> consent_granted(const Bytes& slot, uint8_t purpose) override {
    std::lock_guard lock(mu_);
    int rc = SQLITE_OK;
    Statement st(db_, "SELECT granted FROM consent_state WHERE slot = ?1 AND purpose = ?2", &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "consent");
    st.bind(1, slot.data(), slot.size()).bind(2, purpose);
    rc = st.step();
    if (rc == SQLITE_DONE) return false;
    if (rc != SQLITE_ROW) return sqlite_status(rc, db_, "consent");
    return st.int64(0) != 0;
  }

  Result<bool> tombstoned(const Key32& pseudonym) override {
    std::lock_guard lock(mu_);
    int rc = SQLITE_OK;
    if (tombstone_query_.get() == nullptr) {  // asked once per identifier: prepared once
      tombstone_query_ = Statement(db_, "SELECT 1 FROM tombstones WHERE pseudonym = ?1", &rc);
      if (rc != SQLITE_OK) return sqlite_status(rc, db_, "tombstones");
    }
    Statement& st = tombstone_query_;
    st.bind(1, pseudonym.data(), pseudonym.size());
    rc = st.step();
    st.reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite_status(rc, db_, "tombstones");
    return rc == SQLITE_ROW;
  }

  Status commit(const BatchWrite& w) override {
    std::lock_guard lock(mu_);
    if (int rc = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr); rc != SQLITE_OK) {
      return sqlite_status(rc, db_, "begin");
    }
    Status s = write(w);
    if (s.ok()) {
      if (int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr); rc != SQLITE_OK) {
        s = sqlite_status(rc, db_, "commit");
      }
    }
    if (!s.ok()) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return s;
    }
    if (!w.erase_pseudonyms.empty() || !w.erase_slots.empty()) {
      // secure_delete zeroed the freed pages; moving the WAL into the file and truncating it makes
      // sure no copy of erased rows stays behind in the log either.
      sqlite3_exec(db_, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
    }
    return s;
  }

  Result<int64_t> event_count() override {
    std::lock_guard lock(mu_);
    int rc = SQLITE_OK;
    Statement st(db_, "SELECT count(*) FROM events", &rc);
    if (rc != SQLITE_OK || st.step() != SQLITE_ROW) return sqlite_status(rc, db_, "events");
    return st.int64(0);
  }

 private:
  Status write(const BatchWrite& w) {
    int rc = SQLITE_OK;
    auto done = [&](Statement& st, const char* what) {
      rc = st.step();
      st.reset();
      return rc == SQLITE_DONE ? Status::Ok() : sqlite_status(rc, db_, what);
    };
    Statement device(db_, "INSERT INTO devices VALUES(?1, ?2) ON CONFLICT(device_key) DO UPDATE SET last_sequence = ?2",
                     &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "devices");
    device.bind(1, w.device_key.data(), w.device_key.size()).bind(2, static_cast<int64_t>(w.sequence));
    if (Status s = done(device, "devices"); !s.ok()) return s;
    Statement batch(db_, "INSERT INTO batches VALUES(?1, ?2, ?3, ?4, ?5)", &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "batches");
    batch.bind(1, w.batch_id.data(), w.batch_id.size())
        .bind(2, w.device_key.data(), w.device_key.size())
        .bind(3, static_cast<int64_t>(w.sequence))
        .bind(4, w.received_ms)
        .bind(5, w.receipt.data(), w.receipt.size());
    if (Status s = done(batch, "batches"); !s.ok()) return s;
    Statement ev(db_, "INSERT INTO events VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                 &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "events");
    Statement ids(db_, "INSERT OR IGNORE INTO event_identifiers VALUES(?1, ?2, ?3, ?4)", &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "identifiers");
    for (const StoredEvent& e : w.events) {
      ev.bind(1, e.event_id.data(), e.event_id.size())
          .bind(2, w.device_key.data(), w.device_key.size())
          .bind(3, w.batch_id.data(), w.batch_id.size())
          .bind(4, e.type)
          .bind(5, e.channel)
          .bind(6, e.purpose)
          .bind(7, e.name)
          .bind(8, e.occurred_ms)
          .bind(9, e.corrected_ms)
          .bind(10, e.slot.data(), e.slot.size());
      if (e.revenue_minor) {
        ev.bind(11, *e.revenue_minor).bind(12, e.currency);
      }
      ev.bind(13, e.campaign_source).bind(14, e.campaign_medium).bind(15, e.campaign_name);
      if (Status s = done(ev, "events"); !s.ok()) return s;
      for (const StoredIdentifier& id : e.identifiers) {
        ids.bind(1, e.event_id.data(), e.event_id.size())
            .bind(2, id.kind)
            .bind(3, id.pseudonym.data(), id.pseudonym.size())
            .bind(4, id.linking ? 1 : 0);
        if (Status s = done(ids, "identifiers"); !s.ok()) return s;
      }
    }
    Statement consent(db_,
                      "INSERT INTO consent_state VALUES(?1, ?2, ?3, ?4) ON CONFLICT(slot, purpose) DO UPDATE SET "
                      "granted = ?3, ledger_seq = ?4 WHERE ledger_seq < ?4",
                      &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "consent");
    for (const ConsentUpdate& c : w.consent) {
      consent.bind(1, c.slot.data(), c.slot.size())
          .bind(2, c.purpose)
          .bind(3, c.granted ? 1 : 0)
          .bind(4, static_cast<int64_t>(c.ledger_seq));
      if (Status s = done(consent, "consent"); !s.ok()) return s;
    }
    return erase(w);
  }

  Status erase(const BatchWrite& w) {
    if (w.erase_pseudonyms.empty() && w.erase_slots.empty()) return Status::Ok();
    int rc = SQLITE_OK;
    std::vector<Bytes> doomed;
    auto collect = [&](const char* sql, const uint8_t* key, size_t len) -> Status {
      Statement st(db_, sql, &rc);
      if (rc != SQLITE_OK) return sqlite_status(rc, db_, "erase");
      st.bind(1, key, len);
      while ((rc = st.step()) == SQLITE_ROW) doomed.emplace_back(st.blob(0).begin(), st.blob(0).end());
      return rc == SQLITE_DONE ? Status::Ok() : sqlite_status(rc, db_, "erase");
    };
    for (const Key32& p : w.erase_pseudonyms) {
      if (Status s = collect("SELECT event_id FROM event_identifiers WHERE pseudonym = ?1", p.data(), p.size());
          !s.ok()) {
        return s;
      }
    }
    for (const Bytes& slot : w.erase_slots) {
      if (Status s = collect("SELECT event_id FROM events WHERE slot = ?1", slot.data(), slot.size()); !s.ok())
        return s;
    }
    Statement del_ev(db_, "DELETE FROM events WHERE event_id = ?1", &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "erase");
    Statement del_ids(db_, "DELETE FROM event_identifiers WHERE event_id = ?1", &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "erase");
    for (const Bytes& id : doomed) {
      for (Statement* st : {&del_ev, &del_ids}) {
        st->bind(1, id.data(), id.size());
        rc = st->step();
        st->reset();
        if (rc != SQLITE_DONE) return sqlite_status(rc, db_, "erase");
      }
    }
    Statement del_consent(db_, "DELETE FROM consent_state WHERE slot = ?1", &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "erase");
    for (const Bytes& slot : w.erase_slots) {
      del_consent.bind(1, slot.data(), slot.size());
      rc = del_consent.step();
      del_consent.reset();
      if (rc != SQLITE_DONE) return sqlite_status(rc, db_, "erase");
    }
    Statement tomb(db_, "INSERT OR IGNORE INTO tombstones VALUES(?1, ?2)", &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "erase");
    for (const Key32& p : w.erase_pseudonyms) {
      tomb.bind(1, p.data(), p.size()).bind(2, w.received_ms);
      rc = tomb.step();
      tomb.reset();
      if (rc != SQLITE_DONE) return sqlite_status(rc, db_, "erase");
    }
    return Status::Ok();
  }

  std::mutex mu_;  // one writer connection; SQLite serialises writers anyway
  sqlite3* db_;
  Statement tombstone_query_;
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, int busy_timeout_ms) {
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  auto store = std::make_unique<SqliteStore>(db);
  if (rc != SQLITE_OK) return sqlite_status(rc, db, "cannot open the collector store");
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  if (Status s = store->init(); !s.ok()) return s;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace waymark::collector
