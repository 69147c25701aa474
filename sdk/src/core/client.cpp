#include "core/client.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "identity/export_adapter.hpp"
#include "common/wire/event_codec.hpp"

namespace waymark::detail {

namespace {

constexpr int64_t kWaitMs = 30000;  // longest a caller waits for its commit
constexpr size_t kMaxSlotIdentifiers = 32;
// A recorded batch is stored in rows of up to this many events and plaintext bytes (pack_rows),
// and never in a row larger than one upload batch may be.
constexpr size_t kRowMaxEvents = 64;
constexpr int64_t kRowMaxBytes = 32 * 1024;

bool is_purpose(int p) {
  return p >= WAYMARK_PURPOSE_ANALYTICS && p <= WAYMARK_PURPOSE_ADVERTISING;
}

}  // namespace

Client::Slot::Slot() = default;

Client::Slot::~Slot() {
  for (IdentifierRef& ref : identifiers) sodium_memzero(ref.pseudonym.data(), ref.pseudonym.size());
}

Client::Client(std::unique_ptr<ClientOptions> options) : options_(std::move(options)) {}

Client::~Client() {
  (void)close();
}

Result<std::unique_ptr<Client>> Client::open(std::unique_ptr<ClientOptions> options, bool* recovered) {
  if (options->store_path.empty()) return Error(WAYMARK_ERR_INVALID_ARGUMENT, "store path is required");
  if (options->app_id.empty()) return Error(WAYMARK_ERR_INVALID_ARGUMENT, "app id is required");
  if (!options->has_brand_key) return Error(WAYMARK_ERR_INVALID_ARGUMENT, "brand key is required");
  std::unique_ptr<Client> client(new Client(std::move(options)));
  if (Status s = client->init(recovered); !s.ok()) return s;
  return client;
}

int64_t Client::wall_ms() const {
  return options_->platform.clock_wall_ms(options_->platform.user_data);
}
int64_t Client::monotonic_ms() const {
  return options_->platform.clock_monotonic_ms(options_->platform.user_data);
}

// At most 256 bytes, as the collector takes it; "" when the platform does not know.
std::string Client::device_info(int32_t what) const {
  const waymark_platform_t& p = options_->platform;
  char out[256];
  size_t len = 0;
  if (p.device_info == nullptr || p.device_info(what, out, sizeof out, &len, p.user_data) != WAYMARK_PLATFORM_OK) {
    return {};
  }
  return std::string(out, std::min(len, sizeof out));
}

void Client::log(int32_t level, std::string_view message) const {
  options_->platform.log(level, message.data(), message.size(), options_->platform.user_data);
}

Status Client::load_or_create_key(const char* name, uint8_t* out, size_t len, bool create_random) {
  const waymark_platform_t& p = options_->platform;
  size_t got = 0;
  const int32_t rc = p.keystore_get(key_scope_.c_str(), name, out, len, &got, p.user_data);
  if (rc == WAYMARK_PLATFORM_OK) {
    if (got != len) return Error(WAYMARK_ERR_KEYSTORE, std::string("keystore entry has the wrong size: ") + name);
    return Status::Ok();
  }
  if (rc != WAYMARK_PLATFORM_NOT_FOUND)
    return Error(WAYMARK_ERR_KEYSTORE, std::string("keystore read failed: ") + name);
  if (!create_random) return Error(WAYMARK_ERR_KEYSTORE, std::string("keystore entry missing: ") + name);
  if (Status s = random_->fill(out, len); !s.ok()) return s;
  if (p.keystore_put(key_scope_.c_str(), name, out, len, p.user_data) != WAYMARK_PLATFORM_OK) {
    return Error(WAYMARK_ERR_KEYSTORE, std::string("keystore write failed: ") + name);
  }
  return Status::Ok();
}

Status Client::init(bool* recovered) {
  key_scope_ = options_->store_path;
  random_ = std::make_unique<RandomPool>(options_->platform);
  auto pseudonymizer = Pseudonymizer::create(options_->brand_key.data(), options_->key_epoch);
  if (!pseudonymizer.ok()) return pseudonymizer.status();
  pseudonymizer_ = std::move(pseudonymizer.value());
  if (!device_sign_key_.valid()) return Error(WAYMARK_ERR_NO_MEMORY, "cannot allocate protected memory");

  // The store directory must exist before the POSIX keystore writes under it.
  OutboxConfig config{options_->store_path, options_->durability == WAYMARK_DURABILITY_DURABLE, options_->max_bytes,
                      options_->max_events, options_->max_age_ms};
  Secret<32> data_key;
  if (!data_key.valid()) return Error(WAYMARK_ERR_NO_MEMORY, "cannot allocate protected memory");
  if (Status s = Outbox::create_directory(config.dir); !s.ok()) return s;
  if (Status s = load_or_create_key("data_key", data_key.data(), 32, true); !s.ok()) return s;

  const waymark_platform_t& p = options_->platform;
  size_t got = 0;
  const int32_t rc = p.keystore_get(key_scope_.c_str(), "device_sign", device_sign_key_.data(), device_sign_key_.size(),
                                    &got, p.user_data);
  if (rc == WAYMARK_PLATFORM_NOT_FOUND) {
    crypto_sign_keypair(device_public_key_.data(), device_sign_key_.data());
    if (p.keystore_put(key_scope_.c_str(), "device_sign", device_sign_key_.data(), device_sign_key_.size(),
                       p.user_data) != WAYMARK_PLATFORM_OK) {
      return Error(WAYMARK_ERR_KEYSTORE, "keystore write failed: device_sign");
    }
  } else if (rc != WAYMARK_PLATFORM_OK || got != device_sign_key_.size()) {
    return Error(WAYMARK_ERR_KEYSTORE, "keystore read failed: device_sign");
  }
  crypto_sign_ed25519_sk_to_pk(device_public_key_.data(), device_sign_key_.data());

  auto opened = Outbox::open(config, data_key.data(), *random_);
  if (!opened.ok()) return opened.status();
  *recovered = opened->recovered;
  if (opened->recovered) log(WAYMARK_LOG_WARNING, "outbox was corrupt: moved aside, a fresh store was created");
  if (opened->unreadable > 0)
    log(WAYMARK_LOG_WARNING, "data key does not open the stored rows: rows dropped and counted");
  Outbox& outbox = *opened->outbox;

  if (options_->mode == WAYMARK_DEVICE_PERSONAL) {
    std::lock_guard lock(slot_mu_);
    if (Status s = new_personal_identity_locked(); !s.ok()) return s;
    if (!options_->child_mode) {
      auto records = outbox.load_consent(slot_->id);
      if (!records.ok()) return records.status();
      if (!replay_consent(records.value(), device_public_key_.data(), slot_->consent)) {
        log(WAYMARK_LOG_WARNING, "consent ledger failed verification: nothing is considered granted");
      }
    }
  }
  next_sequence_ = outbox.next_id();

  OutboxWriter::Config wc;
  wc.queue_capacity = static_cast<size_t>(options_->queue_capacity);
  wc.tick_ms = options_->idle_timeout_ms > 0 ? std::clamp<int64_t>(options_->idle_timeout_ms / 2, 20, 1000) : 1000;
  wc.now_ms = [this] { return wall_ms(); };
  wc.on_tick = [this] { on_tick(); };
  wc.on_commit = [this](int64_t rows) {
    if (Uploader* u = commit_hook_.load()) u->on_commit(rows);
  };
  writer_ = std::make_unique<OutboxWriter>(std::move(opened->outbox), std::move(wc));

  UploadConfig& up = options_->upload;
  if (!up.url.empty() || up.host_transport != nullptr) {
    if (up.collector_keys.empty()) {
      return Error(WAYMARK_ERR_INVALID_ARGUMENT, "uploading needs a collector public key (add_collector_key)");
    }
    up.app_id = options_->app_id;
    up.platform = device_info(WAYMARK_DEVICE_OS_NAME);
    up.os_version = device_info(WAYMARK_DEVICE_OS_VERSION);
    up.device_model = device_info(WAYMARK_DEVICE_MODEL);
    UploadSource source;
    source.device_secret_key = device_sign_key_.data();
    source.device_pseudonym = [this] {
      std::lock_guard lock(slot_mu_);
      return device_identifier_
                 ? std::vector<uint8_t>(device_identifier_->pseudonym.begin(), device_identifier_->pseudonym.end())
                 : std::vector<uint8_t>{};
    };
    source.wall_ms = [this] { return wall_ms(); };
    source.monotonic_ms = [this] { return monotonic_ms(); };
    source.network_reachable = [this] { return options_->platform.network_reachable(options_->platform.user_data); };
    source.log = [this](int32_t level, std::string_view m) { log(level, m); };
    auto uploader = Uploader::start(up, std::move(source), *writer_, *random_);
    if (!uploader.ok()) return uploader.status();
    uploader_ = std::move(uploader.value());
    commit_hook_ = uploader_.get();
  }
  return Status::Ok();
}

// Personal mode: the device's customer. The slot id and device id persist in the keystore,
// except in child mode where nothing persistent identifies the device. Reset by forget().
Status Client::new_personal_identity_locked(bool fresh) {
  slot_.reset();
  slot_.emplace();
  device_identifier_.reset();
  const bool persist = !options_->child_mode;
  if (fresh || !persist) {
    if (Status s = random_->fill(slot_->id.data(), slot_->id.size()); !s.ok()) return s;
  }
  std::array<uint8_t, 16> device_id{};
  WipeOnExit wipe(device_id);
  if (persist) {
    const waymark_platform_t& p = options_->platform;
    if (fresh) {
      if (Status s = random_->fill(device_id.data(), device_id.size()); !s.ok()) return s;
      if (p.keystore_put(key_scope_.c_str(), "personal_slot", slot_->id.data(), 16, p.user_data) != 0 ||
          p.keystore_put(key_scope_.c_str(), "device_id", device_id.data(), 16, p.user_data) != 0) {
        return Error(WAYMARK_ERR_KEYSTORE, "keystore write failed: identity");
      }
    } else {
      if (Status s = load_or_create_key("personal_slot", slot_->id.data(), 16, true); !s.ok()) return s;
      if (Status s = load_or_create_key("device_id", device_id.data(), 16, true); !s.ok()) return s;
    }
    NormalizedId id;
    if (!id.assign(to_hex(device_id.data(), device_id.size()))) return Error(WAYMARK_ERR_INTERNAL, "device id");
    device_identifier_ = IdentifierRef{WAYMARK_ID_DEVICE_ID, pseudonymizer_->epoch(),
                                       pseudonymizer_->pseudonymize(WAYMARK_ID_DEVICE_ID, id), true};
  }
  slot_->last_active_ms = monotonic_ms();
  return Status::Ok();
}

Client::Slot* Client::current_slot_locked() {
  if (options_->mode == WAYMARK_DEVICE_SHARED && slot_ && options_->idle_timeout_ms > 0 &&
      monotonic_ms() - slot_->last_active_ms >= options_->idle_timeout_ms) {
    slot_.reset();  // wipes identifiers and consent from memory
    log(WAYMARK_LOG_INFO, "customer slot ended after the idle timeout");
  }
  return slot_ ? &*slot_ : nullptr;
}

void Client::on_tick() {
  std::lock_guard lock(slot_mu_);
  current_slot_locked();
}

Status Client::make_row_locked(const EventDraft& draft, Slot& slot, const ConsentRecord* consent, OutboxRow* row) {
  EventStamp stamp;
  stamp.sequence = static_cast<uint64_t>(next_sequence_++);
  stamp.occurred_at_ms = wall_ms();
  stamp.monotonic_ms = monotonic_ms();
  auto id = make_uuid_v7(*random_, uuid_clock_, stamp.occurred_at_ms);
  if (!id.ok()) return id.status();
  stamp.id = id.value();
  stamp.consent_head = slot.consent.head;
  stamp.policy_version = slot.consent.policy_version;
  stamp.slot = slot.id;
  stamp.identifiers = slot.identifiers;
  if (device_identifier_) {
    IdentifierRef device = *device_identifier_;
    device.linking = options_->mode == WAYMARK_DEVICE_PERSONAL;  // a shared device id never links customers
    stamp.identifiers.push_back(device);
  }
  stamp.consent = consent;
  stamp.device_public_key = consent != nullptr ? device_public_key_.data() : nullptr;

  row->id = static_cast<int64_t>(stamp.sequence);
  row->event_id = stamp.id;
  row->slot = slot.id;
  row->purpose = draft.purpose;
  row->priority = priority_of(draft.type);
  row->created_ms = stamp.occurred_at_ms;
  row->plaintext = writer_->take_buffer();
  encode_event(draft, stamp, row->plaintext);
  for (IdentifierRef& ref : stamp.identifiers) sodium_memzero(ref.pseudonym.data(), ref.pseudonym.size());
  if (row->plaintext.size() > WAYMARK_MAX_EVENT_BYTES) {
    return Error(WAYMARK_ERR_TOO_LARGE, "encoded event exceeds WAYMARK_MAX_EVENT_BYTES");
  }
  slot.last_active_ms = stamp.monotonic_ms;
  return Status::Ok();
}

// A durable caller waits for its commit anyway: it seals its own row, in parallel with the other
// callers, and the writer thread (the ceiling of durable throughput) only inserts. An async caller
// returns at once, and the writer seals its row.
Status Client::seal_if_durable(OutboxRow& row) {
  if (options_->durability != WAYMARK_DURABILITY_DURABLE) return Status::Ok();
  row.sealed = writer_->take_buffer();
  return writer_->seal(row);
}

Status Client::enqueue_locked(const EventDraft& draft, Slot& slot, const ConsentRecord* consent, bool want_ticket,
                              OutboxWriter::Ticket* ticket) {
  OutboxRow row;
  if (Status s = make_row_locked(draft, slot, consent, &row); !s.ok()) return s;
  if (Status s = seal_if_durable(row); !s.ok()) return s;
  return writer_->enqueue_row(std::move(row), want_ticket, ticket);
}

Status Client::wait_all(const std::vector<OutboxWriter::Ticket>& tickets) {
  Status result = Status::Ok();
  for (const auto& t : tickets) {
    if (!t) continue;
    Status s = writer_->wait(t, kWaitMs);
    if (!s.ok() && result.ok()) result = s;
  }
  return result;
}

Status Client::record(const EventDraft& draft) {
  const bool durable = options_->durability == WAYMARK_DURABILITY_DURABLE;
  OutboxWriter::Ticket ticket;
  {
    std::lock_guard lock(slot_mu_);
    Slot* slot = current_slot_locked();
    if (slot == nullptr)
      return Error(WAYMARK_ERR_NO_CUSTOMER, "shared device: call waymark_client_begin_customer first");
    if (!slot->consent.granted[draft.purpose]) {
      writer_->add(Counters{.refused = 1});
      return Error(WAYMARK_DROPPED_NO_CONSENT, "the event's purpose is not consented; not stored");
    }
    // Enqueued under the slot lock, so a concurrent withdrawal's purge is ordered after it.
    if (Status s = enqueue_locked(draft, *slot, nullptr, durable, &ticket); !s.ok()) return s;
  }
  return durable ? writer_->wait(ticket, kWaitMs) : Status::Ok();
}

Status Client::record_batch(const EventDraft* const* drafts, size_t count, waymark_status_t* statuses) {
  const bool durable = options_->durability == WAYMARK_DURABILITY_DURABLE;
  OutboxWriter::Ticket ticket;
  int64_t refused = 0;
  {
    std::lock_guard lock(slot_mu_);
    Slot* slot = current_slot_locked();
    if (slot == nullptr)
      return Error(WAYMARK_ERR_NO_CUSTOMER, "shared device: call waymark_client_begin_customer first");
    std::vector<OutboxRow> rows;
    rows.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      if (!slot->consent.granted[drafts[i]->purpose]) {
        statuses[i] = WAYMARK_DROPPED_NO_CONSENT;
        ++refused;
        continue;
      }
      statuses[i] = WAYMARK_OK;
      if (Status s = make_row_locked(*drafts[i], *slot, nullptr, &rows.emplace_back()); !s.ok()) {
        return Error(s.code, "event " + std::to_string(i) + ": " + s.message);
      }
    }
    const UploadConfig& up = options_->upload;
    rows = pack_rows(std::move(rows), std::min(kRowMaxEvents, up.batch_max_events),
                     static_cast<size_t>(std::min(kRowMaxBytes, up.batch_max_bytes - Outbox::kSealOverhead)));
    for (OutboxRow& row : rows) {
      if (Status s = seal_if_durable(row); !s.ok()) return s;
    }
    // Enqueued under the slot lock, so a concurrent withdrawal's purge is ordered after them.
    if (!rows.empty()) {
      if (Status s = writer_->enqueue_rows(rows, durable, &ticket); !s.ok()) return s;
    }
  }
  if (durable && ticket) {
    if (Status s = writer_->wait(ticket, kWaitMs); !s.ok()) return s;
  }
  if (refused > 0) {  // counted once the call succeeds: a failed batch the caller retries counts once
    writer_->add(Counters{.refused = refused});
    return Error(WAYMARK_DROPPED_NO_CONSENT, std::to_string(refused) + " of " + std::to_string(count) +
                                                 " events not consented; not stored (the others are)");
  }
  return Status::Ok();
}

