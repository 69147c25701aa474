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
  m.rejected(reason, 0);
  m.add("batches_rejected_total", 1);
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

}  // namespace

Key32 rekey_pseudonym(const uint8_t* sdk_pseudonym, const uint8_t* rekey_secret) {
  Key32 out;
  crypto_generichash(out.data(), out.size(), sdk_pseudonym, 32, rekey_secret, 32);
  return out;
}

Ingest::Ingest(Store& store, std::vector<CollectorKey> keys, const uint8_t* rekey_secret, Metrics& metrics)
    : store_(store), keys_(std::move(keys)), metrics_(metrics) {
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
  auto opened = detail::open_envelope(body, len, key->secret.data());
  if (!opened.ok()) {
    const std::string& why = opened.status().message;
    return reject(metrics_, why == "bad_signature" ? 401 : why == "oversized" ? 413 : 400, why);
  }
  const w::Batch* batch = w::GetBatch(opened->batch.data());
  const Bytes batch_id = bytes_of(batch->batch_id());

  const auto* blobs = batch->events();
  std::vector<Bytes> ids;
  if (blobs != nullptr) {
    for (const auto* blob : *blobs) {
      const w::Event* e = blob->bytes_nested_root();
      if (e == nullptr || e->id() == nullptr || e->id()->size() != 16 || e->slot() == nullptr) {
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
    const auto key_of = [](const auto& b) { return std::string(b.begin(), b.end()); };
    std::set<std::string, std::less<>> erased;  // by this batch's own erasure events

    for (size_t i = 0; i < ids.size(); ++i) {
      const w::Event* e = blobs->Get(static_cast<flatbuffers::uoffset_t>(i))->bytes_nested_root();
      if (known.value()[i] || !seen.insert(view_of(e->id())).second) {  // dedupe by event id, forever
        ++receipt.duplicates;
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
            erased.insert(key_of(si.pseudonym));
          }
        }
        write.erase_slots.push_back(slot);
        erased.insert(key_of(slot));
        ++erasures;
        continue;
      }
      // An erased customer (by identifier or slot): a replayed or late batch cannot bring them back.
      const auto dead = [&](const auto& key) -> Result<bool> {
        if (erased.count(std::string_view(reinterpret_cast<const char*>(key.data()), key.size())) != 0) return true;
        return txn.tombstoned(key.data(), key.size());
      };
      auto is_dead = dead(slot);
      for (const auto& si : identifiers) {
        if (!is_dead.ok() || is_dead.value()) break;
        if (si.linking) is_dead = dead(si.pseudonym);
      }
      if (!is_dead.ok()) return is_dead.status();
      if (is_dead.value()) {
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
