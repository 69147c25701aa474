// A verified batch as an ingest node puts it on the queue and the merger takes it off (issue 21):
// what the verify stage learnt (which collector key opened it, when it arrived, the device's key, which
// identifiers came with a valid identity assertion) and the opened batch itself.
//
// The queue's store is a disk outside the collector's database, and an opened batch holds the SDK's
// pseudonyms before the collector re-keys them: in the clear they could be dictionary-attacked with
// the brand key any app install holds. So each message is sealed (XChaCha20-Poly1305, a random
// nonce) with a key derived from the collector's re-key secret, which only the collector's roles hold;
// a message that does not open (damaged, or not written by them) is refused whole.
//   plain: "WMQ1" | key_id u32 | received_ms i64 | device_key [32] | n u32 | asserted u64 × n | batch
//   message: nonce [24] | secretbox(plain)
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "store/store.hpp"

namespace waymark::collector {

struct QueuedBatch {
  uint32_t key_id = 0;
  int64_t received_ms = 0;
  Key32 device_key{};
  std::vector<uint64_t> asserted;  // per event: bit j set when its identifier j was asserted
  Bytes batch;                     // the opened, verified Batch buffer
};

// The queue's sealing key (32 bytes into `key`), from the collector's re-key secret (32 bytes).
void derive_queue_key(const uint8_t* rekey_secret, uint8_t* key);

Bytes seal_queued_batch(const QueuedBatch& q, const uint8_t* key);
// Nothing when the message does not open with `key` or is not a queued batch.
std::optional<QueuedBatch> open_queued_batch(std::span<const uint8_t> message, const uint8_t* key);

}  // namespace waymark::collector
