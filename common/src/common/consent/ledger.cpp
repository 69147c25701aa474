#include "common/consent/ledger.hpp"

#include <cstring>

#include <sodium.h>

namespace waymark::detail {

namespace {

std::array<uint8_t, 32> record_hash(const ConsentRecord& r) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  const auto put = [&](const void* p, size_t n) { crypto_generichash_update(&st, static_cast<const uint8_t*>(p), n); };
  uint8_t le[8];
  const auto put_u64 = [&](uint64_t v) {
    for (int i = 0; i < 8; ++i) le[i] = static_cast<uint8_t>(v >> (8 * i));
    put(le, 8);
  };
  put("WMCL1", 5);
  put(r.slot.data(), r.slot.size());
  put_u64(r.seq);
  put(&r.purpose, 1);
  const uint8_t granted = r.granted ? 1 : 0;
  put(&granted, 1);
  put_u64(static_cast<uint64_t>(r.time_ms));
  put_u64(r.policy_version.size());
  put(r.policy_version.data(), r.policy_version.size());
  put(r.prev_hash.data(), r.prev_hash.size());
  std::array<uint8_t, 32> out{};
  crypto_generichash_final(&st, out.data(), out.size());
  return out;
}

void apply(ConsentState& state, const ConsentRecord& r) {
  if (r.purpose < kPurposeCount) state.granted[r.purpose] = r.granted;
  state.head = r.hash;
  state.seq = r.seq;
  state.policy_version = r.policy_version;
}

}  // namespace

ConsentRecord append_consent(ConsentState& state, const std::array<uint8_t, 16>& slot, uint8_t purpose, bool granted,
                             int64_t time_ms, const std::string& policy_version, const uint8_t* device_secret_key) {
  ConsentRecord r;
  r.slot = slot;
  r.seq = state.seq + 1;
  r.purpose = purpose;
  r.granted = granted;
  r.time_ms = time_ms;
  r.policy_version = policy_version;
  r.prev_hash = state.head;
  r.hash = record_hash(r);
  crypto_sign_detached(r.signature.data(), nullptr, r.hash.data(), r.hash.size(), device_secret_key);
  apply(state, r);
  return r;
}

bool verify_consent_record(const ConsentRecord& r, const uint8_t* device_public_key) {
  return record_hash(r) == r.hash &&
         crypto_sign_verify_detached(r.signature.data(), r.hash.data(), r.hash.size(), device_public_key) == 0;
}

bool replay_consent(const std::vector<ConsentRecord>& records, const uint8_t* device_public_key, ConsentState& out) {
  ConsentState state;
  for (const ConsentRecord& r : records) {
    const bool linked = r.seq == state.seq + 1 && r.prev_hash == state.head;
    if (!linked || !verify_consent_record(r, device_public_key)) {
      out = ConsentState{};
      out.head = state.head;         // new records chain on from the last valid one
      out.seq = records.back().seq;  // never reuse a stored sequence number
      return false;
    }
    apply(state, r);
  }
  out = state;
  return true;
}

}  // namespace waymark::detail
