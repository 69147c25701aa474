// Identifier normalisation (versioned rules, docs/identifiers.md). Raw input is only ever
// held in fixed buffers that are wiped when a NormalizedId or a working buffer dies.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.hpp"
#include "waymark/waymark.h"

namespace waymark::detail {

// Version of the normalisation rules; travels with every pseudonym.
inline constexpr uint8_t kNormalizationVersion = 1;

struct NormalizerConfig {
  std::string default_region = "US";
  bool gmail_rules = false;
};

// The normalised UTF-8 form of one identifier, wiped on destruction.
class NormalizedId {
 public:
  static constexpr size_t kCapacity = 4 * WAYMARK_MAX_IDENTIFIER_BYTES;
  NormalizedId() = default;
  ~NormalizedId();
  NormalizedId(const NormalizedId&) = delete;
  NormalizedId& operator=(const NormalizedId&) = delete;

  std::string_view view() const noexcept { return {bytes_.data(), len_}; }
  const uint8_t* data() const noexcept { return reinterpret_cast<const uint8_t*>(bytes_.data()); }
  size_t size() const noexcept { return len_; }
  // Replaces the content; false if it does not fit.
  bool assign(std::string_view value) noexcept;

 private:
  std::array<char, kCapacity> bytes_{};
  size_t len_ = 0;
};

bool is_valid_kind(int kind) noexcept;

// Normalises `raw` of `kind` into `out`. Statuses: OK, INVALID_ARGUMENT (kind),
// INVALID_UTF8, TOO_LARGE, JUNK_IDENTIFIER, INVALID_IDENTIFIER.
Status normalize_identifier(waymark_id_kind_t kind, std::string_view raw, const NormalizerConfig& config,
                            NormalizedId& out);

// True when the value is a known junk value ("null", "test@test.com", "0000", "-1", …).
bool is_junk(waymark_id_kind_t kind, std::string_view normalized) noexcept;

}  // namespace waymark::detail
