#include "store/sql/sql_store.hpp"

#include <algorithm>
#include <map>

namespace waymark::collector {

void pack_identifiers(const std::vector<StoredIdentifier>& ids, Bytes& out) {
  out.clear();
  for (const StoredIdentifier& id : ids) {
    out.push_back(id.kind);
    out.push_back(static_cast<uint8_t>((id.linking ? 1 : 0) | static_cast<uint8_t>(id.proof) << 1));
    out.insert(out.end(), id.pseudonym.begin(), id.pseudonym.end());
  }
}

std::vector<StoredIdentifier> unpack_identifiers(std::string_view packed) {
  std::vector<StoredIdentifier> out;
  for (size_t at = 0; at + kPackedIdentifierBytes <= packed.size(); at += kPackedIdentifierBytes) {
    const auto flags = static_cast<uint8_t>(packed[at + 1]);
    StoredIdentifier id{static_cast<uint8_t>(packed[at]), {}, (flags & 1) != 0, static_cast<Proof>((flags >> 1) & 3)};
    std::copy_n(packed.data() + at + kPackedPseudonymAt, id.pseudonym.size(),
                reinterpret_cast<char*>(id.pseudonym.data()));
    out.push_back(id);
  }
  return out;
}

// event id (16) | slot length (1) | slot | time (8, little-endian) | identifiers length | identifiers.
// The identifiers' length takes 4 bytes (little-endian) in format 2; format 1 (before) took 2, which
// an event with 1,928 identifiers wrapped, and resolution then failed on that row forever.
namespace {
size_t resolve_input_bytes(size_t slot_len, size_t packed_identifiers_len) {
  return 16 + 1 + slot_len + 8 + 4 + packed_identifiers_len;
}
void put_le(Bytes& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint64_t get_le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}
}  // namespace

Status append_resolve_input(Bytes& out, const Bytes& event_id, const Bytes& slot, int64_t time_ms,
                            const Bytes& packed_identifiers) {
  if (event_id.size() != 16 || slot.size() > UINT8_MAX || packed_identifiers.size() > UINT32_MAX) {
    return Error(Errc::invalid, "a resolve input's field does not fit its length");
  }
  out.insert(out.end(), event_id.begin(), event_id.end());
  out.push_back(static_cast<uint8_t>(slot.size()));
  out.insert(out.end(), slot.begin(), slot.end());
  put_le(out, static_cast<uint64_t>(time_ms), 8);
  put_le(out, packed_identifiers.size(), 4);
  out.insert(out.end(), packed_identifiers.begin(), packed_identifiers.end());
  return Status::Ok();
}

bool take_resolve_input(std::string_view& in, ResolveInput* out, int format) {
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  const int len_bytes = format >= kResolveInputFormat ? 4 : 2;
  if (in.size() < 17 || in.size() < 17u + p[16] + 8 + static_cast<size_t>(len_bytes)) return false;
  const size_t slot_len = p[16], at = 17 + slot_len, ids_at = at + 8 + static_cast<size_t>(len_bytes);
  const uint64_t ids_len = get_le(p + at + 8, len_bytes);
  if (in.size() - ids_at < ids_len) return false;
  out->event_id = {p, 16};
  out->slot = {p + 17, slot_len};
  out->time_ms = static_cast<int64_t>(get_le(p + at, 8));
  out->identifiers = in.substr(ids_at, ids_len);
  in.remove_prefix(ids_at + ids_len);
  return true;
}

Status SqlStore::init() {
  Status s;
  if (s = pack_old_identifiers(); !s.ok()) return s;
  if (s = convert_old_resolve_queue(); !s.ok()) return s;
  Use st = writer_.prepare("SELECT pseudonym, shared FROM tombstones", &s);
  if (st == nullptr) return s;
  int rc;
  while ((rc = st->step()) == sql::kRow) {
    tombstones_.emplace(st->blob(0), st->int64(1) != 0 ? Tombstone::Shared : Tombstone::Owned);
  }
  st->reset();
  if (rc != sql::kDone) return writer_.error(rc, "tombstones");
  if (reserve_ != nullptr && !reserve_->ensure()) enter_degraded_locked("no room for the disk reserve");
  Use pending = writer_.prepare("SELECT CAST(coalesce(sum(events), 0) AS BIGINT) FROM resolve_inputs", &s);
  if (pending == nullptr) return s;
  if ((rc = pending->step()) != sql::kRow) return writer_.error(rc, "resolve queue");
  pending_ = pending->int64(0);
  return Status::Ok();
}

// Stores written before schema 3 kept identifiers in their own table: move them into the rows.
Status SqlStore::pack_old_identifiers() {
  auto exists = writer_.has_table("event_identifiers");
  if (!exists.ok() || !exists.value()) return exists.status();
  Status s;
  return in_write_txn([&]() -> Status {
    std::map<std::string, std::vector<StoredIdentifier>> by_event;
    Use old = writer_.prepare("SELECT event_id, kind, pseudonym, linking FROM event_identifiers", &s);
    if (old == nullptr) return s;
    int step;
    while ((step = old->step()) == sql::kRow) {
      StoredIdentifier id{static_cast<uint8_t>(old->int64(1)), {}, old->int64(3) != 0};
      const auto p = old->blob(2);
      if (p.size() != id.pseudonym.size()) return writer_.error(sql::kCorrupt, "event identifiers");
      std::copy(p.begin(), p.end(), id.pseudonym.begin());
      by_event[std::string(old->blob(0))].push_back(id);
    }
    old->reset();
    if (step != sql::kDone) return writer_.error(step, "event identifiers");
    Use set = writer_.prepare("UPDATE events SET identifiers = ?2 WHERE event_id = ?1", &s);
    if (set == nullptr) return s;
    Bytes packed;
    for (const auto& [event, ids] : by_event) {
      pack_identifiers(ids, packed);
      set->bind(1, event.data(), event.size()).bind(2, packed.data(), packed.size());
      if (s = writer_.done(*set, "events"); !s.ok()) return s;
    }
    return writer_.exec(
        "DROP TABLE event_identifiers; INSERT INTO resolve_queue(event_ids) SELECT event_id FROM events", "schema");
  });
}

// Stores written before schema 5 queued event ids only: look their inputs up once, in order.
Status SqlStore::convert_old_resolve_queue() {
  auto exists = writer_.has_table("resolve_queue");
  if (!exists.ok() || !exists.value()) return exists.status();
  Status s;
  return in_write_txn([&]() -> Status {
    Use old = writer_.prepare("SELECT event_ids FROM resolve_queue ORDER BY seq", &s);
    Use ev = writer_.prepare("SELECT batch_id, slot, corrected_ms, identifiers FROM events WHERE event_id = ?1", &s);
    Use add = writer_.prepare(kQueueResolveInputs, &s);
    if (old == nullptr || ev == nullptr || add == nullptr) return s;
    int step;
    while ((step = old->step()) == sql::kRow) {
      const std::string_view ids = old->blob(0);
      Bytes batch_id, inputs;
      int64_t events = 0;
      for (size_t at = 0; at + 16 <= ids.size(); at += 16) {
        ev->bind(1, ids.data() + at, 16);
        const int found = ev->step();
        if (found == sql::kRow) {
          batch_id = bytes_of(ev->blob(0));
          s = append_resolve_input(inputs, Bytes(ids.begin() + at, ids.begin() + at + 16), bytes_of(ev->blob(1)),
                                   ev->int64(2), bytes_of(ev->blob(3)));
          if (!s.ok()) return s;
          ++events;
        }
        ev->reset();
        if (found != sql::kRow && found != sql::kDone) return writer_.error(found, "events");
      }
      if (events == 0) continue;
      add->bind(1, batch_id.data(), batch_id.size()).bind(2, events).bind(3, inputs.data(), inputs.size());
      if (s = writer_.done(*add, "resolve inputs"); !s.ok()) return s;
    }
    old->reset();
    if (step != sql::kDone) return writer_.error(step, "resolve queue");
    return writer_.exec("DROP TABLE resolve_queue", "schema");
  });
}

Result<std::vector<bool>> SqlStore::ingest_group(const std::vector<IngestBuild>& builds) {
  return in_write_txn([&]() -> Result<std::vector<bool>> {
    std::vector<bool> wrote;
    wrote.reserve(builds.size());
    for (const IngestBuild& build : builds) {
      BatchWrite write;
      auto r = build(*this, write);
      if (!r.ok()) return r.status();
      if (r.value()) {
        if (Status s = write_batch(write); !s.ok()) return s;
      }
      wrote.push_back(r.value());
    }
    return wrote;
  });
}

Result<std::optional<Bytes>> SqlStore::receipt_for(const Bytes& batch_id) {
  Status s;
  Use st = writer_.prepare("SELECT receipt FROM batches WHERE batch_id = ?1", &s);
  if (st == nullptr) return s;
  st->bind(1, batch_id.data(), batch_id.size());
  const int rc = st->step();
  if (rc == sql::kDone) return std::optional<Bytes>{};
  if (rc != sql::kRow) return writer_.error(rc, "batches");
  const auto r = st->blob(0);
  return std::optional<Bytes>(Bytes(r.begin(), r.end()));
}

Result<ReplayCheck> SqlStore::check_sequence(const Key32& device_key, uint64_t sequence) {
  Status s;
  Use st = writer_.prepare("SELECT last_sequence FROM devices WHERE device_key = ?1", &s);
  if (st == nullptr) return s;
  st->bind(1, device_key.data(), device_key.size());
  const int rc = st->step();
  if (rc == sql::kDone) return ReplayCheck::New;
  if (rc != sql::kRow) return writer_.error(rc, "devices");
  return static_cast<uint64_t>(st->int64(0)) < sequence ? ReplayCheck::New : ReplayCheck::SequenceNotIncreasing;
}

Result<std::vector<bool>> SqlStore::known_events(const std::vector<Bytes>& ids) {
  std::vector<bool> out(ids.size(), false);
  const Status s = writer_.run_many(
      "SELECT 1 FROM events WHERE event_id = ?1", ids.size(),
      [&](sql::Statement& st, size_t i) { st.bind(1, ids[i].data(), ids[i].size()); },
      [&](const sql::Statement&, size_t i) { out[i] = true; }, "events");
  if (!s.ok()) return s;
  return out;
}

Result<bool> SqlStore::consent_granted(const Bytes& slot, uint8_t purpose) {
  Status s;
  Use st = writer_.prepare("SELECT granted FROM consent_state WHERE slot = ?1 AND purpose = ?2", &s);
  if (st == nullptr) return s;
  st->bind(1, slot.data(), slot.size()).bind(2, purpose);
  const int rc = st->step();
  if (rc == sql::kDone) return false;
  if (rc != sql::kRow) return writer_.error(rc, "consent");
  return st->int64(0) != 0;
}

// Answered from memory: every tombstone is loaded at open and added as its transaction commits; a
// group commit's later batches also see what its earlier ones erased (new_tombstones_, rarely any).
Result<Tombstone> SqlStore::tombstone(const uint8_t* key, size_t len) {
  const std::string_view k(reinterpret_cast<const char*>(key), len);
  const auto it = tombstones_.find(k);
  Tombstone t = it == tombstones_.end() ? Tombstone::None : it->second;
  for (const auto& [pending, how] : new_tombstones_) {
    if (pending == k && t != Tombstone::Owned) t = how;
  }
  return t;
}

Status SqlStore::add_tombstone(const uint8_t* key, size_t len, int64_t now_ms, Tombstone how) {
  Status s;
  Use st = writer_.prepare(
      "INSERT INTO tombstones(pseudonym, erased_ms, shared) VALUES(?1, ?2, ?3) ON CONFLICT(pseudonym) DO UPDATE SET "
      "shared = CASE WHEN tombstones.shared < ?3 THEN tombstones.shared ELSE ?3 END",
      &s);
  if (st == nullptr) return s;
  st->bind(1, key, len).bind(2, now_ms).bind(3, how == Tombstone::Shared ? 1 : 0);
  if (s = writer_.done(*st, "tombstones"); !s.ok()) return s;
  new_tombstones_.emplace_back(std::string(reinterpret_cast<const char*>(key), len), how);
  return Status::Ok();
}

namespace {
void bind_event(sql::Statement& ev, const BatchWrite& w, const StoredEvent& e, const Bytes& packed) {
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
  if (e.revenue_minor) ev.bind(11, *e.revenue_minor).bind(12, e.currency);
  ev.bind(13, e.campaign_source).bind(14, e.campaign_medium).bind(15, e.campaign_name);
  ev.bind(16, packed.data(), packed.size());
  if (!e.properties.empty()) ev.bind(17, e.properties);
  ev.bind(18, e.campaign_content);
}
}  // namespace

Status SqlStore::write_batch(const BatchWrite& w) {
  Status s;
  Use device = writer_.prepare(
      "INSERT INTO devices(device_key, last_sequence) VALUES(?1, ?2) ON CONFLICT(device_key) DO UPDATE SET "
      "last_sequence = ?2",
      &s);
  if (device == nullptr) return s;
  device->bind(1, w.device_key.data(), w.device_key.size()).bind(2, static_cast<int64_t>(w.sequence));
  if (s = writer_.done(*device, "devices"); !s.ok()) return s;
  Use batch = writer_.prepare(
      "INSERT INTO batches(batch_id, device_key, sequence, received_ms, receipt, app_id, platform, sdk_version, "
      "device_model, os_version) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
      &s);
  if (batch == nullptr) return s;
  batch->bind(1, w.batch_id.data(), w.batch_id.size())
      .bind(2, w.device_key.data(), w.device_key.size())
      .bind(3, static_cast<int64_t>(w.sequence))
      .bind(4, w.received_ms)
      .bind(5, w.receipt.data(), w.receipt.size())
      .bind(6, w.source.app_id)
      .bind(7, w.source.platform)
      .bind(8, w.source.sdk_version)
      .bind(9, w.source.device_model)
      .bind(10, w.source.os_version);
  if (s = writer_.done(*batch, "batches"); !s.ok()) return s;
  Bytes queued;
  size_t queued_bytes = 0;  // the resolve inputs, sized up front: no regrowth across a batch
  for (const StoredEvent& e : w.events) {
    queued_bytes += resolve_input_bytes(e.slot.size(), e.identifiers.size() * kPackedIdentifierBytes);
  }
  queued.reserve(queued_bytes);
  std::vector<Bytes> packed(w.events.size());
  for (size_t i = 0; i < w.events.size(); ++i) {
    const StoredEvent& e = w.events[i];
    pack_identifiers(e.identifiers, packed[i]);
    if (s = append_resolve_input(queued, e.event_id, e.slot, e.corrected_ms, packed[i]); !s.ok()) return s;
  }
  s = writer_.insert_many(
      "INSERT INTO events(event_id, device_key, batch_id, type, channel, purpose, name, occurred_ms, corrected_ms, "
      "slot, revenue_minor, currency, campaign_source, campaign_medium, campaign_name, identifiers, properties, "
      "campaign_content) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
      w.events.size(), [&](sql::Statement& ev, size_t i) { bind_event(ev, w, w.events[i], packed[i]); }, "events");
  if (!s.ok()) return s;
  if (!queued.empty()) {  // identity resolution follows in commit order
    Use queue = writer_.prepare(kQueueResolveInputs, &s);
    if (queue == nullptr) return s;
    queue->bind(1, w.batch_id.data(), w.batch_id.size())
        .bind(2, static_cast<int64_t>(w.events.size()))
        .bind(3, queued.data(), queued.size());
    if (s = writer_.done(*queue, "resolve queue"); !s.ok()) return s;
    queued_ = true;
    drained_ = false;  // a forget earlier in this group may have emptied the queue: it is not empty now
    pending_delta_ += static_cast<int64_t>(w.events.size());
  }
  Use consent = writer_.prepare(
      "INSERT INTO consent_state(slot, purpose, granted, ledger_seq) VALUES(?1, ?2, ?3, ?4) ON CONFLICT(slot, "
      "purpose) DO UPDATE SET granted = ?3, ledger_seq = ?4 WHERE consent_state.ledger_seq < ?4",
      &s);
  if (consent == nullptr) return s;
  for (const ConsentUpdate& c : w.consent) {
    consent->bind(1, c.slot.data(), c.slot.size())
        .bind(2, c.purpose)
        .bind(3, c.granted ? 1 : 0)
        .bind(4, static_cast<int64_t>(c.ledger_seq));
    if (s = writer_.done(*consent, "consent"); !s.ok()) return s;
  }
  for (const Key32& p : w.tombstone_pseudonyms) {
    if (s = add_tombstone(p.data(), p.size(), w.received_ms); !s.ok()) return s;
  }
  if (w.erase_pseudonyms.empty() && w.erase_slots.empty() && w.forget_slots.empty()) return Status::Ok();
  // Erasures (after linking what this batch brought): every profile holding one of these keys (the
  // brand's erasure token, or a visit found to carry an erased identifier), tombstoning the keys even
  // when no profile holds them yet; then what the device's own forget covers.
  if (auto r = resolve_locked(INT64_MAX); !r.ok()) return r.status();
  auto erase_key = [&](const uint8_t* key, size_t len) -> Status {
    if (const GraphIndex::Node* node = graph_.find(key, len)) {  // tombstoned with the profile's nodes
      return erase_locked(node->profile, w.received_ms).status();
    }
    return add_tombstone(key, len, w.received_ms);
  };
  for (const Key32& p : w.erase_pseudonyms) {
    if (s = erase_key(p.data(), p.size()); !s.ok()) return s;
  }
  for (const Bytes& slot : w.erase_slots) {
    if (s = erase_key(slot.data(), slot.size()); !s.ok()) return s;
  }
  for (const Bytes& slot : w.forget_slots) {
    if (s = forget_slot_locked(w.device_key, slot, w.received_ms); !s.ok()) return s;
  }
  return Status::Ok();
}

std::optional<std::string> SqlStore::degraded() const {
  if (auto why = writer_.unreachable()) return why;
  if (!degraded_) return std::nullopt;
  std::lock_guard lock(degraded_mu_);
  return degraded_reason_;
}

Status SqlStore::check_writer() {
  std::lock_guard lock(writer_.mu);
  return writer_.exec("SELECT 1", "writer check");
}

void SqlStore::enter_degraded_locked(const std::string& why) {
  {
    std::lock_guard lock(degraded_mu_);
    degraded_reason_ = "disk full (" + why + "): writes are refused until " +
                       (reserve_ != nullptr ? "the file system has room again for the disk reserve and 8 MiB more"
                                            : std::string("the database can write again"));
  }
  degraded_ = true;
  if (reserve_ != nullptr) reserve_->release();
  writer_.compact();
}

bool SqlStore::recover_locked() {
  if (reserve_ != nullptr && !reserve_->ensure()) return false;
  degraded_ = false;
  return true;
}

Result<int64_t> SqlStore::event_count() {
  return reader_.scalar("SELECT count(*) FROM events", "events");
}

Status SqlStore::set_blocked(const std::vector<Key32>& pseudonyms) {
  return in_write_txn([&]() -> Status {
    Status s;
    Use st = writer_.prepare("INSERT INTO blocked(key) VALUES(?1) ON CONFLICT DO NOTHING", &s);
    if (st == nullptr) return s;
    for (const Key32& p : pseudonyms) {
      st->bind(1, p.data(), p.size());
      if (s = writer_.done(*st, "blocked"); !s.ok()) return s;
      graph_.block_key(p.data(), p.size());
    }
    return Status::Ok();
  });
}

Result<ErasureResult> SqlStore::erase(int64_t profile_id, int64_t now_ms) {
  return in_write_txn([&]() -> Result<ErasureResult> {
    if (auto resolved = resolve_locked(INT64_MAX); !resolved.ok()) return resolved.status();
    auto current = current_profile(profile_id, writer_);
    if (!current.ok()) return current.status();
    return erase_locked(current.value(), now_ms);
  });
}

}  // namespace waymark::collector
