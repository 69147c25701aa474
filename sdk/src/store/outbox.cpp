#include "store/outbox.hpp"

#include <cerrno>
#include <cstdio>

#include <cstring>
#include <filesystem>
#include <system_error>

#include <sodium.h>

namespace waymark::detail {

namespace fs = std::filesystem;

namespace {

// Schema migrations: index i upgrades user_version i to i + 1. Only ever append.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE outbox(
  id INTEGER PRIMARY KEY,        -- per-device sequence, increasing: rows append to the b-tree
  event_id BLOB NOT NULL,        -- UUIDv7, bound into the AEAD associated data
  slot BLOB NOT NULL,            -- random customer-slot id (not an identifier)
  purpose INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  sealed BLOB NOT NULL);         -- nonce(24) || XChaCha20-Poly1305(event)
CREATE TABLE consent_ledger(
  slot BLOB NOT NULL, seq INTEGER NOT NULL, purpose INTEGER NOT NULL, granted INTEGER NOT NULL,
  time_ms INTEGER NOT NULL, policy TEXT NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL,
  signature BLOB NOT NULL, PRIMARY KEY(slot, seq)) WITHOUT ROWID;
CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE meta(name TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;
)sql",
    // v2: upload leases. A row belongs to at most one open batch; a batch is rebuilt from the
    // same rows with the same id after a crash, so the collector can deduplicate it.
    R"sql(
ALTER TABLE outbox ADD COLUMN batch_seq INTEGER;
CREATE TABLE batches(
  seq INTEGER PRIMARY KEY, batch_id BLOB NOT NULL, sent_at_ms INTEGER NOT NULL,
  sent_monotonic_ms INTEGER NOT NULL, dropped INTEGER NOT NULL, refused INTEGER NOT NULL,
  evicted INTEGER NOT NULL,
  first_id INTEGER NOT NULL, last_id INTEGER NOT NULL);  -- row id range: no index on batch_seq needed
CREATE TABLE dead_letter(
  id INTEGER PRIMARY KEY, batch_seq INTEGER NOT NULL, http_status INTEGER NOT NULL,
  event_id BLOB NOT NULL, key_id INTEGER NOT NULL, sealed BLOB NOT NULL, moved_ms INTEGER NOT NULL);
)sql",
    // v3: a row may hold several events of one call (OutboxRow, pack_rows); caps, stats, leases and
    // counters count events.
    R"sql(
ALTER TABLE outbox ADD COLUMN events INTEGER NOT NULL DEFAULT 1;
ALTER TABLE dead_letter ADD COLUMN events INTEGER NOT NULL DEFAULT 1;
)sql"};

// Internal status marking a store that SQLite reports as corrupt or not a database.
constexpr waymark_status_t kCorrupt = -1000;

constexpr size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(Outbox::kSealOverhead == kNonce + kTag);

// The low `n` bytes of `v` at `out`, little-endian; and back.
void put_le(uint8_t* out, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint64_t get_le(const uint8_t* in, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(in[i]) << (8 * i);
  return v;
}

// Associated data: binds a sealed row to its row id, event id and key id, so rows cannot be
// swapped, replayed under another id or opened under another key version. A row of several events
// also binds their number, so the row cannot be read as a different number of events.
struct RowAd {
  std::array<uint8_t, 36> bytes{};
  size_t size = 32;
};
RowAd row_ad(int64_t id, const uint8_t* event_id, uint32_t key_id, int64_t events) {
  RowAd ad;
  std::memcpy(ad.bytes.data(), events == 1 ? "WMRW" : "WMRP", 4);
  put_le(ad.bytes.data() + 4, static_cast<uint64_t>(id), 8);
  std::memcpy(ad.bytes.data() + 12, event_id, 16);
  put_le(ad.bytes.data() + 28, key_id, 4);
  if (events != 1) {
    put_le(ad.bytes.data() + 32, static_cast<uint64_t>(events), 4);
    ad.size = 36;
  }
  return ad;
}

constexpr uint8_t kKeyCheckEventId[16] = {'k', 'e', 'y', '-', 'c', 'h', 'e', 'c', 'k'};

// In a row of several events, each event follows its length (4 bytes, little-endian).
constexpr size_t kFrame = 4;

// Splits an opened row into its events (sequence numbers id, id + 1, …); false, and nothing added,
// when the plaintext does not hold exactly `events` framed events.
bool unpack_events(int64_t id, int64_t events, std::vector<uint8_t>& plain, std::vector<StoredEvent>& out) {
  if (events == 1) {
    out.push_back({id, std::move(plain)});
    plain = {};
    return true;
  }
  if (events < 1 || static_cast<uint64_t>(events) > plain.size() / kFrame) return false;
  std::vector<std::pair<size_t, size_t>> spans;  // offset, length
  size_t at = 0;
  for (int64_t i = 0; i < events; ++i) {
    if (plain.size() - at < kFrame) return false;
    const auto len = static_cast<size_t>(get_le(plain.data() + at, kFrame));
    at += kFrame;
    if (len == 0 || plain.size() - at < len) return false;
    spans.emplace_back(at, len);
    at += len;
  }
  if (at != plain.size()) return false;
  for (size_t i = 0; i < spans.size(); ++i) {
    const uint8_t* p = plain.data() + spans[i].first;
    out.push_back({id + static_cast<int64_t>(i), std::vector<uint8_t>(p, p + spans[i].second)});
  }
  return true;
}

}  // namespace