Status Client::pseudonymize(waymark_id_kind_t kind, std::string_view raw, Pseudonym& out) const {
  NormalizedId id;
  if (Status s = normalize_identifier(kind, raw, options_->normalizer, id); !s.ok()) return s;
  out = pseudonymizer_->pseudonymize(kind, id);
  return Status::Ok();
}

Status Client::identify(waymark_id_kind_t kind, std::string_view raw, std::span<const uint8_t> assertion) {
  if (options_->child_mode && (kind == WAYMARK_ID_DEVICE_ID || kind == WAYMARK_ID_COOKIE_ID)) {
    return Error(WAYMARK_ERR_NOT_ALLOWED, "child mode: persistent device and cookie ids are not collected");
  }
  IdentifierRef ref{static_cast<uint8_t>(kind), pseudonymizer_->epoch(), {}, true};
  if (Status s = pseudonymize(kind, raw, ref.pseudonym); !s.ok()) return s;
  ref.linking = !(kind == WAYMARK_ID_DEVICE_ID && options_->mode == WAYMARK_DEVICE_SHARED);
  const bool durable = options_->durability == WAYMARK_DURABILITY_DURABLE;
  OutboxWriter::Ticket ticket;
  {
    std::lock_guard lock(slot_mu_);
    Slot* slot = current_slot_locked();
    if (slot == nullptr)
      return Error(WAYMARK_ERR_NO_CUSTOMER, "shared device: call waymark_client_begin_customer first");
    const auto it = std::find_if(slot->identifiers.begin(), slot->identifiers.end(), [&](const IdentifierRef& r) {
      return r.kind == ref.kind && r.pseudonym == ref.pseudonym;
    });
    const auto index = static_cast<size_t>(it - slot->identifiers.begin());
    if (it == slot->identifiers.end()) {
      if (slot->identifiers.size() >= kMaxSlotIdentifiers) {
        return Error(WAYMARK_ERR_TOO_LARGE, "a customer may hold at most 32 identifiers");
      }
      slot->identifiers.push_back(ref);
    }
    sodium_memzero(ref.pseudonym.data(), ref.pseudonym.size());
    slot->last_active_ms = monotonic_ms();
    if (!slot->consent.granted[WAYMARK_PURPOSE_ANALYTICS]) {
      writer_->add(Counters{.refused = 1});
      return Error(WAYMARK_DROPPED_NO_CONSENT,
                   "identifier attached; identify event not stored without analytics consent");
    }
    EventDraft draft;
    draft.type = kEventTypeIdentify;
    draft.name = "identify";
    draft.identity_assertion.assign(assertion.begin(), assertion.end());
    draft.asserted_index = index;
    if (Status s = enqueue_locked(draft, *slot, nullptr, durable, &ticket); !s.ok()) return s;
  }
  return durable ? writer_->wait(ticket, kWaitMs) : Status::Ok();
}

