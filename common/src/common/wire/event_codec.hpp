// FlatBuffers encoding of one event (schemas/wire/v1/event.fbs).
#pragma once

#include <cstdint>
#include <vector>

#include "common/event.hpp"

namespace waymark::detail {

// Replaces the content of `out` (its capacity is reused) with the encoded event.
void encode_event(const EventDraft& draft, const EventStamp& stamp, std::vector<uint8_t>& out);

// True when `bytes` is a well-formed v1 Event within the verifier's depth/table limits.
bool verify_event(const uint8_t* bytes, size_t len);

}  // namespace waymark::detail