std::vector<OutboxRow> pack_rows(std::vector<OutboxRow>&& rows, size_t max_events, size_t max_bytes) {
  std::vector<OutboxRow> out;
  for (size_t first = 0; first < rows.size();) {
    const OutboxRow& head = rows[first];
    size_t end = first + 1, bytes = kFrame + head.plaintext.size();
    while (end < rows.size() && end - first < max_events) {
      const OutboxRow& next = rows[end];
      if (next.slot != head.slot || next.purpose != head.purpose || next.priority != head.priority ||
          next.id != head.id + static_cast<int64_t>(end - first) ||
          bytes + kFrame + next.plaintext.size() > max_bytes) {
        break;
      }
      bytes += kFrame + next.plaintext.size();
      ++end;
    }
    if (end - first == 1) {
      out.push_back(std::move(rows[first]));
      first = end;
      continue;
    }
    OutboxRow packed = std::move(rows[first]);
    std::vector<uint8_t> plain;
    plain.reserve(bytes);
    for (size_t i = first; i < end; ++i) {
      std::vector<uint8_t>& event = i == first ? packed.plaintext : rows[i].plaintext;
      uint8_t frame[kFrame];
      put_le(frame, event.size(), kFrame);
      plain.insert(plain.end(), frame, frame + kFrame);
      plain.insert(plain.end(), event.begin(), event.end());
      sodium_memzero(event.data(), event.size());
    }
    packed.plaintext = std::move(plain);
    packed.events = static_cast<int64_t>(end - first);
    out.push_back(std::move(packed));
    first = end;
  }
  return out;
}

Status Outbox::create_directory(const std::string& dir) {
  std::error_code ec;
  if (fs::create_directory(dir, ec)) {
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  if (ec || !fs::is_directory(dir, ec)) {
    return Error(WAYMARK_ERR_STORE_IO, "store directory cannot be created or is not a directory");
  }
  // Refused up front with the OS's reason (a read-only file system, permissions), which SQLite's
  // "unable to open database file" does not give.
  const std::string probe = dir + "/.write-probe";
  std::FILE* f = std::fopen(probe.c_str(), "wb");
  if (f == nullptr) {
    return Error(WAYMARK_ERR_STORE_IO, std::string("store directory is not writable: ") + std::strerror(errno));
  }
  std::fclose(f);
  std::remove(probe.c_str());
  return Status::Ok();
}

namespace {

void quarantine(const std::string& path, int64_t stamp) {
  std::error_code ec;
  const std::string target = path + ".corrupt-" + std::to_string(stamp);
  fs::rename(path, target, ec);
  for (const char* suffix : {"-wal", "-shm"}) {
    if (fs::exists(path + suffix, ec)) fs::rename(path + suffix, target + suffix, ec);
  }
}

sqlite3* open_db(const std::string& path, int* rc) {
  sqlite3* db = nullptr;
  *rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (*rc != SQLITE_OK) {
    sqlite3_close(db);
    return nullptr;
  }
  std::error_code ec;
  // Before anything is written: only this user may read the store.
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace, ec);
  sqlite3_extended_result_codes(db, 1);
  return db;
}

}  // namespace

Outbox::Outbox(sqlite3* db, const OutboxConfig& config, const uint8_t* data_key, RandomPool& random)
    : db_(db), config_(config), random_(random) {
  if (key_.valid()) std::memcpy(key_.data(), data_key, 32);
}

Outbox::~Outbox() {
  insert_ = {};
  delete_id_ = {};
  save_counter_ = {};
  save_meta_ = {};
  append_consent_ = {};
  sqlite3_close(db_);
}

