// POST /v1/batches: size limit -> open sealed box -> verify signature -> FlatBuffers Verifier
// -> replay check -> consent check of every event (fail closed) -> dedupe by event id forever
// -> re-key pseudonyms -> one transaction -> signed receipt. Ack only after commit.
#pragma once

#include <string>
#include <vector>

#include "crypto/secure.hpp"
#include "ingest/metrics.hpp"
#include "store/store.hpp"

namespace waymark::collector {

struct CollectorKey {
  uint32_t key_id = 0;
  std::array<uint8_t, 64> secret{};  // Ed25519; sealing uses its X25519 form
  int64_t retire_at_ms = INT64_MAX;  // after a rotation: batches sealed to it are refused from then on
};

// What one batch and one event may hold. An honest SDK stays inside WAYMARK_MAX_* (waymark.h); a
// device that sends more has its event refused with a counted reason, and the store stays small.
struct IngestLimits {
  size_t max_batch_bytes = 16u << 20;  // decompressed; `serve` sets max-decompressed-ratio × max-body-bytes
  size_t max_identifiers = 32;         // per event (a customer holds at most 32 on the device)
  size_t max_properties = 64;          // WAYMARK_MAX_PROPERTIES
  size_t max_event_bytes = 65536;      // WAYMARK_MAX_EVENT_BYTES, the encoded event
};

struct IngestResponse {
  int http_status = 200;
  Bytes body;
  std::string reason;  // metric reason for a rejection; "" when accepted
  int retry_after_s = -1;
};

// What the store keeps of an SDK pseudonym: BLAKE2b(pseudonym, key = the server's re-key secret).
// Ingest, the query API and the blocklist all re-key through this one function.
Key32 rekey_pseudonym(const uint8_t* sdk_pseudonym, const uint8_t* rekey_secret);

class Ingest {
 public:
  // `rekey_secret` (32 bytes) re-keys every pseudonym: a stolen database plus the brand key
  // still cannot be dictionary-attacked.
  Ingest(Store& store, std::vector<CollectorKey> keys, const uint8_t* rekey_secret, Metrics& metrics,
         IngestLimits limits = {});
  IngestResponse handle(const uint8_t* body, size_t len, int64_t now_ms);

 private:
  Store& store_;
  std::vector<CollectorKey> keys_;
  detail::Secret<32> rekey_;
  Metrics& metrics_;
  IngestLimits limits_;
};

}  // namespace waymark::collector
