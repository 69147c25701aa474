// The event model both sides share: the draft behind waymark_event_t, and the stamp the SDK puts on it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/crypto/secure.hpp"
#include "common/identity/pseudonymizer.hpp"
#include "waymark/waymark.h"

namespace waymark::detail {

// Values of the wire enums (schemas/wire/v1/event.fbs) that the C ABI does not expose.
inline constexpr uint8_t kEventTypeIdentify = 2;
inline constexpr uint8_t kEventTypeConsent = 5;
inline constexpr uint8_t kEventTypeErasure = 7;
inline constexpr uint8_t kPurposeEssential = 0;

struct Property {
  enum class Kind : uint8_t { String = 0, Int, Double, Bool };
  std::string key;
  Kind kind = Kind::String;
  std::string s;
  int64_t i = 0;
  double d = 0;
  bool b = false;
};

struct Revenue {
  int64_t amount_minor = 0;
  std::string currency;
};

struct Campaign {
  std::string source, medium, name, content;
};

struct EventDraft {
  uint8_t type = WAYMARK_EVENT_TRACK;
  std::string name;
  uint8_t channel = WAYMARK_CHANNEL_UNKNOWN;
  uint8_t purpose = WAYMARK_PURPOSE_ANALYTICS;
  std::vector<Property> properties;
  std::optional<Revenue> revenue;
  std::optional<Campaign> campaign;
  std::vector<uint8_t> erasure_token;  // type Erasure only: the brand's signed token, or empty
  // type Identify only: the brand's identity assertion for the stamp's identifier at this index.
  std::vector<uint8_t> identity_assertion;
  size_t asserted_index = 0;
};

// The draft of a consent record's event (its change travels in the stamp's `consent`).
inline EventDraft consent_draft() {
  EventDraft d;
  d.type = kEventTypeConsent;
  d.name = "consent";
  d.purpose = kPurposeEssential;
  return d;
}

struct IdentifierRef {
  uint8_t kind = 0;
  uint32_t epoch = 0;
  Pseudonym pseudonym{};
  bool linking = true;
};

struct ConsentRecord {
  std::array<uint8_t, 16> slot{};
  uint64_t seq = 0;
  uint8_t purpose = 0;
  bool granted = false;
  int64_t time_ms = 0;
  std::string policy_version;
  std::array<uint8_t, 32> prev_hash{};
  std::array<uint8_t, 32> hash{};
  std::array<uint8_t, 64> signature{};
};

// Everything stamped onto an event when it is recorded.
struct EventStamp {
  Uuid id{};
  uint64_t sequence = 0;
  int64_t occurred_at_ms = 0;
  int64_t monotonic_ms = 0;
  std::array<uint8_t, 32> consent_head{};
  std::string policy_version;
  std::array<uint8_t, 16> slot{};
  std::vector<IdentifierRef> identifiers;
  const ConsentRecord* consent = nullptr;      // type Consent only
  const uint8_t* device_public_key = nullptr;  // 32 bytes, with `consent`
};

}  // namespace waymark::detail