Result<Outbox::Opened> Outbox::open(const OutboxConfig& config, const uint8_t* data_key, RandomPool& random) {
  if (Status s = create_directory(config.dir); !s.ok()) return s;
  const std::string path = config.dir + "/" + kFileName;
  Opened opened;
  for (int attempt = 0; attempt < 2; ++attempt) {
    int rc = SQLITE_OK;
    sqlite3* db = open_db(path, &rc);
    if (db == nullptr) return sqlite_status(rc, nullptr, "cannot open the outbox");
    std::unique_ptr<Outbox> outbox(new Outbox(db, config, data_key, random));
    if (!outbox->key_.valid()) return Error(WAYMARK_ERR_NO_MEMORY, "cannot allocate protected memory");
    int64_t unreadable = 0;
    Status s = outbox->setup(&unreadable);
    if (s.ok()) {
      opened.outbox = std::move(outbox);
      opened.unreadable = unreadable;
      return opened;
    }
    if (s.code != kCorrupt) return s;
    outbox.reset();
    timespec ts{};
    timespec_get(&ts, TIME_UTC);
    quarantine(path, static_cast<int64_t>(ts.tv_sec));
    opened.recovered = true;
  }
  return Error(WAYMARK_ERR_STORE_IO, "outbox could not be recovered");
}

Status Outbox::exec(const char* sql, bool detect_corrupt) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (detect_corrupt && sqlite_is_corrupt(rc)) return Error(kCorrupt, "outbox is corrupt");
  return sqlite_status(rc, db_, "outbox");
}

Result<Statement*> Outbox::prepare(Statement& slot, const char* sql) {
  if (slot.get() == nullptr) {
    int rc = SQLITE_OK;
    slot = Statement(db_, sql, &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "prepare");
  }
  return &slot;
}

Status Outbox::setup(int64_t* unreadable) {
  // A file that is not a database fails here with SQLITE_NOTADB (kCorrupt).
  if (Status s = exec("PRAGMA journal_mode=WAL", true); !s.ok()) return s;
  const std::string pragmas = std::string("PRAGMA secure_delete=ON; PRAGMA temp_store=MEMORY; PRAGMA synchronous=") +
                              (config_.durable ? "FULL" : "NORMAL");
  if (Status s = exec(pragmas.c_str(), true); !s.ok()) return s;

  int rc = SQLITE_OK;
  if (Status s = migrate(db_, kMigrations, "outbox", &rc); !s.ok()) {
    return sqlite_is_corrupt(rc) ? Error(kCorrupt, "outbox is corrupt") : s;
  }
  // Reading every row's length also walks the whole table: corruption shows up here.
  {
    Statement totals(
        db_,
        "SELECT coalesce(sum(events), 0), coalesce(sum(length(sealed)), 0), coalesce(max(id + events - 1), 0) "
        "FROM outbox",
        &rc);
    rc = rc == SQLITE_OK ? totals.step() : rc;
    if (sqlite_is_corrupt(rc)) return Error(kCorrupt, "outbox is corrupt");
    if (rc != SQLITE_ROW) return sqlite_status(rc, db_, "outbox totals");
    events_ = totals.int64(0);
    bytes_ = totals.int64(1);
    next_id_ = totals.int64(2) + 1;
  }
  {
    Statement counters(db_, "SELECT name, value FROM counters", &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "counters");
    while ((rc = counters.step()) == SQLITE_ROW) {
      const std::string_view name = counters.blob(0);
      const int64_t v = counters.int64(1);
      if (name == "dropped") loaded_counters_.dropped = v;
      if (name == "refused") loaded_counters_.refused = v;
      if (name == "evicted") loaded_counters_.evicted = v;
      if (name == "unreadable") loaded_counters_.unreadable = v;
      if (name == "purged") loaded_counters_.purged = v;
      if (name == "uploaded") loaded_counters_.uploaded = v;
      if (name == "dead_lettered") loaded_counters_.dead_lettered = v;
      if (name == "rejected") loaded_counters_.rejected = v;
    }
    if (sqlite_is_corrupt(rc)) return Error(kCorrupt, "outbox is corrupt");
    committed_counters_ = loaded_counters_;
  }
  std::vector<uint8_t> key_check;
  {
    Statement meta(db_, "SELECT name, value FROM meta", &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "meta");
    while ((rc = meta.step()) == SQLITE_ROW) {
      const std::string_view name = meta.blob(0);
      if (name == "next_id") next_id_ = std::max(next_id_, meta.int64(1));
      if (name == "key_check") key_check.assign(meta.blob(1).begin(), meta.blob(1).end());
    }
    if (sqlite_is_corrupt(rc)) return Error(kCorrupt, "outbox is corrupt");
  }
  // The data key lives in the keystore; if it no longer opens the store (key lost or
  // replaced), the rows are unreadable: count and drop them rather than fail forever.
  std::vector<uint8_t> plain;
  const bool key_ok =
      !key_check.empty() &&
      open_sealed(0, kKeyCheckEventId, 1, {reinterpret_cast<const char*>(key_check.data()), key_check.size()}, plain);
  if (!key_ok) {
    if (!key_check.empty() && events_ > 0) {
      *unreadable = events_;
      loaded_counters_.unreadable += events_;
      if (Status s = exec("DELETE FROM outbox"); !s.ok()) return s;
      if (Status s = save_next_id(next_id_); !s.ok()) return s;
      events_ = bytes_ = 0;
    }
    std::array<uint8_t, 16> zero{};
    std::array<uint8_t, kNonce + sizeof zero + kTag> sealed{};
    if (Status s = random_.fill(sealed.data(), kNonce); !s.ok()) return s;
    const auto ad = row_ad(0, kKeyCheckEventId, kKeyId, 1);
    crypto_aead_xchacha20poly1305_ietf_encrypt(sealed.data() + kNonce, nullptr, zero.data(), zero.size(),
                                               ad.bytes.data(), ad.size, nullptr, sealed.data(), key_.data());
    Statement put(db_, "INSERT OR REPLACE INTO meta(name, value) VALUES('key_check', ?1)", &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "key check");
    put.bind(1, sealed.data(), sealed.size());
    if (Status s = sqlite_status(put.step(), db_, "key check"); !s.ok()) return s;
  }
  return Status::Ok();
}

