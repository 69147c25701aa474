// Consent ledger: per customer slot, an append-only chain of records, each hashed over its
// canonical bytes and the previous record's hash, and signed by the device's Ed25519 key.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "common/event.hpp"

namespace waymark::detail {

inline constexpr size_t kPurposeCount = 4;  // Essential + analytics, personalisation, advertising

struct ConsentState {
  std::array<bool, kPurposeCount> granted{};  // [0] (essential) is unused
  std::array<uint8_t, 32> head{};             // hash of the last record (zeros: none)
  uint64_t seq = 0;
  std::string policy_version;
};

// Builds the next record after `state`, signs it and applies it to `state`.
ConsentRecord append_consent(ConsentState& state, const std::array<uint8_t, 16>& slot, uint8_t purpose, bool granted,
                             int64_t time_ms, const std::string& policy_version, const uint8_t* device_secret_key);

// True when the record's hash covers its fields and the device key signed it (the collector
// checks every consent record it receives this way).
bool verify_consent_record(const ConsentRecord& record, const uint8_t* device_public_key);

// Replays stored records into a state. Returns false (and a state with nothing granted) if
// the chain is broken or a signature does not verify: consent fails closed.
bool replay_consent(const std::vector<ConsentRecord>& records, const uint8_t* device_public_key, ConsentState& out);

}  // namespace waymark::detail
