// Export adapter: the plain SHA-256 forms ad platforms ask for (UID2, Meta, Google). These
// are dictionary-attackable by anyone, so they exist only here, behind advertising consent,
// and are never stored or sent by the SDK itself.
#pragma once

#include <string_view>

#include "common/status.hpp"
#include "common/identity/normalizer.hpp"

namespace waymark::detail {

// Writes the NUL-terminated hash string into out[0..capacity) and its length to *out_len.
Status export_hashed(waymark_id_kind_t kind, waymark_export_format_t format, std::string_view raw,
                     const NormalizerConfig& config, char* out, size_t capacity, size_t* out_len);

}  // namespace waymark::detail