Status Outbox::begin() {
  pending_counters_ = committed_counters_;
  deleted_in_txn_ = false;
  events_at_begin_ = events_;
  bytes_at_begin_ = bytes_;
  return exec("BEGIN IMMEDIATE");
}

Status Outbox::commit() {
  // While rows exist, max(id) + 1 is the next id; the high-water mark is written only when a
  // deletion could take the maximum away (one page less per commit on the hot path).
  if (deleted_in_txn_) {
    if (Status s = save_next_id(next_id_); !s.ok()) return s;
  }
  Status s = exec("COMMIT");
  if (s.ok()) committed_counters_ = pending_counters_;
  return s;
}
// The event and byte totals go back with the rows: a commit that failed on a full disk must not
// leave QUEUED counting events that never were (nor caps evicting for them).
void Outbox::rollback() {
  if (sqlite3_get_autocommit(db_) == 0) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  events_ = events_at_begin_;
  bytes_ = bytes_at_begin_;
}

bool Outbox::open_sealed(int64_t id, const uint8_t* event_id, int64_t events, std::string_view sealed,
                         std::vector<uint8_t>& out) const {
  if (sealed.size() < kNonce + kTag) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(sealed.data());
  const auto ad = row_ad(id, event_id, kKeyId, events);
  out.resize(sealed.size() - kNonce - kTag);
  unsigned long long len = 0;
  return crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &len, nullptr, p + kNonce, sealed.size() - kNonce,
                                                    ad.bytes.data(), ad.size, p, key_.data()) == 0;
}

Status Outbox::seal_to(const OutboxRow& row, std::vector<uint8_t>& out) const {
  out.resize(kNonce + row.plaintext.size() + kTag);
  if (Status s = random_.fill(out.data(), kNonce); !s.ok()) return s;
  const auto ad = row_ad(row.id, row.event_id.data(), kKeyId, row.events);
  if (crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + kNonce, nullptr, row.plaintext.data(),
                                                 row.plaintext.size(), ad.bytes.data(), ad.size, nullptr, out.data(),
                                                 key_.data()) != 0) {
    return Error(WAYMARK_ERR_CRYPTO, "sealing a row failed");
  }
  return Status::Ok();
}

Status Outbox::seal(OutboxRow& row) const {
  if (Status s = seal_to(row, row.sealed); !s.ok()) return s;
  sodium_memzero(row.plaintext.data(), row.plaintext.size());
  row.plaintext.clear();
  return Status::Ok();
}