std::array<uint8_t, 32> Client::device_key() const {
  return device_public_key_;  // set once, at open
}

Status Client::export_hashed(waymark_id_kind_t kind, waymark_export_format_t format, std::string_view raw, char* out,
                             size_t capacity, size_t* out_len) {
  {
    std::lock_guard lock(slot_mu_);
    Slot* slot = current_slot_locked();
    if (slot == nullptr)
      return Error(WAYMARK_ERR_NO_CUSTOMER, "shared device: call waymark_client_begin_customer first");
    if (options_->child_mode || !slot->consent.granted[WAYMARK_PURPOSE_ADVERTISING]) {
      return Error(WAYMARK_ERR_NOT_ALLOWED, "export needs the customer's advertising consent");
    }
  }
  return detail::export_hashed(kind, format, raw, options_->normalizer, out, capacity, out_len);
}

Status Client::set_consent(waymark_purpose_t purpose, bool granted, const std::string& policy_version) {
  if (!is_purpose(purpose)) return Error(WAYMARK_ERR_INVALID_ARGUMENT, "unknown purpose");
  if (options_->child_mode && purpose == WAYMARK_PURPOSE_ADVERTISING && granted) {
    return Error(WAYMARK_ERR_NOT_ALLOWED, "child mode: advertising consent can never be granted");
  }
  std::vector<OutboxWriter::Ticket> tickets(3);
  {
    std::lock_guard lock(slot_mu_);
    Slot* slot = current_slot_locked();
    if (slot == nullptr)
      return Error(WAYMARK_ERR_NO_CUSTOMER, "shared device: call waymark_client_begin_customer first");
    const ConsentRecord record = append_consent(slot->consent, slot->id, static_cast<uint8_t>(purpose), granted,
                                                wall_ms(), policy_version, device_sign_key_.data());
    if (Status s =
            writer_->enqueue_job([record](Outbox& o, Counters&) { return o.append_consent(record); }, &tickets[0]);
        !s.ok()) {
      return s;
    }
    if (!granted) {
      const SlotId id = slot->id;
      const auto p = static_cast<uint8_t>(purpose);
      if (Status s = writer_->enqueue_job([id, p](Outbox& o, Counters& delta) { return o.purge(id, p, &delta.purged); },
                                          &tickets[1]);
          !s.ok()) {
        return s;
      }
    }
    if (Status s = enqueue_locked(consent_draft(), *slot, &record, true, &tickets[2]); !s.ok()) return s;
  }
  // A consent change is confirmed only once it is on disk, in either durability mode.
  return wait_all(tickets);
}

