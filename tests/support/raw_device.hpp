// A device made by hand, for what an honest SDK never sends: its own Ed25519 key, one customer slot
// with signed consent, and events of any shape, sealed to a test collector like a real batch.
#pragma once

#include <optional>

#include <sodium.h>

#include "common/consent/ledger.hpp"
#include "support/collector_fixture.hpp"
#include "support/http_client.hpp"
#include "common/wire/envelope.hpp"
#include "common/wire/event_codec.hpp"

namespace waymark::test {

struct RawDevice {
  std::array<uint8_t, 32> pk{};
  std::array<uint8_t, 64> sk{};
  std::array<uint8_t, 16> slot{};
  uint64_t sequence = 0;
  detail::ConsentState consent;

  RawDevice() {
    crypto_sign_keypair(pk.data(), sk.data());
    randombytes_buf(slot.data(), slot.size());
  }

  // A signed consent record granting `purpose` to the slot.
  std::vector<uint8_t> grant(uint8_t purpose = WAYMARK_PURPOSE_ANALYTICS) {
    const detail::ConsentRecord r = detail::append_consent(consent, slot, purpose, true, 1000, "1", sk.data());
    const detail::EventDraft draft = detail::consent_draft();
    detail::EventStamp stamp = stamp_for({});
    stamp.consent = &r;
    stamp.device_public_key = pk.data();
    std::vector<uint8_t> out;
    detail::encode_event(draft, stamp, out);
    return out;
  }

  // An analytics event carrying `identifiers` (kind, pseudonym; all linking).
  std::vector<uint8_t> event(const std::string& name, const std::vector<detail::IdentifierRef>& identifiers = {},
                             detail::EventDraft draft = {}) {
    draft.name = name;
    std::vector<uint8_t> out;
    detail::encode_event(draft, stamp_for(identifiers), out);
    return out;
  }

  // The next batch in sequence, or one with the given `seq` (the device's own count unchanged).
  std::vector<uint8_t> seal(const Collector& c, const std::vector<std::vector<uint8_t>>& events,
                            std::array<uint8_t, 16>* batch_id = nullptr, std::optional<uint64_t> seq = {}) {
    detail::BatchHeader h;
    randombytes_buf(h.batch_id.data(), 16);
    if (batch_id != nullptr) *batch_id = h.batch_id;
    h.sequence = seq ? *seq : ++sequence;
    h.app_id = "raw-device";
    return detail::seal_envelope(detail::encode_batch(h, events), sk.data(), c.public_key.data(), c.key.key_id).value();
  }

  Reply send(const Collector& c, const std::vector<std::vector<uint8_t>>& events) {
    return request(c.server->port(), http::verb::post, "/v1/batches", seal(c, events));
  }

 private:
  detail::EventStamp stamp_for(const std::vector<detail::IdentifierRef>& identifiers) {
    detail::EventStamp stamp;
    randombytes_buf(stamp.id.data(), 16);
    stamp.slot = slot;
    stamp.occurred_at_ms = 1'700'000'000'000;
    stamp.consent_head = consent.head;
    stamp.identifiers = identifiers;
    return stamp;
  }
};

// `n` identifiers of `kind` with random pseudonyms.
inline std::vector<detail::IdentifierRef> random_identifiers(size_t n, uint8_t kind = WAYMARK_ID_CUSTOM) {
  std::vector<detail::IdentifierRef> out(n);
  for (auto& id : out) {
    id.kind = kind;
    randombytes_buf(id.pseudonym.data(), id.pseudonym.size());
  }
  return out;
}

}  // namespace waymark::test
