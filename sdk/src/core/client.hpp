// The SDK client: customer slots, consent gate, identifiers, and the writer behind them.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/consent/ledger.hpp"
#include "common/event.hpp"
#include "common/identity/normalizer.hpp"
#include "common/identity/pseudonymizer.hpp"
#include "store/writer.hpp"
#include "sync/uploader.hpp"

namespace waymark::detail {

struct ClientOptions {
  std::string store_path;
  std::string app_id;
  Secret<32> brand_key;
  bool has_brand_key = false;
  uint32_t key_epoch = 0;
  waymark_device_mode_t mode = WAYMARK_DEVICE_PERSONAL;
  waymark_durability_t durability = WAYMARK_DURABILITY_ASYNC;
  int64_t max_bytes = 64LL << 20, max_events = 1000000, max_age_ms = 30LL * 24 * 3600 * 1000;
  int64_t queue_capacity = 10000;
  int64_t idle_timeout_ms = 120000;
  NormalizerConfig normalizer;
  bool child_mode = false;
  waymark_platform_t platform{};
  UploadConfig upload;  // url/transport empty: queue only
};

class Client {
 public:
  // Opens the store and keys; `*recovered` is set when a corrupt store was replaced.
  static Result<std::unique_ptr<Client>> open(std::unique_ptr<ClientOptions> options, bool* recovered);
  ~Client();

  Status record(const EventDraft& draft);
  // Records `count` drafts as one unit (one commit). `statuses` (count entries) receives each
  // draft's outcome: OK or DROPPED_NO_CONSENT. Fails as a whole, storing none of them.
  Status record_batch(const EventDraft* const* drafts, size_t count, waymark_status_t* statuses);
  // `assertion`: the brand's identity assertion for this identifier and this device, or empty.
  Status identify(waymark_id_kind_t kind, std::string_view raw, std::span<const uint8_t> assertion = {});
  // The device's Ed25519 public key, which identity assertions name.
  std::array<uint8_t, 32> device_key() const;
  Status pseudonymize(waymark_id_kind_t kind, std::string_view raw, Pseudonym& out) const;
  Status export_hashed(waymark_id_kind_t kind, waymark_export_format_t format, std::string_view raw, char* out,
                       size_t capacity, size_t* out_len);
  Status set_consent(waymark_purpose_t purpose, bool granted, const std::string& policy_version);
  Result<bool> consent(waymark_purpose_t purpose);
  Status begin_customer();
  Status end_customer();
  // `erasure_token`: the brand's signed token for a whole-customer erasure, or empty.
  Status forget(std::span<const uint8_t> erasure_token = {});
  Status flush(int64_t timeout_ms);
  // The current customer's segments from the collector's signed, sealed list (blocks up to
  // `timeout_ms`). Empty when the collector knows nothing of this slot yet or the slot has not
  // granted personalisation.
  Result<SegmentListFields> fetch_segments(int64_t timeout_ms);
  Result<int64_t> stat(waymark_stat_t stat) const;
  // The collector's last refusal of a batch since open (http_status 0: none, or no collector).
  Rejection last_rejection() const { return uploader_ ? uploader_->last_rejection() : Rejection{}; }
  void notify_lifecycle(waymark_lifecycle_t event);
  Status close();

 private:
  struct Slot {
    SlotId id{};
    std::vector<IdentifierRef> identifiers;
    ConsentState consent;
    int64_t last_active_ms = 0;
    Slot();  // declared, so clang can tell std::optional<Slot> is constructible inside Client
    ~Slot();
  };

  explicit Client(std::unique_ptr<ClientOptions> options);
  Status init(bool* recovered);
  Status load_or_create_key(const char* name, uint8_t* out, size_t len, bool create_random);
  int64_t wall_ms() const;
  int64_t monotonic_ms() const;
  void log(int32_t level, std::string_view message) const;
  std::string device_info(int32_t what) const;
  // The current slot, ending it first if it sat idle too long (shared mode). Caller holds slot_mu_.
  Slot* current_slot_locked();
  Status new_personal_identity_locked(bool fresh = false);
  // Stamps, encodes and queues an event of the locked slot; the ticket is set when the caller must wait.
  // The sealed-to-be outbox row of `draft`, stamped for `slot` (slot lock held).
  Status make_row_locked(const EventDraft& draft, Slot& slot, const ConsentRecord* consent, OutboxRow* row);
  Status seal_if_durable(OutboxRow& row);
  Status enqueue_locked(const EventDraft& draft, Slot& slot, const ConsentRecord* consent, bool want_ticket,
                        OutboxWriter::Ticket* ticket);
  Status wait_all(const std::vector<OutboxWriter::Ticket>& tickets);
  void on_tick();

  std::unique_ptr<ClientOptions> options_;
  std::string key_scope_;
  std::unique_ptr<RandomPool> random_;
  std::unique_ptr<Pseudonymizer> pseudonymizer_;
  Secret<crypto_sign_SECRETKEYBYTES> device_sign_key_;
  std::array<uint8_t, crypto_sign_PUBLICKEYBYTES> device_public_key_{};
  std::optional<IdentifierRef> device_identifier_;
  std::unique_ptr<OutboxWriter> writer_;
  std::unique_ptr<Uploader> uploader_;
  std::atomic<Uploader*> commit_hook_{nullptr};  // read by the writer thread
  std::atomic<int64_t> next_sequence_{1};

  mutable std::mutex slot_mu_;  // guards the slot, device identifier and uuid clock
  std::optional<Slot> slot_;
  UuidClock uuid_clock_;
};

}  // namespace waymark::detail