Result<bool> Client::consent(waymark_purpose_t purpose) {
  if (!is_purpose(purpose)) return Error(WAYMARK_ERR_INVALID_ARGUMENT, "unknown purpose");
  std::lock_guard lock(slot_mu_);
  Slot* slot = current_slot_locked();
  if (slot == nullptr) return Error(WAYMARK_ERR_NO_CUSTOMER, "shared device: call waymark_client_begin_customer first");
  return slot->consent.granted[purpose];
}

Status Client::begin_customer() {
  if (options_->mode != WAYMARK_DEVICE_SHARED) {
    return Error(WAYMARK_ERR_INVALID_ARGUMENT, "customer slots exist only in shared device mode");
  }
  std::lock_guard lock(slot_mu_);
  slot_.reset();
  slot_.emplace();
  if (Status s = random_->fill(slot_->id.data(), slot_->id.size()); !s.ok()) {
    slot_.reset();
    return s;
  }
  slot_->last_active_ms = monotonic_ms();
  return Status::Ok();
}

Status Client::end_customer() {
  if (options_->mode != WAYMARK_DEVICE_SHARED) {
    return Error(WAYMARK_ERR_INVALID_ARGUMENT, "customer slots exist only in shared device mode");
  }
  std::lock_guard lock(slot_mu_);
  slot_.reset();
  return Status::Ok();
}

