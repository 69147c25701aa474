// The collector ingest benches' workload (collector_bench on SQLite, postgres_bench): 300k events in
// batches of 500 from one device, 3 random identifiers and one property each, sealed as the SDK seals.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <sodium.h>

#include "common/consent/ledger.hpp"
#include "ingest/ingest.hpp"
#include "common/wire/envelope.hpp"
#include "common/wire/event_codec.hpp"

namespace bench {

using namespace waymark::detail;

constexpr int kBatches = 600;
constexpr int kPerBatch = 500;

inline std::vector<std::vector<uint8_t>> make_envelopes(const uint8_t* device_sk, const uint8_t* device_pk,
                                                        const uint8_t* collector_pk) {
  std::array<uint8_t, 16> slot{};
  randombytes_buf(slot.data(), slot.size());
  ConsentState state;
  const ConsentRecord grant = append_consent(state, slot, WAYMARK_PURPOSE_ANALYTICS, true, 1, "v1", device_sk);
  std::vector<std::vector<uint8_t>> out;
  for (int b = 0; b < kBatches; ++b) {
    std::vector<std::vector<uint8_t>> events;
    for (int i = 0; i < kPerBatch; ++i) {
      EventDraft d;
      EventStamp st;
      randombytes_buf(st.id.data(), 16);
      st.id[0] = static_cast<uint8_t>(b >> 8);  // roughly time-ordered, as UUIDv7 ids are
      st.id[1] = static_cast<uint8_t>(b);
      st.sequence = static_cast<uint64_t>(b * kPerBatch + i + 1);
      st.slot = slot;
      st.consent_head = state.head;
      if (b == 0 && i == 0) {
        d = consent_draft();
        st.consent = &grant;
        st.device_public_key = device_pk;
      } else {
        d.name = "product_view";
        d.channel = WAYMARK_CHANNEL_APP;
        d.properties = {{"sku", Property::Kind::String, "SKU-" + std::to_string(i % 300)}};
        st.identifiers.resize(3);
        for (int k = 0; k < 3; ++k) {
          st.identifiers[static_cast<size_t>(k)].kind = static_cast<uint8_t>(k + 1);
          randombytes_buf(st.identifiers[static_cast<size_t>(k)].pseudonym.data(), 32);
        }
      }
      std::vector<uint8_t> e;
      encode_event(d, st, e);
      events.push_back(std::move(e));
    }
    BatchHeader h;
    randombytes_buf(h.batch_id.data(), 16);
    h.sequence = static_cast<uint64_t>(b + 1);
    h.app_id = "bench";
    out.push_back(seal_envelope(encode_batch(h, events), device_sk, collector_pk, 1).value());
  }
  return out;
}

// A collector key (id 1) and the workload a fresh device sealed to it.
struct SealedWorkload {
  waymark::collector::CollectorKey key;
  std::vector<std::vector<uint8_t>> envelopes;
};
inline SealedWorkload sealed_workload() {
  SealedWorkload w;
  uint8_t device_pk[32], device_sk[64], collector_pk[32];
  crypto_sign_keypair(device_pk, device_sk);
  w.key.key_id = 1;
  crypto_sign_keypair(collector_pk, w.key.secret.data());
  w.envelopes = make_envelopes(device_sk, device_pk, collector_pk);
  return w;
}

}  // namespace bench
