#include "ingest/ingest.hpp"

#include <cstring>
#include <map>
#include <set>
#include <string_view>
#include <unordered_set>

#include <sodium.h>

#include "consent/ledger.hpp"
#include "waymark/wire/v1/batch_generated.h"
#include "wire/envelope.hpp"

namespace waymark::collector {

namespace w = waymark::wire::v1;
using detail::Error;

namespace {

constexpr int64_t kMaxCorrectionMs = 90LL * 24 * 3600 * 1000;

IngestResponse reject(Metrics& m, int status, std::string reason) {
  m.refused_batch(reason);
  IngestResponse r;
  r.http_status = status;
  r.reason = std::move(reason);
  return r;
}

Bytes bytes_of(const flatbuffers::Vector<uint8_t>* v) {
  return v == nullptr ? Bytes{} : Bytes(v->begin(), v->end());
}

std::string str_of(const flatbuffers::String* s) {
  return s == nullptr ? std::string() : s->str();
}

// A view of bytes held by the opened batch, which outlives every use of it here.
std::string_view view_of(const flatbuffers::Vector<uint8_t>* v) {
  return v == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(v->data()), v->size());
}

template <size_t N>
bool copy_exact(const flatbuffers::Vector<uint8_t>* v, std::array<uint8_t, N>& out) {
  if (v == nullptr || v->size() != N) return false;
  std::memcpy(out.data(), v->data(), N);
  return true;
}

// The reason an event exceeds the limits, or null.
const char* over_limit(const IngestLimits& limits, const w::EventBlob* blob, const w::Event& e) {
  if (blob->bytes()->size() > limits.max_event_bytes) return "event_too_large";
  if (e.identifiers() != nullptr && e.identifiers()->size() > limits.max_identifiers) return "too_many_identifiers";
  if (e.properties() != nullptr && e.properties()->size() > limits.max_properties) return "too_many_properties";
  return nullptr;
}

std::string_view view_of(const uint8_t* p, size_t n) {
  return {reinterpret_cast<const char*>(p), n};
}

// Erasures as one batch sees them: the store's tombstones, this batch's own erasure requests, and
// the visits (slots) found to carry an erased identifier, which are erased whole.
class Erasures {
 public:
  explicit Erasures(IngestTxn& txn) : txn_(txn) {}

  void requested(std::string_view key) { requested_.emplace(key); }

  // Strips identifiers whose tombstone is shared from `ids`. True when the event's visit is to be
  // erased whole: its slot or one of its linking identifiers was erased as the customer's own.
  Result<bool> visit_erased(std::string_view slot, std::vector<StoredIdentifier>& ids) {
    if (dead_.count(slot) != 0) return mark(slot, ids, false);
    auto s = state(slot);
    if (!s.ok()) return s.status();
    if (s.value() != Tombstone::None) return mark(slot, ids, false);  // replayed: already erased
    bool owned = false;
    for (auto it = ids.begin(); it != ids.end();) {
      auto t = it->linking ? state(view_of(it->pseudonym.data(), 32)) : Result<Tombstone>(Tombstone::None);
      if (!t.ok()) return t.status();
      owned = owned || t.value() == Tombstone::Owned;
      it = t.value() == Tombstone::Shared ? ids.erase(it) : it + 1;
    }
    if (owned) return mark(slot, ids, true);
    return false;
  }

  // Takes the events of erased visits that arrived before the erased identifier did out of `write`,
  // and has the store erase the visits (the profile holding each slot) and tombstone the rest of
  // their identifiers. Returns how many events it took out.
  uint64_t apply(BatchWrite& write) {
    if (dead_.empty()) return 0;
    const auto dead = [&](const Bytes& slot) { return dead_.count(view_of(slot.data(), slot.size())) != 0; };
    const size_t before = write.events.size();
    for (const StoredEvent& e : write.events) {
      if (dead(e.slot)) remember(e.identifiers);
    }
    std::erase_if(write.events, [&](const StoredEvent& e) { return dead(e.slot); });
    std::erase_if(write.consent, [&](const ConsentUpdate& c) { return dead(c.slot); });
    for (const auto& slot : newly_dead_) write.erase_slots.emplace_back(slot.begin(), slot.end());
    for (const auto& [key, id] : identifiers_) write.tombstone_pseudonyms.push_back(id);
    return before - write.events.size();
  }