Status Client::forget(std::span<const uint8_t> erasure_token) {
  std::vector<OutboxWriter::Ticket> tickets(2);
  {
    std::lock_guard lock(slot_mu_);
    Slot* slot = current_slot_locked();
    if (slot == nullptr)
      return Error(WAYMARK_ERR_NO_CUSTOMER, "shared device: call waymark_client_begin_customer first");
    const SlotId id = slot->id;
    auto erase_local = [id](Outbox& o, Counters& delta) {
      Status s = o.purge(id, std::nullopt, &delta.purged);
      return s.ok() ? o.delete_consent(id) : s;
    };
    if (Status s = writer_->enqueue_job(erase_local, &tickets[0]); !s.ok()) return s;
    // The erasure request carries the customer's pseudonyms so the collector can find them.
    EventDraft draft;
    draft.type = kEventTypeErasure;
    draft.name = "forget";
    draft.purpose = kPurposeEssential;
    draft.erasure_token.assign(erasure_token.begin(), erasure_token.end());
    if (Status s = enqueue_locked(draft, *slot, nullptr, true, &tickets[1]); !s.ok()) return s;
    if (options_->mode == WAYMARK_DEVICE_PERSONAL) {
      if (Status s = new_personal_identity_locked(true); !s.ok()) return s;
    } else {
      slot_.reset();
    }
  }
  return wait_all(tickets);
}

