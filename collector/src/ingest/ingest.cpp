#include "ingest/ingest.hpp"
#include "ingest/queued_batch.hpp"
#include "queue/jetstream.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "authority/erasure_token.hpp"
#include "authority/identity_assertion.hpp"
#include "common/consent/ledger.hpp"
#include "ingest/erasures.hpp"
#include "waymark/wire/v1/batch_generated.h"
#include "common/wire/envelope.hpp"

namespace waymark::collector {

namespace w = waymark::wire::v1;

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

// A device's text as the store keeps it: valid UTF-8 without NUL. Each byte that does not start a
// well-formed sequence (overlong, surrogate, past U+10FFFF, cut short), and each NUL, becomes U+FFFD:
// a store's text type may refuse either, and one bad string must not fail a whole group commit.
std::string str_of(const flatbuffers::String* s) {
  if (s == nullptr) return {};
  const auto* p = reinterpret_cast<const uint8_t*>(s->data());
  const size_t n = s->size();
  std::string out;
  out.reserve(n);
  for (size_t i = 0; i < n;) {
    const uint8_t c = p[i];
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len != 0 && c != 0 && i + len <= n;
    uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1Fu : len == 3 ? c & 0x0Fu : c & 0x07u;
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (p[i + k] & 0xC0) == 0x80;
      cp = cp << 6 | (p[i + k] & 0x3Fu);
    }
    static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    ok = ok && cp >= kSmallest[len] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
    if (ok) {
      out.append(reinterpret_cast<const char*>(p + i), len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
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

size_t size_of(const flatbuffers::String* s) {
  return s == nullptr ? 0 : s->size();
}

// The reason an event exceeds the limits, or null.
const char* over_limit(const IngestLimits& limits, const w::EventBlob* blob, const w::Event& e) {
  if (blob->bytes()->size() > limits.max_event_bytes) return "event_too_large";
  if (e.identifiers() != nullptr && e.identifiers()->size() > limits.max_identifiers) return "too_many_identifiers";
  if (e.properties() == nullptr) return nullptr;
  if (e.properties()->size() > limits.max_properties) return "too_many_properties";
  for (const auto* p : *e.properties()) {
    if (p->key()->size() > limits.max_name_bytes || size_of(p->s()) > limits.max_string_bytes) {
      return "property_too_large";
    }
  }
  return nullptr;
}

// Where the batch came from; false when a field is longer than any SDK sends.
bool source_of(const w::Batch& b, const IngestLimits& limits, BatchSource* out) {
  for (const auto* s : {b.app_id(), b.platform(), b.sdk_version(), b.device_model(), b.os_version()}) {
    if (size_of(s) > limits.max_name_bytes) return false;
  }
  *out = {str_of(b.app_id()), str_of(b.platform()), str_of(b.sdk_version()), str_of(b.device_model()),
          str_of(b.os_version())};
  return true;
}

// Typed properties as a JSON object (keys and strings as str_of keeps them).
std::string properties_json(const w::Event& e) {
  if (e.properties() == nullptr || e.properties()->size() == 0) return {};
  nlohmann::json j = nlohmann::json::object();
  for (const auto* p : *e.properties()) {
    auto& v = j[str_of(p->key())];
    switch (p->kind()) {
      case w::PropertyKind::Int: v = p->i(); break;
      case w::PropertyKind::Double: v = std::isfinite(p->d()) ? nlohmann::json(p->d()) : nlohmann::json(); break;
      case w::PropertyKind::Bool: v = p->b(); break;
      default: v = str_of(p->s()); break;
    }
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// A consent change that is shaped right, of the batch's own device, and signed by it; else none.
std::optional<detail::ConsentRecord> verified_consent(const w::Event& e, const Key32& device_key) {
  const auto* c = e.consent();
  detail::ConsentRecord r;
  const bool shaped = c != nullptr && e.slot()->size() == 16 && copy_exact(c->prev_hash(), r.prev_hash) &&
                      copy_exact(c->hash(), r.hash) && copy_exact(c->signature(), r.signature) &&
                      c->device_public_key() != nullptr && c->device_public_key()->size() == 32 &&
                      std::memcmp(c->device_public_key()->data(), device_key.data(), 32) == 0;
  if (!shaped) return std::nullopt;
  std::memcpy(r.slot.data(), e.slot()->data(), 16);
  r.seq = c->ledger_seq();
  r.purpose = static_cast<uint8_t>(c->purpose());
  r.granted = c->granted();
  r.time_ms = c->time_ms();
  r.policy_version = str_of(c->policy_version());
  if (!detail::verify_consent_record(r, device_key.data())) return std::nullopt;
  return r;
}

// The event as the store keeps it.
StoredEvent stored_event(const w::Event& e, const w::Batch& batch, int64_t now_ms, Bytes id,
                         std::vector<StoredIdentifier> identifiers) {
  StoredEvent ev;
  ev.event_id = std::move(id);
  ev.type = static_cast<uint8_t>(e.type());
  ev.channel = static_cast<uint8_t>(e.channel());
  ev.purpose = static_cast<uint8_t>(e.purpose());
  ev.name = str_of(e.name());
  ev.occurred_ms = e.occurred_at_ms();
  // Device clocks can be wrong by days: place the event relative to when the batch arrived.
  const int64_t age = batch.sent_monotonic_ms() - e.monotonic_ms();
  ev.corrected_ms = age >= 0 && age <= kMaxCorrectionMs ? now_ms - age : e.occurred_at_ms();
  ev.slot = bytes_of(e.slot());
  ev.identifiers = std::move(identifiers);
  if (e.revenue() != nullptr) {
    ev.revenue_minor = e.revenue()->amount_minor();
    ev.currency = str_of(e.revenue()->currency());
  }
  if (e.campaign() != nullptr) {
    ev.campaign_source = str_of(e.campaign()->source());
    ev.campaign_medium = str_of(e.campaign()->medium());
    ev.campaign_name = str_of(e.campaign()->name());
    ev.campaign_content = str_of(e.campaign()->content());
  }
  ev.properties = properties_json(e);
  return ev;
}

}  // namespace

Key32 rekey_pseudonym(const uint8_t* sdk_pseudonym, const uint8_t* rekey_secret) {
  Key32 out;
  crypto_generichash(out.data(), out.size(), sdk_pseudonym, 32, rekey_secret, 32);
  return out;
}

// One batch from its verification to its answer.
struct Ingest::Request {
  detail::OpenedEnvelope opened;
  const w::Batch* batch = nullptr;  // in opened.batch
  const CollectorKey* key = nullptr;
  Bytes batch_id;
  BatchSource source;
  std::vector<Bytes> ids;          // event ids, in batch order
  std::vector<uint64_t> asserted;  // per event: bit j set when its identifier j came with a valid assertion
  int64_t now_ms = 0;
  std::chrono::steady_clock::time_point started;
  Done done;
  // The decision, answered once the commit that holds it is over.
  IngestResponse response;
  detail::ReceiptFields receipt;
  std::map<std::string, uint64_t> rejected;  // events refused inside the batch, by reason
  uint32_t erasures = 0;
};

// What deciding the events of one batch keeps between them. Keys view the batch's own bytes.
struct Ingest::EventDecision {
  explicit EventDecision(IngestTxn& txn) : erasures(txn) {}
  std::vector<bool> known;
  std::unordered_set<std::string_view> seen;
  std::map<std::pair<std::string_view, uint8_t>, bool> consent;  // decisions made earlier in this batch
  Erasures erasures;
  // Re-keyed pseudonyms by the SDK's: a device sends the same few identifiers with every event.
  std::unordered_map<std::string_view, Key32> rekeyed;
};

Ingest::Ingest(IngestStore& store, std::vector<CollectorKey> keys, const uint8_t* rekey_secret, Metrics& metrics,
               IngestLimits limits)
    : store_(&store), keys_(std::move(keys)), metrics_(metrics), limits_(limits) {
  start(rekey_secret);
}

Ingest::Ingest(queue::JetStream& queue, std::vector<CollectorKey> keys, const uint8_t* rekey_secret, Metrics& metrics,
               IngestLimits limits)
    : publish_to_(&queue), keys_(std::move(keys)), metrics_(metrics), limits_(limits) {
  start(rekey_secret);
}

void Ingest::start(const uint8_t* rekey_secret) {
  std::memcpy(rekey_.data(), rekey_secret, 32);
  derive_queue_key(rekey_secret, queue_key_.data());
  for (const CollectorKey& k : keys_) openers_.push_back(detail::EnvelopeOpener::create(k.secret.data()));
  committer_ = std::thread([this] { commit_loop(); });
}

Ingest::~Ingest() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  committer_.join();
}

void Ingest::submit(const uint8_t* body, size_t len, int64_t now_ms, Done done) {
  if (queue_lagging_) {
    IngestResponse lagging = reject(metrics_, 503, "queue_lagging");
    lagging.retry_after_s = 5;
    return done(std::move(lagging));
  }
  IngestResponse refused;
  auto request = verify(body, len, now_ms, &refused);
  if (!request) return done(std::move(refused));
  request->done = std::move(done);
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      ++waiting_;
      queue_.push_back(std::move(request));
      request = nullptr;
    }
  }
  if (request) return request->done({503, {}, "store_unavailable", 5});
  cv_.notify_one();
}

IngestResponse Ingest::handle(const uint8_t* body, size_t len, int64_t now_ms) {
  std::promise<IngestResponse> answer;
  auto future = answer.get_future();
  submit(body, len, now_ms, [&answer](IngestResponse r) { answer.set_value(std::move(r)); });
  return future.get();
}

std::unique_ptr<Ingest::Request> Ingest::verify(const uint8_t* body, size_t len, int64_t now_ms,
                                                IngestResponse* refused) {
  const auto refuse = [&](int status, std::string reason) {
    *refused = reject(metrics_, status, std::move(reason));
    return nullptr;
  };
  auto key_id = detail::envelope_key_id(body, len);
  if (!key_id.ok()) return refuse(400, key_id.status().message);
  size_t k = 0;
  while (k < keys_.size() && keys_[k].key_id != key_id.value()) ++k;
  if (k == keys_.size()) return refuse(403, "unknown_key_id");
  const CollectorKey* key = &keys_[k];
  if (now_ms >= key->retire_at_ms) return refuse(403, "retired_key_id");
  if (!openers_[k].ok()) return refuse(400, openers_[k].status().message);
  auto opened = openers_[k]->open(body, len, limits_.max_batch_bytes);
  if (!opened.ok()) {  // the code says what kind of refusal it is, the message names it for metrics
    const Errc code = from_common(opened.status()).code;
    return refuse(code == Errc::unauthenticated ? 401 : code == Errc::too_large ? 413 : 400, opened.status().message);
  }
  auto r = std::make_unique<Request>();
  r->opened = std::move(opened.value());
  r->key = key;
  r->now_ms = now_ms;
  if (const char* malformed = index_batch(*r, limits_)) return refuse(400, malformed);
  int assertion_budget = kMaxAssertionsPerBatch;
  for (const auto* blob : *r->batch->events()) {
    r->asserted.push_back(asserted_identifiers(*r, *blob->bytes_nested_root(), assertion_budget));
  }
  return r;
}

// What both stages need of an opened batch: its id, source and event ids (each event with a 16-byte id
// and slot). The reason it is malformed, or nullptr.
const char* Ingest::index_batch(Request& r, const IngestLimits& limits) {
  r.batch = w::GetBatch(r.opened.batch.data());
  r.batch_id = bytes_of(r.batch->batch_id());
  r.started = std::chrono::steady_clock::now();
  if (!source_of(*r.batch, limits, &r.source)) return "malformed_batch";
  if (r.batch->events() == nullptr) return "malformed_batch";
  r.ids.reserve(r.batch->events()->size());
  for (const auto* blob : *r.batch->events()) {
    const w::Event* e = blob->bytes_nested_root();
    if (e == nullptr || e->id() == nullptr || e->id()->size() != 16 || e->slot() == nullptr ||
        e->slot()->size() != 16) {
      return "malformed_event";
    }
    r.ids.push_back(bytes_of(e->id()));
  }
  return nullptr;
}

// A queued batch back into a request, checked again (the queue is inside the brand's trust boundary,
// but a damaged message must not reach the store): nullptr when it is not one this collector can decide.
std::unique_ptr<Ingest::Request> Ingest::from_queue(std::span<const uint8_t> message) {
  auto q = open_queued_batch(message, queue_key_.data());
  if (!q || !detail::batch_is_well_formed(q->batch.data(), q->batch.size())) return nullptr;
  auto r = std::make_unique<Request>();
  r->opened.batch = std::move(q->batch);
  r->opened.device_public_key = q->device_key;
  r->now_ms = q->received_ms;
  r->asserted = q->asserted;
  for (const CollectorKey& k : keys_) {
    if (k.key_id == q->key_id) r->key = &k;
  }
  if (r->key == nullptr || index_batch(*r, limits_) != nullptr || r->asserted.size() != r->ids.size()) return nullptr;
  return r;
}

// Which of the event's identifiers came with an identity assertion that proves this device holds it:
// the first assertion of an identify event (the SDK sends one), and at most `budget` in a batch, so a
// crafted batch cannot make the collector verify signatures by the thousand. Counted either way; an
// assertion that proves nothing is otherwise ignored.
uint64_t Ingest::asserted_identifiers(const Request& r, const w::Event& e, int& budget) {
  if (e.identifiers() == nullptr || e.type() != w::EventType::Identify) return 0;
  const auto n = std::min<flatbuffers::uoffset_t>(e.identifiers()->size(), 64);
  for (flatbuffers::uoffset_t j = 0; j < n && budget > 0; ++j) {
    const auto* id = e.identifiers()->Get(j);
    if (id->assertion() == nullptr) continue;
    --budget;
    const auto* p = id->pseudonym();
    const bool proves = p != nullptr && assertion_proves({id->assertion()->data(), id->assertion()->size()},
                                                         authority_keys_, static_cast<uint8_t>(id->kind()),
                                                         {p->data(), p->size()}, r.opened.device_public_key, r.now_ms);
    metrics_.add(proves ? "identity_assertions_verified_total" : "identity_assertions_refused_total", 1);
    return proves ? uint64_t{1} << j : 0;
  }
  return 0;
}

// Takes every verified batch waiting (up to max_group_events events) and commits or publishes them.
void Ingest::commit_loop() {
  for (;;) {
    std::vector<std::unique_ptr<Request>> group;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      size_t events = 0;
      while (!queue_.empty() && (group.empty() || events + queue_.front()->ids.size() <= limits_.max_group_events)) {
        events += queue_.front()->ids.size();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    publish_to_ != nullptr ? publish_group(group) : commit_group(group);
  }
}

// Decides and writes the group in one transaction, commits once, then answers each.
void Ingest::commit_group(std::vector<std::unique_ptr<Request>>& group) {
  std::vector<IngestBuild> builds;
  builds.reserve(group.size());
  for (auto& r : group) {
    builds.emplace_back([this, &r](IngestTxn& txn, BatchWrite& write) { return decide(*r, txn, write); });
  }
  auto wrote = store_->ingest_group(builds);
  metrics_.add("ingest_commits_total", 1);
  for (size_t i = 0; i < group.size(); ++i) {
    finish(*group[i], wrote.ok() ? Result<bool>(wrote.value()[i]) : Result<bool>(wrote.status()));
  }
}

// Publishes each batch and answers it once JetStream stored it. The receipt says "queued": its
// accepted count is the events handed over; dedupe, consent and erasures are the merger's to decide.
void Ingest::publish_group(std::vector<std::unique_ptr<Request>>& group) {
  for (auto& r : group) {
    struct Answered {
      std::atomic<size_t>& waiting;
      ~Answered() { --waiting; }
    } answered{waiting_};
    const Bytes message = seal_queued_batch(
        {r->key->key_id, r->now_ms, r->opened.device_public_key, r->asserted, r->opened.batch}, queue_key_.data());
    auto ack = publish_to_->publish(detail::to_hex(r->batch_id.data(), r->batch_id.size()), message);
    metrics_.observe_ingest_seconds(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - r->started).count());
    if (!ack.ok()) {
      metrics_.add("queue_publish_failures_total", 1);
      r->done({503, {}, "queue_unavailable", 2});  // nothing acknowledged: the device resends
      continue;
    }
    metrics_.add(ack->duplicate ? "batches_resent_total" : "batches_queued_total", 1);
    std::memcpy(r->receipt.batch_id.data(), r->batch_id.data(), 16);
    r->receipt.received_at_ms = r->now_ms;
    r->receipt.accepted = static_cast<uint32_t>(r->ids.size());
    r->done({200, detail::sign_receipt(r->receipt, r->key->key_id, r->key->secret.data()), "", -1});
  }
}

Result<size_t> Ingest::commit_queued(const std::vector<std::span<const uint8_t>>& messages) {
  std::vector<std::unique_ptr<Request>> group;
  for (const auto& m : messages) {
    if (auto r = from_queue(m)) {
      group.push_back(std::move(r));
    } else {
      metrics_.refused_batch("malformed_queued_batch");
    }
  }
  std::vector<IngestBuild> builds;
  for (auto& r : group) {
    builds.emplace_back([this, &r](IngestTxn& txn, BatchWrite& write) { return decide(*r, txn, write); });
  }
  auto wrote = store_->ingest_group(builds);
  metrics_.add("ingest_commits_total", 1);
  if (!wrote.ok()) {
    metrics_.add("store_commit_failures_total", 1);
    return wrote.status();
  }
  size_t fresh = 0;
  for (size_t i = 0; i < group.size(); ++i) {
    ++waiting_;  // finish() counts it answered
    group[i]->done = [](IngestResponse) {};
    finish(*group[i], Result<bool>(wrote.value()[i]));
    fresh += wrote.value()[i] ? 1 : 0;
  }
  return fresh;
}

// Answers one batch; it stops counting as waiting only once its answer is handed over.
void Ingest::finish(Request& r, const Result<bool>& wrote) {
  struct Answered {
    std::atomic<size_t>& waiting;
    ~Answered() { --waiting; }
  } answered{waiting_};
  metrics_.observe_ingest_seconds(std::chrono::duration<double>(std::chrono::steady_clock::now() - r.started).count());
  if (!wrote.ok()) {
    metrics_.add("store_commit_failures_total", 1);
    return r.done({503, {}, "store_unavailable", 5});  // nothing acknowledged: the device resends
  }
  if (wrote.value()) {
    metrics_.add("batches_accepted_total", 1);
    metrics_.add("events_accepted_total", r.receipt.accepted);
    metrics_.add("events_duplicate_total", r.receipt.duplicates);
    metrics_.add("erasures_total", r.erasures);
    for (const auto& [reason, n] : r.rejected) metrics_.rejected(reason, n);
  }
  r.done(std::move(r.response));
}

// Every lookup happens in the store's write transaction: no concurrent batch can slip between the
// replay and dedupe checks and the write.
Result<bool> Ingest::decide(Request& r, IngestTxn& txn, BatchWrite& write) {
  auto stored = txn.receipt_for(r.batch_id);
  if (!stored.ok()) return stored.status();
  if (stored.value()) {  // a resent batch gets the same receipt
    metrics_.add("batches_resent_total", 1);
    r.response = {200, std::move(*stored.value()), "", -1};
    return false;
  }
  auto replay = txn.check_sequence(r.opened.device_public_key, r.batch->sequence());
  if (!replay.ok()) return replay.status();
  if (replay.value() == ReplayCheck::SequenceNotIncreasing) {
    r.response = reject(metrics_, 409, "sequence_not_increasing");
    return false;
  }
  EventDecision d(txn);
  auto known = txn.known_events(r.ids);
  if (!known.ok()) return known.status();
  d.known = std::move(known.value());
  d.seen.reserve(r.ids.size());
  write.batch_id = r.batch_id;
  write.device_key = r.opened.device_public_key;
  write.sequence = r.batch->sequence();
  write.received_ms = r.now_ms;
  write.source = r.source;
  for (size_t i = 0; i < r.ids.size(); ++i) {
    if (auto s = decide_event(r, i, d, txn, write); !s.ok()) return s.status();
  }
  if (const uint64_t n = d.erasures.apply(write); n > 0) r.rejected["tombstoned"] += n;
  std::memcpy(r.receipt.batch_id.data(), r.batch_id.data(), 16);
  r.receipt.received_at_ms = r.now_ms;
  r.receipt.accepted = static_cast<uint32_t>(write.events.size()) + r.erasures;
  for (const auto& [reason, n] : r.rejected) r.receipt.rejected += static_cast<uint32_t>(n);
  write.receipt = detail::sign_receipt(r.receipt, r.key->key_id, r.key->secret.data());
  r.response = {200, write.receipt, "", -1};
  return true;
}

// Decides one event: refused (counted by reason), a duplicate, an erasure request, or stored.
Result<bool> Ingest::decide_event(Request& r, size_t i, EventDecision& d, IngestTxn& txn, BatchWrite& write) {
  const auto* blob = r.batch->events()->Get(static_cast<flatbuffers::uoffset_t>(i));
  const w::Event* e = blob->bytes_nested_root();
  if (d.known[i] || !d.seen.insert(view_of(e->id())).second) {  // dedupe by event id, forever
    ++r.receipt.duplicates;
    return false;
  }
  if (const char* over = over_limit(limits_, blob, *e)) {
    ++r.rejected[over];
    return false;
  }
  auto allowed = consent_allows(r, *e, d, txn, write);
  if (!allowed.ok() || !allowed.value()) return allowed;
  if (e->type() == w::EventType::Erasure) {  // its identifiers prove nothing and are not kept
    forget(r, *e, d, write);
    return true;
  }
  // Re-key every pseudonym on arrival: the store never sees what the device sent.
  std::vector<StoredIdentifier> identifiers;
  if (e->identifiers() != nullptr) {
    for (flatbuffers::uoffset_t j = 0; j < e->identifiers()->size(); ++j) {
      const auto* id = e->identifiers()->Get(j);
      if (id->pseudonym() == nullptr || id->pseudonym()->size() != 32) continue;
      auto [it, fresh] = d.rekeyed.try_emplace(view_of(id->pseudonym()));
      if (fresh) it->second = rekey_pseudonym(id->pseudonym()->data(), rekey_.data());
      const auto kind = static_cast<uint8_t>(id->kind());
      const Proof proof = j < 64 && (r.asserted[i] >> j & 1) != 0 ? Proof::Asserted
                          : verified_kinds_[kind]                 ? Proof::Unproven
                                                                  : Proof::Claimed;
      identifiers.push_back({kind, it->second, id->linking(), proof});
    }
  }
  // An erased customer (by slot or identifier): a replayed or late batch cannot bring them back.
  auto erased = d.erasures.visit_erased(view_of(e->slot()), identifiers);
  if (!erased.ok()) return erased.status();
  if (erased.value()) {
    ++r.rejected["tombstoned"];
    return false;
  }
  write.events.push_back(stored_event(*e, *r.batch, r.now_ms, std::move(r.ids[i]), std::move(identifiers)));
  return true;
}

// The SDK's forget, kept nothing of: what this device's slot sent is always erased; the whole customer
// only with an erasure token signed by the brand's authority key. The identifiers the device sent with
// it prove nothing (anyone can install the app and identify a victim's email).
void Ingest::forget(Request& r, const w::Event& e, EventDecision& d, BatchWrite& write) {
  write.forget_slots.push_back(bytes_of(e.slot()));
  d.erasures.requested(view_of(e.slot()));
  ++r.erasures;
  if (e.erasure_token() == nullptr) return;
  auto token = verify_erasure_token({e.erasure_token()->data(), e.erasure_token()->size()}, authority_keys_, r.now_ms);
  if (!token.ok()) {  // the device-scoped part stands; the refusal is counted and logged
    metrics_.refused_batch(token.status().message);
    return;
  }
  for (const auto& [kind, sdk_pseudonym] : token->pseudonyms) {
    const Key32 key = rekey_pseudonym(sdk_pseudonym.data(), rekey_.data());
    write.erase_pseudonyms.push_back(key);
    d.erasures.requested(view_of(key.data(), key.size()));
  }
}

// Consent records are verified and applied; any other event needs its purpose granted to its slot
// (fail closed); only erasures may be essential.
Result<bool> Ingest::consent_allows(Request& r, const w::Event& e, EventDecision& d, IngestTxn& txn,
                                    BatchWrite& write) {
  const std::string_view slot = view_of(e.slot());
  const auto purpose = static_cast<uint8_t>(e.purpose());
  if (e.type() == w::EventType::Consent) {
    auto record = verified_consent(e, r.opened.device_public_key);
    if (!record) {
      ++r.rejected["bad_consent_record"];
      return false;
    }
    d.consent[{slot, record->purpose}] = record->granted;
    write.consent.push_back({bytes_of(e.slot()), record->purpose, record->granted, record->seq});
    return true;
  }
  if (purpose == 0) {
    if (e.type() == w::EventType::Erasure) return true;
    ++r.rejected["essential_purpose_misused"];
    return false;
  }
  auto it = d.consent.find({slot, purpose});
  if (it == d.consent.end()) {  // one store lookup per slot and purpose per batch
    auto g = txn.consent_granted(bytes_of(e.slot()), purpose);
    if (!g.ok()) return g.status();
    it = d.consent.emplace(std::make_pair(slot, purpose), g.value()).first;
  }
  if (!it->second) {  // fail closed: no verified consent record, no event
    ++r.rejected["no_consent"];
    return false;
  }
  return true;
}

}  // namespace waymark::collector
