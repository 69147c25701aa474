// Identity resolution rules: which identifier kinds link, and when two profiles must not merge.
// Pure logic, shared by the incremental resolver and the exact recompute after an unmerge.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
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

// How many nodes of each linking kind (and slots) a profile holds.
class KindCounts {
 public:
  KindCounts() = default;
  KindCounts(std::initializer_list<std::pair<uint8_t, uint32_t>> init) {
    for (const auto& [kind, n] : init) (*this)[kind] += n;
  }
  uint32_t& operator[](uint8_t kind) { return n_[index(kind)]; }
  uint32_t operator[](uint8_t kind) const { return n_[index(kind)]; }
  void add(const KindCounts& o) {
    for (size_t i = 0; i < n_.size(); ++i) n_[i] += o.n_[i];
  }
  void subtract(const KindCounts& o) {
    for (size_t i = 0; i < n_.size(); ++i) n_[i] -= o.n_[i];
  }
  static constexpr size_t kSize = 13;
  // The kind stored at position i (0: slot, 1-11: IdKind, 12: any other kind).
  static uint8_t kind_at(size_t i) { return i == 0 ? kSlotKind : static_cast<uint8_t>(i < 12 ? i : 0); }
  uint32_t at(size_t i) const { return n_[i]; }

 private:
  static size_t index(uint8_t kind) { return kind == kSlotKind ? 0 : kind >= 1 && kind <= 11 ? kind : 12; }
  std::array<uint32_t, kSize> n_{};
};

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