Status Client::flush(int64_t timeout_ms) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t through = next_sequence_.load() - 1;  // everything recorded before this call
  if (Status s = writer_->flush(timeout_ms); !s.ok() || !uploader_) return s;
  const auto spent =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  return uploader_->wait_uploaded(through, timeout_ms - spent);
}

namespace {

// The segment endpoint beside the batch endpoint: ".../v1/batches" -> ".../v1/devices/segments".
// With a host transport and no URL, the path alone.
Result<std::string> segments_url(const std::string& batches_url) {
  constexpr std::string_view kBatches = "/v1/batches";
  if (batches_url.empty()) return std::string("/v1/devices/segments");
  if (batches_url.size() < kBatches.size() ||
      batches_url.compare(batches_url.size() - kBatches.size(), kBatches.size(), kBatches) != 0) {
    return Error(WAYMARK_ERR_INVALID_ARGUMENT,
                 "the collector URL must end in /v1/batches to find /v1/devices/segments");
  }
  return batches_url.substr(0, batches_url.size() - kBatches.size()) + "/v1/devices/segments";
}

}  // namespace

Result<SegmentListFields> Client::fetch_segments(int64_t timeout_ms) {
  const UploadConfig& up = options_->upload;
  if (up.url.empty() && up.host_transport == nullptr) {
    return Error(WAYMARK_ERR_INVALID_ARGUMENT, "no collector configured (collector URL or transport)");
  }
  auto base = segments_url(up.url);
  if (!base.ok()) return base.status();
  SegmentRequest request;
  request.device_public_key = device_public_key_;
  {
    std::lock_guard lock(slot_mu_);
    const Slot* slot = current_slot_locked();
    if (slot == nullptr) return Error(WAYMARK_ERR_NO_CUSTOMER, "no customer slot begun");
    request.slot = slot->id;
  }
  if (Status s = random_->fill(request.nonce.data(), request.nonce.size()); !s.ok()) return s;
  boost::asio::io_context ioc;
  auto transport = make_transport(ioc, up, base.value() + "?" + sign_segment_request(request, device_sign_key_.data()));
  if (!transport.ok()) return transport.status();
  std::optional<HttpResult> reply;
  transport.value()->post({}, [&reply](HttpResult r) { reply = std::move(r); });
  ioc.run_for(std::chrono::milliseconds(std::max<int64_t>(timeout_ms, 0)));
  if (!reply) {
    transport.value()->cancel();
    ioc.restart();
    ioc.run();  // lets the cancelled operations finish before the transport goes
    return Error(WAYMARK_ERR_TIMEOUT, "the collector did not answer the segment request in time");
  }
  if (!reply->status.ok()) return reply->status;
  if (reply->http_status == 404) {  // nothing of this slot has reached the collector yet
    SegmentListFields none;
    none.request = request;
    return none;
  }
  if (reply->http_status == 403) {
    return Error(WAYMARK_ERR_NOT_ALLOWED,
                 "the collector answers only for a customer this device proved: this customer was seen on other "
                 "devices, and this one holds no verified identifier of theirs (waymark_client_identify_verified)");
  }
  if (reply->http_status != 200) {
    return Error(WAYMARK_ERR_NETWORK, "collector answered HTTP " + std::to_string(reply->http_status));
  }
  return open_segment_list(reply->body.data(), reply->body.size(), request, device_sign_key_.data(), up.collector_keys);
}

