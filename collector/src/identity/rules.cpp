#include "identity/rules.hpp"

#include <charconv>
#include <iterator>
#include <utility>

namespace waymark::collector {

namespace {

constexpr std::pair<uint8_t, std::string_view> kKinds[] = {
    {1, "email"},      {2, "phone"},      {3, "first_name"}, {4, "last_name"},  {5, "postcode"}, {6, "address"},
    {7, "loyalty_id"}, {8, "account_id"}, {9, "device_id"},  {10, "cookie_id"}, {11, "custom"},  {kSlotKind, "slot"},
};

}  // namespace

std::string_view kind_name(uint8_t kind) {
  for (const auto& [k, name] : kKinds) {
    if (k == kind) return name;
  }
  return "unknown";
}

std::optional<uint8_t> kind_from_name(std::string_view name) {
  for (const auto& [k, n] : kKinds) {
    if (n == name) return k;
  }
  return std::nullopt;
}

int anchor_rank(uint8_t kind) {
  constexpr std::string_view order[] = {"account_id", "loyalty_id", "email",    "phone",
                                        "custom",     "device_id",  "cookie_id"};
  const auto name = kind_name(kind);
  for (size_t i = 0; i < std::size(order); ++i) {
    if (order[i] == name) return static_cast<int>(std::size(order) - i);
  }
  return 0;
}

IdentityRules::IdentityRules() {
  limit[*kind_from_name("account_id")] = 1;
  limit[*kind_from_name("loyalty_id")] = 1;
  limit[*kind_from_name("email")] = 5;
  limit[*kind_from_name("phone")] = 5;
  limit[*kind_from_name("device_id")] = 20;
  limit[*kind_from_name("cookie_id")] = 20;
  strong[*kind_from_name("account_id")] = true;
  strong[*kind_from_name("loyalty_id")] = true;
}

bool IdentityRules::links(uint8_t kind) {
  const auto name = kind_name(kind);
  return name != "unknown" && name != "first_name" && name != "last_name" && name != "postcode" && name != "address";
}

bool IdentityRules::set_limit(std::string_view spec) {
  const size_t eq = spec.find('=');
  if (eq == std::string_view::npos) return false;
  const auto kind = kind_from_name(spec.substr(0, eq));
  if (!kind || *kind == kSlotKind || !links(*kind)) return false;
  uint32_t n = 0;
  const auto digits = spec.substr(eq + 1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) return false;
  limit[*kind] = n;
  return true;
}

std::optional<std::string> merge_refusal(const KindCounts& a, const KindCounts& b, const IdentityRules& rules) {
  for (size_t i = 0; i < KindCounts::kSize; ++i) {
    const uint8_t kind = KindCounts::kind_at(i);
    if (rules.strong[kind] && a.at(i) > 0 && b.at(i) > 0) return "strong_id_conflict:" + std::string(kind_name(kind));
  }
  for (size_t i = 0; i < KindCounts::kSize; ++i) {
    const uint8_t kind = KindCounts::kind_at(i);
    if (rules.limit[kind] != 0 && a.at(i) + b.at(i) > rules.limit[kind]) {
      return "kind_limit:" + std::string(kind_name(kind));
    }
  }
  return std::nullopt;
}

size_t Components::add(uint8_t kind) {
  parent_.push_back(parent_.size());
  size_.push_back(1);
  counts_.push_back({{kind, 1}});
  return parent_.size() - 1;
}

size_t Components::find(size_t i) {
  while (parent_[i] != i) {
    parent_[i] = parent_[parent_[i]];  // path halving
    i = parent_[i];
  }
  return i;
}

LinkOutcome Components::link(size_t a, size_t b, std::string* rule) {
  a = find(a);
  b = find(b);
  if (a == b) return LinkOutcome::Same;
  if (auto why = merge_refusal(counts_[a], counts_[b], rules_)) {
    if (rule != nullptr) *rule = std::move(*why);
    return LinkOutcome::Refused;
  }
  if (size_[a] < size_[b]) std::swap(a, b);
  parent_[b] = a;
  size_[a] += size_[b];
  counts_[a].add(counts_[b]);
  counts_[b] = {};
  return LinkOutcome::Merged;
}

}  // namespace waymark::collector