 private:
  Result<Tombstone> state(std::string_view key) {
    if (requested_.count(key) != 0) return Tombstone::Owned;
    return txn_.tombstone(reinterpret_cast<const uint8_t*>(key.data()), key.size());
  }
  bool mark(std::string_view slot, const std::vector<StoredIdentifier>& ids, bool newly) {
    if (dead_.emplace(slot).second && newly) newly_dead_.emplace_back(slot);
    remember(ids);
    return true;
  }
  // The visit's linking identifiers not erased yet: they are the erased customer's too.
  void remember(const std::vector<StoredIdentifier>& ids) {
    for (const StoredIdentifier& id : ids) {
      const std::string_view key = view_of(id.pseudonym.data(), 32);
      if (!id.linking || requested_.count(key) != 0) continue;
      auto t = txn_.tombstone(id.pseudonym.data(), 32);
      if (t.ok() && t.value() == Tombstone::None) identifiers_.emplace(std::string(key), id.pseudonym);
    }
  }

  IngestTxn& txn_;
  std::set<std::string, std::less<>> requested_;  // by this batch's erasure events
  std::set<std::string_view> dead_;               // slots, viewing the batch's bytes
  std::vector<std::string_view> newly_dead_;      // of those, the ones not tombstoned before
  std::map<std::string, Key32> identifiers_;      // to tombstone
};

}  // namespace

Key32 rekey_pseudonym(const uint8_t* sdk_pseudonym, const uint8_t* rekey_secret) {
  Key32 out;
  crypto_generichash(out.data(), out.size(), sdk_pseudonym, 32, rekey_secret, 32);
  return out;
}

Ingest::Ingest(Store& store, std::vector<CollectorKey> keys, const uint8_t* rekey_secret, Metrics& metrics,
               IngestLimits limits)
    : store_(store), keys_(std::move(keys)), metrics_(metrics), limits_(limits) {
  std::memcpy(rekey_.data(), rekey_secret, 32);
}

