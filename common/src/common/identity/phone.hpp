// Phone numbers to E.164. With WAYMARK_WITH_LIBPHONENUMBER, any national or international
// notation is parsed with the default region; without it only E.164 input is accepted.
#pragma once

#include <string>

#include "common/status.hpp"
#include "common/identity/normalizer.hpp"

namespace waymark::detail {

// Replaces `id` (trimmed input) with its E.164 form ("+447700900123").
Status normalize_phone(NormalizedId& id, const std::string& default_region);

}  // namespace waymark::detail
