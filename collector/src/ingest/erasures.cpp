#include "ingest/erasures.hpp"

namespace waymark::collector {

Result<bool> Erasures::visit_erased(std::string_view slot, std::vector<StoredIdentifier>& ids) {
  if (dead_.count(slot) != 0) return mark(slot, ids, false);
  auto s = state(slot);
  if (!s.ok()) return s.status();
  if (s.value() != Tombstone::None) return mark(slot, ids, false);  // replayed: already erased
  bool owned = false;
  for (auto it = ids.begin(); it != ids.end();) {
    auto t = it->linking ? state(view_of(it->pseudonym.data(), 32)) : Result<Tombstone>(Tombstone::None);
    if (!t.ok()) return t.status();
    owned = owned || t.value() == Tombstone::Owned;
    it = t.value() == Tombstone::Shared ? ids.erase(it) : it + 1;
  }
  if (owned) return mark(slot, ids, true);
  return false;
}

uint64_t Erasures::apply(BatchWrite& write) {
  if (dead_.empty()) return 0;
  const auto dead = [&](const Bytes& slot) { return dead_.count(view_of(slot.data(), slot.size())) != 0; };
  const size_t before = write.events.size();
  for (const StoredEvent& e : write.events) {
    if (dead(e.slot)) remember(e.identifiers);
  }
  std::erase_if(write.events, [&](const StoredEvent& e) { return dead(e.slot); });
  std::erase_if(write.consent, [&](const ConsentUpdate& c) { return dead(c.slot); });
  for (const auto& slot : newly_dead_) write.erase_slots.emplace_back(slot.begin(), slot.end());
  for (const auto& [key, id] : identifiers_) write.tombstone_pseudonyms.push_back(id);
  return before - write.events.size();
}

Result<Tombstone> Erasures::state(std::string_view key) {
  if (requested_.count(key) != 0) return Tombstone::Owned;
  return txn_.tombstone(reinterpret_cast<const uint8_t*>(key.data()), key.size());
}

bool Erasures::mark(std::string_view slot, const std::vector<StoredIdentifier>& ids, bool newly) {
  if (dead_.emplace(slot).second && newly) newly_dead_.emplace_back(slot);
  remember(ids);
  return true;
}

// The visit's linking identifiers not erased yet: they are the erased customer's too.
void Erasures::remember(const std::vector<StoredIdentifier>& ids) {
  for (const StoredIdentifier& id : ids) {
    const std::string_view key = view_of(id.pseudonym.data(), 32);
    if (!id.linking || requested_.count(key) != 0) continue;
    auto t = txn_.tombstone(id.pseudonym.data(), 32);
    if (t.ok() && t.value() == Tombstone::None) identifiers_.emplace(std::string(key), id.pseudonym);
  }
}

}  // namespace waymark::collector
