// Feeds a collector store directly, bypassing envelopes and ingest checks: for tests and benches of
// what the store does with events (identity resolution, reports).
#pragma once

#include <sodium.h>

#include "store/store.hpp"

namespace waymark::test {

// A time-ordered 16-byte event id (a counter in the first 8 bytes, as UUIDv7 ids are).
inline collector::Bytes ordered_event_id(uint64_t n) {
  collector::Bytes id(16);
  for (size_t i = 0; i < 8; ++i) id[i] = static_cast<uint8_t>(n >> (56 - 8 * i));
  randombytes_buf(id.data() + 8, 8);
  return id;
}

// Commits `events` (and `consent`) as one batch of a new device on `platform`; its id goes to `*batch_id`.
inline collector::Status commit_events(collector::Store& store, std::vector<collector::StoredEvent> events,
                                       std::vector<collector::ConsentUpdate> consent = {},
                                       collector::Bytes* batch_id = nullptr, int64_t received_ms = 0,
                                       const std::string& platform = "") {
  auto r = store.ingest([&](collector::IngestTxn&, collector::BatchWrite& w) -> collector::Result<bool> {
    w.batch_id.resize(16);
    randombytes_buf(w.batch_id.data(), 16);
    randombytes_buf(w.device_key.data(), w.device_key.size());
    w.sequence = 1;
    w.received_ms = received_ms;
    w.source.platform = platform;
    w.receipt = {1};
    w.events = std::move(events);
    w.consent = std::move(consent);
    if (batch_id != nullptr) *batch_id = w.batch_id;
    return true;
  });
  return r.ok() ? collector::Status::Ok() : r.status();
}

}  // namespace waymark::test
