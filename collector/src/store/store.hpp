// The collector's store, behind one interface so PostgreSQL can follow without changing callers.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"

namespace waymark::collector {

using detail::Result;
using detail::Status;
using Bytes = std::vector<uint8_t>;
using Key32 = std::array<uint8_t, 32>;

struct StoredIdentifier {
  uint8_t kind = 0;
  Key32 pseudonym{};  // already re-keyed with the server secret
  bool linking = true;
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
  std::string campaign_source, campaign_medium, campaign_name;
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
  std::vector<StoredEvent> events;  // new events only
  std::vector<ConsentUpdate> consent;
  // Erasure requests (the SDK's forget): every event carrying one of these re-keyed linking
  // pseudonyms, and every event of these customer slots, is deleted; the pseudonyms are
  // tombstoned so no later batch can bring them back.
  std::vector<Key32> erase_pseudonyms;
  std::vector<Bytes> erase_slots;
  Bytes receipt;  // returned again for a resent batch
};

enum class ReplayCheck { New, KnownBatch, SequenceNotIncreasing };

class Store {
 public:
  virtual ~Store() = default;
  // The stored receipt when `batch_id` was already acknowledged.
  virtual Result<std::optional<Bytes>> receipt_for(const Bytes& batch_id) = 0;
  virtual Result<ReplayCheck> check_sequence(const Key32& device_key, uint64_t sequence) = 0;
  // Which of these event ids are already stored (dedupe is forever, not a window).
  virtual Result<std::vector<bool>> known_events(const std::vector<Bytes>& event_ids) = 0;
  virtual Result<bool> consent_granted(const Bytes& slot, uint8_t purpose) = 0;
  virtual Result<bool> tombstoned(const Key32& pseudonym) = 0;
  virtual Status commit(const BatchWrite& write) = 0;
  virtual Result<int64_t> event_count() = 0;
};

// SQLite: WAL, migrations, one writer connection (callers serialise through the store).
// `busy_timeout_ms`: how long a commit waits for a lock before the store reports itself unavailable.
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, int busy_timeout_ms = 5000);

}  // namespace waymark::collector
