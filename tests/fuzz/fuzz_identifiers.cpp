// Every identifier kind's normaliser (ICU NFC, libphonenumber, junk rules) on arbitrary bytes: the
// first byte picks the kind and options, the rest is the value.
#include <string_view>

#include "common/identity/normalizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  waymark::detail::NormalizerConfig config;
  config.gmail_rules = (data[0] & 0x80) != 0;
  config.default_region = (data[0] & 0x40) != 0 ? "GB" : "US";
  const auto kind = static_cast<waymark_id_kind_t>(1 + (data[0] & 0x0f) % 11);
  waymark::detail::NormalizedId out;
  const std::string_view value(reinterpret_cast<const char*>(data + 1), size - 1);
  if (waymark::detail::normalize_identifier(kind, value, config, out).ok()) {
    (void)waymark::detail::is_junk(kind, out.view());
  }
  return 0;
}
