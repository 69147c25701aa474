// Identity resolution rules: which identifier kinds link, and when two profiles must not merge.
// Pure logic, shared by the incremental resolver and the exact recompute after an unmerge.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace waymark::collector {

// Node kinds are the wire IdKind values, plus the customer slot (one visit on a shared device,
// the device's customer on a personal one).
constexpr uint8_t kSlotKind = 255;

std::string_view kind_name(uint8_t kind);
std::optional<uint8_t> kind_from_name(std::string_view name);

// Which of an event's nodes owns it (its journey, its revenue): the strongest kind wins —
// account, loyalty, email, phone, custom, device, cookie, then the slot.
int anchor_rank(uint8_t kind);

using KindCounts = std::map<uint8_t, uint32_t>;

struct IdentityRules {
  // Most nodes of a kind one profile may hold; 0 = no limit. Defaults: one account id, one
  // loyalty id, five emails, five phones, twenty device ids and twenty cookie ids.
  std::array<uint32_t, 256> limit{};
  // Two profiles that each hold a different id of a strong kind are never merged.
  std::array<bool, 256> strong{};

  IdentityRules();
  // Names, postcodes and addresses describe many people: they are kept, never linked on.
  static bool links(uint8_t kind);
  // "kind=N", e.g. "email=3". False on an unknown kind or a bad number.
  bool set_limit(std::string_view spec);
};

enum class LinkOutcome { Same, Merged, Refused };

// Why `a` and `b` (the kind counts of two different profiles) must not merge, or nothing.
std::optional<std::string> merge_refusal(const KindCounts& a, const KindCounts& b, const IdentityRules& rules);

// In-memory union-find with per-component kind counts, used to recompute profiles exactly.
class Components {
 public:
  explicit Components(const IdentityRules& rules) : rules_(rules) {}
  size_t add(uint8_t kind);
  size_t find(size_t i);
  // Links two nodes under the rules; `rule` receives the refusal reason.
  LinkOutcome link(size_t a, size_t b, std::string* rule);

 private:
  const IdentityRules& rules_;
  std::vector<size_t> parent_, size_;
  std::vector<KindCounts> counts_;
};

}  // namespace waymark::collector