IngestResponse Ingest::handle(const uint8_t* body, size_t len, int64_t now_ms) {
  auto key_id = detail::envelope_key_id(body, len);
  if (!key_id.ok()) return reject(metrics_, 400, key_id.status().message);
  const CollectorKey* key = nullptr;
  for (const auto& k : keys_) {
    if (k.key_id == key_id.value()) key = &k;
  }
  if (key == nullptr) return reject(metrics_, 403, "unknown_key_id");
  if (now_ms >= key->retire_at_ms) return reject(metrics_, 403, "retired_key_id");
  auto opened = detail::open_envelope(body, len, key->secret.data(), limits_.max_batch_bytes);
  if (!opened.ok()) {
    const std::string& why = opened.status().message;
    const bool too_large = opened.status().code == WAYMARK_ERR_TOO_LARGE;
    return reject(metrics_, why == "bad_signature" ? 401 : too_large ? 413 : 400, why);
  }
  const w::Batch* batch = w::GetBatch(opened->batch.data());
  const Bytes batch_id = bytes_of(batch->batch_id());

  const auto* blobs = batch->events();
  std::vector<Bytes> ids;
  if (blobs != nullptr) {
    for (const auto* blob : *blobs) {
      const w::Event* e = blob->bytes_nested_root();
      if (e == nullptr || e->id() == nullptr || e->id()->size() != 16 || e->slot() == nullptr ||
          e->slot()->size() != 16) {
        return reject(metrics_, 400, "malformed_event");
      }
      ids.push_back(bytes_of(e->id()));
    }
  }

  IngestResponse response;
  detail::ReceiptFields receipt;
  std::map<std::string, uint64_t> rejected;
  uint32_t erasures = 0;
  // Every lookup and the commit happen in one store transaction: no concurrent batch can slip
  // between the replay/dedupe checks and the write.
  auto committed = store_.ingest([&](IngestTxn& txn, BatchWrite& write) -> Result<bool> {
    auto stored = txn.receipt_for(batch_id);
    if (!stored.ok()) return stored.status();
    if (stored.value()) {  // a resent batch gets the same receipt
      metrics_.add("batches_resent_total", 1);
      response = {200, std::move(*stored.value()), "", -1};
      return false;
    }
    auto replay = txn.check_sequence(opened->device_public_key, batch->sequence());
    if (!replay.ok()) return replay.status();
    if (replay.value() == ReplayCheck::SequenceNotIncreasing) {
      response = reject(metrics_, 409, "sequence_not_increasing");
      return false;
    }
    auto known = txn.known_events(ids);
    if (!known.ok()) return known.status();

    write.batch_id = batch_id;
    write.device_key = opened->device_public_key;
    write.sequence = batch->sequence();
    write.received_ms = now_ms;
    std::memcpy(receipt.batch_id.data(), batch_id.data(), 16);
    receipt.received_at_ms = now_ms;
    // Keys are views of the batch's own bytes (ids, slots), so lookups allocate nothing.
    std::unordered_set<std::string_view> seen;
    seen.reserve(ids.size());
    std::map<std::pair<std::string_view, uint8_t>, bool> consent;  // decisions made earlier in this batch
    Erasures erasures_seen(txn);

    for (size_t i = 0; i < ids.size(); ++i) {
      const w::Event* e = blobs->Get(static_cast<flatbuffers::uoffset_t>(i))->bytes_nested_root();
      if (known.value()[i] || !seen.insert(view_of(e->id())).second) {  // dedupe by event id, forever
        ++receipt.duplicates;
        continue;
      }
      if (const char* over = over_limit(limits_, blobs->Get(static_cast<flatbuffers::uoffset_t>(i)), *e)) {
        ++rejected[over];
        continue;
      }
      Bytes slot = bytes_of(e->slot());
      const std::string_view slot_key = view_of(e->slot());
      const auto purpose = static_cast<uint8_t>(e->purpose());
      if (e->type() == w::EventType::Consent) {
        const auto* c = e->consent();
        detail::ConsentRecord r;
        const bool shaped = c != nullptr && slot.size() == 16 && copy_exact(c->prev_hash(), r.prev_hash) &&
                            copy_exact(c->hash(), r.hash) && copy_exact(c->signature(), r.signature) &&
                            c->device_public_key() != nullptr && c->device_public_key()->size() == 32 &&
                            std::memcmp(c->device_public_key()->data(), opened->device_public_key.data(), 32) == 0;
        if (shaped) {
          std::memcpy(r.slot.data(), slot.data(), 16);
          r.seq = c->ledger_seq();
          r.purpose = static_cast<uint8_t>(c->purpose());
          r.granted = c->granted();
          r.time_ms = c->time_ms();
          r.policy_version = str_of(c->policy_version());
        }
        if (!shaped || !detail::verify_consent_record(r, opened->device_public_key.data())) {
          ++rejected["bad_consent_record"];
          continue;
        }
        consent[{slot_key, r.purpose}] = r.granted;
        write.consent.push_back({slot, r.purpose, r.granted, r.seq});
      } else if (purpose != 0) {
        auto it = consent.find({slot_key, purpose});
        if (it == consent.end()) {  // one store lookup per slot and purpose per batch
          auto g = txn.consent_granted(slot, purpose);
          if (!g.ok()) return g.status();
          it = consent.emplace(std::make_pair(slot_key, purpose), g.value()).first;
        }
        if (!it->second) {  // fail closed: no verified consent record, no event
          ++rejected["no_consent"];
          continue;
        }
      } else if (e->type() != w::EventType::Erasure) {
        ++rejected["essential_purpose_misused"];
        continue;
      }
      // Re-key every pseudonym on arrival: the store never sees what the device sent.
      std::vector<StoredIdentifier> identifiers;
      if (e->identifiers() != nullptr) {
        for (const auto* id : *e->identifiers()) {
          if (id->pseudonym() == nullptr || id->pseudonym()->size() != 32) continue;
          StoredIdentifier si;
          si.kind = static_cast<uint8_t>(id->kind());
          si.linking = id->linking();
          si.pseudonym = rekey_pseudonym(id->pseudonym()->data(), rekey_.data());
          identifiers.push_back(si);
        }
      }
      if (e->type() == w::EventType::Erasure) {  // the SDK's forget: erase, tombstone, keep nothing of it
        for (const auto& si : identifiers) {
          if (si.linking) {  // a shared device's id is not the customer's: never erase the whole kiosk
            write.erase_pseudonyms.push_back(si.pseudonym);
            erasures_seen.requested(view_of(si.pseudonym.data(), 32));
          }
        }
        write.erase_slots.push_back(slot);
        erasures_seen.requested(slot_key);
        ++erasures;
        continue;
      }
      // An erased customer (by slot or identifier): a replayed or late batch cannot bring them back.
      auto erased = erasures_seen.visit_erased(slot_key, identifiers);
      if (!erased.ok()) return erased.status();
      if (erased.value()) {
        ++rejected["tombstoned"];
        continue;
      }
      StoredEvent ev;
      ev.event_id = std::move(ids[i]);  // not read again: `seen` holds views of the batch
      ev.type = static_cast<uint8_t>(e->type());
      ev.channel = static_cast<uint8_t>(e->channel());
      ev.purpose = purpose;
      ev.name = str_of(e->name());
      ev.occurred_ms = e->occurred_at_ms();
      // Device clocks can be wrong by days: place the event relative to when the batch arrived.
      const int64_t age = batch->sent_monotonic_ms() - e->monotonic_ms();
      ev.corrected_ms = age >= 0 && age <= kMaxCorrectionMs ? now_ms - age : e->occurred_at_ms();
      ev.slot = std::move(slot);
      ev.identifiers = std::move(identifiers);
      if (e->revenue() != nullptr) {
        ev.revenue_minor = e->revenue()->amount_minor();
        ev.currency = str_of(e->revenue()->currency());
      }
      if (e->campaign() != nullptr) {
        ev.campaign_source = str_of(e->campaign()->source());
        ev.campaign_medium = str_of(e->campaign()->medium());
        ev.campaign_name = str_of(e->campaign()->name());
      }
      write.events.push_back(std::move(ev));
    }
    if (const uint64_t n = erasures_seen.apply(write); n > 0) rejected["tombstoned"] += n;
    receipt.accepted = static_cast<uint32_t>(write.events.size()) + erasures;
    for (const auto& [reason, n] : rejected) receipt.rejected += static_cast<uint32_t>(n);
    write.receipt = detail::sign_receipt(receipt, key->key_id, key->secret.data());
    response = {200, write.receipt, "", -1};
    return true;
  });
  if (!committed.ok()) {
    metrics_.add("store_commit_failures_total", 1);
    return {503, {}, "store_unavailable", 5};  // nothing acknowledged: the device resends
  }
  if (!committed.value()) return response;
  metrics_.add("batches_accepted_total", 1);
  metrics_.add("events_accepted_total", receipt.accepted);
  metrics_.add("events_duplicate_total", receipt.duplicates);
  metrics_.add("erasures_total", erasures);
  for (const auto& [reason, n] : rejected) metrics_.rejected(reason, n);
  return response;
}

}  // namespace waymark::collector