void Client::notify_lifecycle(waymark_lifecycle_t event) {
  if (uploader_ && event != WAYMARK_LIFECYCLE_FOREGROUND) uploader_->trigger(true);
}

Result<int64_t> Client::stat(waymark_stat_t stat) const {
  const Counters c = writer_->counters();
  switch (stat) {
    case WAYMARK_STAT_QUEUED: return writer_->queued();
    case WAYMARK_STAT_BYTES: return writer_->bytes();
    case WAYMARK_STAT_DROPPED: return c.dropped;
    case WAYMARK_STAT_REFUSED: return c.refused;
    case WAYMARK_STAT_EVICTED: return c.evicted;
    case WAYMARK_STAT_UNREADABLE: return c.unreadable;
    case WAYMARK_STAT_PURGED: return c.purged;
    case WAYMARK_STAT_UPLOADED: return c.uploaded;
    case WAYMARK_STAT_DEAD_LETTERED: return c.dead_lettered;
    case WAYMARK_STAT_REJECTED: return c.rejected;
  }
  return Error(WAYMARK_ERR_INVALID_ARGUMENT, "unknown stat");
}

Status Client::close() {
  commit_hook_ = nullptr;
  if (uploader_) uploader_->stop();  // before the writer: it waits on writer jobs
  Status s = writer_ ? writer_->stop() : Status::Ok();
  std::lock_guard lock(slot_mu_);
  slot_.reset();
  return s;
}

}  // namespace waymark::detail