Status Outbox::insert(const OutboxRow& row) {
  auto stmt = prepare(insert_,
                      "INSERT INTO outbox(id, event_id, slot, purpose, priority, created_ms, key_id, sealed, events) "
                      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!stmt.ok()) return stmt.status();
  if (row.sealed.empty()) {
    if (Status s = seal_to(row, sealed_); !s.ok()) return s;
  }
  const std::vector<uint8_t>& sealed = row.sealed.empty() ? sealed_ : row.sealed;
  Statement& st = *stmt.value();
  st.bind(1, row.id)
      .bind(2, row.event_id.data(), row.event_id.size())
      .bind(3, row.slot.data(), row.slot.size())
      .bind(4, row.purpose)
      .bind(5, row.priority)
      .bind(6, row.created_ms)
      .bind(7, kKeyId)
      .bind(8, sealed.data(), sealed.size())
      .bind(9, row.events);
  const int rc = st.step();
  st.reset();
  if (rc != SQLITE_DONE) return sqlite_status(rc, db_, "insert");
  events_ += row.events;
  bytes_ += static_cast<int64_t>(sealed.size());
  next_id_ = std::max(next_id_, row.id + row.events);
  return Status::Ok();
}

Status Outbox::purge(const SlotId& slot, std::optional<uint8_t> purpose, int64_t* deleted) {
  int rc = SQLITE_OK;
  Statement st(db_,
               purpose ? "DELETE FROM outbox WHERE slot = ?1 AND purpose = ?2 RETURNING length(sealed), events"
                       : "DELETE FROM outbox WHERE slot = ?1 RETURNING length(sealed), events",
               &rc);
  if (rc != SQLITE_OK) return sqlite_status(rc, db_, "purge");
  st.bind(1, slot.data(), slot.size());
  if (purpose) st.bind(2, *purpose);
  return drain_deleted(st, deleted, "purge");
}

Status Outbox::drain_deleted(Statement& st, int64_t* count, std::string_view what) {
  int rc = SQLITE_OK;
  while ((rc = st.step()) == SQLITE_ROW) {
    events_ -= st.int64(1);
    bytes_ -= st.int64(0);
    *count += st.int64(1);
    deleted_in_txn_ = true;
  }
  st.reset();
  return rc == SQLITE_DONE ? Status::Ok() : sqlite_status(rc, db_, what);
}

Status Outbox::read_sealed(Statement& st, std::vector<StoredEvent>& out, int64_t* unreadable, std::string_view what) {
  int rc = SQLITE_OK;
  std::vector<int64_t> bad;
  std::vector<uint8_t> plain;
  while ((rc = st.step()) == SQLITE_ROW) {
    const int64_t id = st.int64(0), events = st.int64(3);
    const std::string_view event_id = st.blob(1);
    if (event_id.size() != 16 ||
        !open_sealed(id, reinterpret_cast<const uint8_t*>(event_id.data()), events, st.blob(2), plain) ||
        !unpack_events(id, events, plain, out)) {
      bad.push_back(id);
      *unreadable += events;
    }
    sodium_memzero(plain.data(), plain.size());  // a packed row's plaintext, copied out event by event
  }
  st.reset();
  if (rc != SQLITE_DONE) return sqlite_status(rc, db_, what);
  return remove(bad);
}

Status Outbox::evict(int64_t now_ms, bool by_age, int64_t* evicted) {
  int rc = SQLITE_OK;
  if (by_age && config_.max_age_ms > 0) {
    Statement st(db_, "DELETE FROM outbox WHERE created_ms < ?1 RETURNING length(sealed), events", &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "evict");
    st.bind(1, now_ms - config_.max_age_ms);
    if (Status s = drain_deleted(st, evicted, "evict"); !s.ok()) return s;
  }
  const int64_t over_events = config_.max_events > 0 ? events_ - config_.max_events : 0;
  const int64_t over_bytes = config_.max_bytes > 0 ? bytes_ - config_.max_bytes : 0;
  if (over_events <= 0 && over_bytes <= 0) return Status::Ok();
  // Evict 1% beyond the cap so a full outbox does not sort the table on every commit.
  return evict_ordered(over_events > 0 ? over_events + config_.max_events / 100 : 0,
                       over_bytes > 0 ? over_bytes + config_.max_bytes / 100 : 0, evicted);
}

Status Outbox::evict_ordered(int64_t need_events, int64_t need_bytes, int64_t* evicted) {
  int rc = SQLITE_OK;
  std::vector<int64_t> victims;
  {
    Statement scan(db_, "SELECT id, length(sealed), events FROM outbox ORDER BY priority ASC, id ASC", &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "evict");
    int64_t freed_events = 0, freed_bytes = 0;
    while ((freed_events < need_events || freed_bytes < need_bytes) && (rc = scan.step()) == SQLITE_ROW) {
      victims.push_back(scan.int64(0));
      freed_bytes += scan.int64(1);
      freed_events += scan.int64(2);
    }
  }
  const int64_t before = events_;
  Status s = remove(victims);
  *evicted += before - events_;
  return s;
}

