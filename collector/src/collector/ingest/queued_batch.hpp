// A verified batch as an ingest node puts it on the queue and the merger takes it off (issue 21):
// what the verify stage learnt (which collector key opened it, when it arrived, the device's key, which
// identifiers came with a valid identity assertion) and the opened batch itself. Little-endian:
//   "WMQ1" | key_id u32 | received_ms i64 | device_key [32] | n u32 | asserted u64 × n | batch bytes
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "collector/store/store.hpp"

namespace waymark::collector {

struct QueuedBatch {
  uint32_t key_id = 0;
  int64_t received_ms = 0;
  Key32 device_key{};
  std::vector<uint64_t> asserted;   // per event: bit j set when its identifier j was asserted
  std::span<const uint8_t> batch;   // the opened, verified Batch buffer
};

Bytes encode_queued_batch(const QueuedBatch& q);
// Views into `message`; nothing when it is not one (truncated, another format).
std::optional<QueuedBatch> decode_queued_batch(std::span<const uint8_t> message);

}  // namespace waymark::collector
