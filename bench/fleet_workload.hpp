// A fleet's batches (fleet_bench, cluster_bench): what users run, many devices with small batches.
// Each device seals a consent record, then app views carrying its device id and, after a login, an email.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <sodium.h>

#include "common/consent/ledger.hpp"
#include "common/wire/envelope.hpp"
#include "common/wire/event_codec.hpp"

namespace bench {

using namespace waymark::detail;

constexpr int kBatchesPerDevice = 15, kEventsPerBatch = 20;

// One device's batches, sealed ahead of the timed run: a consent record, then app views carrying
// its device id and, after a login, an email.
inline std::vector<std::vector<uint8_t>> device_batches(const std::array<uint8_t, 32>& collector_pk, int device,
                                                        uint64_t* id_counter) {
  uint8_t pk[32], sk[64];
  crypto_sign_keypair(pk, sk);
  std::array<uint8_t, 16> slot{};
  randombytes_buf(slot.data(), slot.size());
  ConsentState state;
  const ConsentRecord grant = append_consent(state, slot, WAYMARK_PURPOSE_ANALYTICS, true, 1, "v1", sk);
  std::array<IdentifierRef, 2> ids{};
  ids[0].kind = WAYMARK_ID_DEVICE_ID;
  ids[1].kind = WAYMARK_ID_EMAIL;
  for (auto& id : ids) randombytes_buf(id.pseudonym.data(), 32);
  std::vector<std::vector<uint8_t>> out;
  for (int b = 0; b < kBatchesPerDevice; ++b) {
    std::vector<std::vector<uint8_t>> events;
    for (int i = 0; i < kEventsPerBatch; ++i) {
      EventDraft d;
      EventStamp st;
      const uint64_t n = ++*id_counter;  // time-ordered across the fleet, as UUIDv7 ids are
      for (int k = 0; k < 8; ++k) st.id[static_cast<size_t>(k)] = static_cast<uint8_t>(n >> (56 - 8 * k));
      randombytes_buf(st.id.data() + 8, 8);
      st.slot = slot;
      st.consent_head = state.head;
      if (b == 0 && i == 0) {
        d = consent_draft();
        st.consent = &grant;
        st.device_public_key = pk;
      } else {
        d.name = "app_view";
        d.channel = WAYMARK_CHANNEL_APP;
        d.properties = {{"screen", Property::Kind::String, "screen-" + std::to_string((device + i) % 40)}};
        st.identifiers.assign(ids.begin(), ids.begin() + (b * kEventsPerBatch + i > 30 ? 2 : 1));
      }
      std::vector<uint8_t> e;
      encode_event(d, st, e);
      events.push_back(std::move(e));
    }
    BatchHeader h;
    randombytes_buf(h.batch_id.data(), 16);
    h.sequence = static_cast<uint64_t>(b + 1);
    h.app_id = "fleet-bench";
    h.platform = "linux";
    out.push_back(seal_envelope(encode_batch(h, events), sk, collector_pk.data(), 1).value());
  }
  return out;
}

}  // namespace bench