Status Outbox::remove(const std::vector<int64_t>& ids) {
  auto stmt = prepare(delete_id_, "DELETE FROM outbox WHERE id = ?1 RETURNING length(sealed), events");
  if (!stmt.ok()) return stmt.status();
  Statement& st = *stmt.value();
  int64_t deleted = 0;
  for (int64_t id : ids) {
    st.bind(1, id);
    if (Status s = drain_deleted(st, &deleted, "delete"); !s.ok()) return s;
  }
  return Status::Ok();
}

Result<std::vector<StoredEvent>> Outbox::read_oldest(size_t limit, int64_t* unreadable) {
  int rc = SQLITE_OK;
  Statement st(db_, "SELECT id, event_id, sealed, events FROM outbox ORDER BY id LIMIT ?1", &rc);
  if (rc != SQLITE_OK) return sqlite_status(rc, db_, "read");
  st.bind(1, static_cast<int64_t>(limit));
  std::vector<StoredEvent> out;
  if (Status s = read_sealed(st, out, unreadable, "read"); !s.ok()) return s;
  return out;
}

Status Outbox::append_consent(const ConsentRecord& r) {
  auto stmt = prepare(append_consent_,
                      "INSERT INTO consent_ledger(slot, seq, purpose, granted, time_ms, policy, prev_hash, hash, "
                      "signature) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!stmt.ok()) return stmt.status();
  Statement& st = *stmt.value();
  st.bind(1, r.slot.data(), r.slot.size())
      .bind(2, static_cast<int64_t>(r.seq))
      .bind(3, r.purpose)
      .bind(4, r.granted ? 1 : 0)
      .bind(5, r.time_ms)
      .bind(6, r.policy_version)
      .bind(7, r.prev_hash.data(), r.prev_hash.size())
      .bind(8, r.hash.data(), r.hash.size())
      .bind(9, r.signature.data(), r.signature.size());
  const int rc = st.step();
  st.reset();
  return sqlite_status(rc, db_, "consent ledger");
}

Status Outbox::delete_consent(const SlotId& slot) {
  int rc = SQLITE_OK;
  Statement st(db_, "DELETE FROM consent_ledger WHERE slot = ?1", &rc);
  if (rc != SQLITE_OK) return sqlite_status(rc, db_, "consent ledger");
  st.bind(1, slot.data(), slot.size());
  return sqlite_status(st.step(), db_, "consent ledger");
}

Result<std::vector<ConsentRecord>> Outbox::load_consent(const SlotId& slot) {
  int rc = SQLITE_OK;
  Statement st(db_,
               "SELECT seq, purpose, granted, time_ms, policy, prev_hash, hash, signature FROM consent_ledger "
               "WHERE slot = ?1 ORDER BY seq",
               &rc);
  if (rc != SQLITE_OK) return sqlite_status(rc, db_, "consent ledger");
  st.bind(1, slot.data(), slot.size());
  std::vector<ConsentRecord> out;
  while ((rc = st.step()) == SQLITE_ROW) {
    ConsentRecord r;
    r.slot = slot;
    r.seq = static_cast<uint64_t>(st.int64(0));
    r.purpose = static_cast<uint8_t>(st.int64(1));
    r.granted = st.int64(2) != 0;
    r.time_ms = st.int64(3);
    r.policy_version = std::string(st.blob(4));
    const auto copy = [](std::string_view src, auto& dst) {
      if (src.size() == dst.size()) std::memcpy(dst.data(), src.data(), dst.size());
    };
    copy(st.blob(5), r.prev_hash);
    copy(st.blob(6), r.hash);
    copy(st.blob(7), r.signature);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return sqlite_status(rc, db_, "consent ledger");
  return out;
}

Status Outbox::save_counters(const Counters& c) {
  if (c == committed_counters_) return Status::Ok();
  pending_counters_ = c;
  auto stmt = prepare(save_counter_, "INSERT OR REPLACE INTO counters(name, value) VALUES(?1, ?2)");
  if (!stmt.ok()) return stmt.status();
  Statement& st = *stmt.value();
  const std::pair<const char*, int64_t> values[] = {{"dropped", c.dropped},
                                                    {"refused", c.refused},
                                                    {"evicted", c.evicted},
                                                    {"unreadable", c.unreadable},
                                                    {"purged", c.purged},
                                                    {"uploaded", c.uploaded},
                                                    {"dead_lettered", c.dead_lettered},
                                                    {"rejected", c.rejected}};
  for (const auto& [name, value] : values) {
    st.bind(1, std::string_view(name)).bind(2, value);
    const int rc = st.step();
    st.reset();
    if (rc != SQLITE_DONE) return sqlite_status(rc, db_, "counters");
  }
  return Status::Ok();
}

Status Outbox::save_next_id(int64_t next_id) {
  auto stmt = prepare(save_meta_, "INSERT OR REPLACE INTO meta(name, value) VALUES('next_id', ?1)");
  if (!stmt.ok()) return stmt.status();
  Statement& st = *stmt.value();
  st.bind(1, next_id);
  const int rc = st.step();
  st.reset();
  return sqlite_status(rc, db_, "meta");
}

Result<std::optional<LeasedBatch>> Outbox::lease_batch(const BatchLease& fresh, Counters& delta) {
  int rc = SQLITE_OK;
  LeasedBatch batch;
  bool found = false;
  {
    Statement open(db_,
                   "SELECT seq, batch_id, sent_at_ms, sent_monotonic_ms, dropped, refused, evicted, first_id, "
                   "last_id FROM batches ORDER BY seq LIMIT 1",
                   &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "lease");
    if ((rc = open.step()) == SQLITE_ROW) {
      found = true;
      batch.seq = open.int64(0);
      const std::string_view id = open.blob(1);
      if (id.size() == batch.batch_id.size()) std::memcpy(batch.batch_id.data(), id.data(), id.size());
      batch.sent_at_ms = open.int64(2);
      batch.sent_monotonic_ms = open.int64(3);
      batch.dropped = open.int64(4);
      batch.refused = open.int64(5);
      batch.evicted = open.int64(6);
      batch.first_id = open.int64(7);
      batch.last_id = open.int64(8);
    } else if (rc != SQLITE_DONE) {
      return sqlite_status(rc, db_, "lease");
    }
  }
  if (!found) {
    std::vector<int64_t> ids;
    {
      Statement pick(db_, "SELECT id, length(sealed), events FROM outbox WHERE batch_seq IS NULL ORDER BY id LIMIT ?1",
                     &rc);
      if (rc != SQLITE_OK) return sqlite_status(rc, db_, "lease");
      pick.bind(1, static_cast<int64_t>(fresh.max_events));
      int64_t bytes = 0, events = 0;
      while ((rc = pick.step()) == SQLITE_ROW) {
        bytes += pick.int64(1);
        events += pick.int64(2);
        if (!ids.empty() && (bytes > fresh.max_bytes || events > static_cast<int64_t>(fresh.max_events))) break;
        ids.push_back(pick.int64(0));
      }
    }
    if (ids.empty()) return std::optional<LeasedBatch>{};
    int64_t last_seq = 0;
    {
      Statement seq(db_,
                    "SELECT max(coalesce((SELECT value FROM meta WHERE name = 'batch_seq'), 0), "
                    "coalesce((SELECT max(seq) FROM batches), 0))",
                    &rc);
      if (rc != SQLITE_OK || seq.step() != SQLITE_ROW) return sqlite_status(rc, db_, "lease");
      last_seq = seq.int64(0);
    }
    batch.seq = last_seq + 1;
    batch.batch_id = fresh.batch_id;
    batch.sent_at_ms = fresh.sent_at_ms;
    batch.sent_monotonic_ms = fresh.sent_monotonic_ms;
    batch.dropped = fresh.counters.dropped;
    batch.refused = fresh.counters.refused;
    batch.evicted = fresh.counters.evicted;
    batch.first_id = ids.front();
    batch.last_id = ids.back();
    Statement add(db_, "INSERT INTO batches VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "lease");
    add.bind(1, batch.seq)
        .bind(2, batch.batch_id.data(), batch.batch_id.size())
        .bind(3, batch.sent_at_ms)
        .bind(4, batch.sent_monotonic_ms)
        .bind(5, batch.dropped)
        .bind(6, batch.refused)
        .bind(7, batch.evicted)
        .bind(8, batch.first_id)
        .bind(9, batch.last_id);
    if (Status s = sqlite_status(add.step(), db_, "lease"); !s.ok()) return s;
    Statement meta(db_, "INSERT OR REPLACE INTO meta(name, value) VALUES('batch_seq', ?1)", &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "lease");
    meta.bind(1, batch.seq);
    if (Status s = sqlite_status(meta.step(), db_, "lease"); !s.ok()) return s;
    // Rows that committed late with an id inside the range join this batch too: the batch is
    // defined by the marks, so a rebuild still reads exactly the same rows.
    Statement mark(db_, "UPDATE outbox SET batch_seq = ?1 WHERE id BETWEEN ?2 AND ?3 AND batch_seq IS NULL", &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "lease");
    mark.bind(1, batch.seq).bind(2, batch.first_id).bind(3, batch.last_id);
    if (Status s = sqlite_status(mark.step(), db_, "lease"); !s.ok()) return s;
  }
  {
    Statement rows(
        db_,
        "SELECT id, event_id, sealed, events FROM outbox WHERE id BETWEEN ?2 AND ?3 AND batch_seq = ?1 ORDER BY id",
        &rc);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "lease");
    rows.bind(1, batch.seq).bind(2, batch.first_id).bind(3, batch.last_id);
    if (Status s = read_sealed(rows, batch.events, &delta.unreadable, "lease"); !s.ok()) return s;
  }
  if (batch.events.empty()) {  // every row was purged, evicted or unreadable: drop the empty batch
    if (Status s = finish_batch(batch); !s.ok()) return s;
    return lease_batch(fresh, delta);
  }
  return std::optional<LeasedBatch>(std::move(batch));
}

Status Outbox::finish_batch(const LeasedBatch& batch) {
  int rc = SQLITE_OK;
  Statement rows(
      db_, "DELETE FROM outbox WHERE id BETWEEN ?2 AND ?3 AND batch_seq = ?1 RETURNING length(sealed), events", &rc);
  if (rc != SQLITE_OK) return sqlite_status(rc, db_, "complete");
  rows.bind(1, batch.seq).bind(2, batch.first_id).bind(3, batch.last_id);
  int64_t deleted = 0;
  if (Status s = drain_deleted(rows, &deleted, "complete"); !s.ok()) return s;
  Statement drop(db_, "DELETE FROM batches WHERE seq = ?1", &rc);
  if (rc != SQLITE_OK) return sqlite_status(rc, db_, "complete");
  drop.bind(1, batch.seq);
  return sqlite_status(drop.step(), db_, "complete");
}

Status Outbox::complete_batch(const LeasedBatch& batch, Counters& delta) {
  int rc = SQLITE_OK;
  Statement check(db_, "SELECT batch_id FROM batches WHERE seq = ?1", &rc);
  if (rc != SQLITE_OK) return sqlite_status(rc, db_, "complete");
  check.bind(1, batch.seq);
  if (check.step() != SQLITE_ROW ||
      check.blob(0) != std::string_view(reinterpret_cast<const char*>(batch.batch_id.data()), 16)) {
    return Status::Ok();  // already completed (e.g. a duplicate receipt): nothing to delete
  }
  const int64_t before = events_;
  if (Status s = finish_batch(batch); !s.ok()) return s;
  delta.uploaded += before - events_;
  return Status::Ok();
}

Status Outbox::dead_letter_batch(const LeasedBatch& batch, int32_t http_status, int64_t now_ms, Counters& delta) {
  int rc = SQLITE_OK;
  Statement move(db_,
                 "INSERT INTO dead_letter(id, batch_seq, http_status, event_id, key_id, sealed, moved_ms, events) "
                 "SELECT id, batch_seq, ?2, event_id, key_id, sealed, ?3, events FROM outbox "
                 "WHERE id BETWEEN ?4 AND ?5 AND batch_seq = ?1",
                 &rc);
  if (rc != SQLITE_OK) return sqlite_status(rc, db_, "dead letter");
  move.bind(1, batch.seq).bind(2, http_status).bind(3, now_ms).bind(4, batch.first_id).bind(5, batch.last_id);
  if (Status s = sqlite_status(move.step(), db_, "dead letter"); !s.ok()) return s;
  const int64_t before = events_;
  if (Status s = finish_batch(batch); !s.ok()) return s;
  delta.dead_lettered += before - events_;
  return Status::Ok();
}

Result<int64_t> Outbox::uploaded_through() {
  int rc = SQLITE_OK;
  Statement st(db_, "SELECT min(id) FROM outbox", &rc);
  if (rc != SQLITE_OK || st.step() != SQLITE_ROW) return sqlite_status(rc, db_, "watermark");
  if (sqlite3_column_type(st.get(), 0) == SQLITE_NULL) return next_id_ - 1;
  return st.int64(0) - 1;
}

}  // namespace waymark::detail
