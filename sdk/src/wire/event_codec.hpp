// FlatBuffers encoding of one event (schemas/wire/v1/event.fbs).
#pragma once

#include <cstdint>
#include <vector>

#include "core/event.hpp"

namespace waymark::detail {

std::vector<uint8_t> encode_event(const EventDraft& draft, const EventStamp& stamp);

// True when `bytes` is a well-formed v1 Event within the verifier's depth/table limits.
bool verify_event(const uint8_t* bytes, size_t len);

}  // namespace waymark::detail
