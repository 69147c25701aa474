// Erasures as one batch's decisions see them (ingest.cpp): the store's tombstones, the batch's own
// erasure requests, and the visits (customer slots) found to carry an erased identifier, which are
// erased whole.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.hpp"

namespace waymark::collector {

inline std::string_view view_of(const uint8_t* p, size_t n) {
  return {reinterpret_cast<const char*>(p), n};
}

class Erasures {
 public:
  explicit Erasures(IngestTxn& txn) : txn_(txn) {}
  Erasures(const Erasures&) = delete;
  Erasures& operator=(const Erasures&) = delete;

  // An erasure event of this batch asked for `key` (a re-keyed pseudonym or a slot).
  void requested(std::string_view key) { requested_.emplace(key); }

  // Strips identifiers whose tombstone is shared from `ids`. True when the event's visit is to be
  // erased whole: its slot or one of its linking identifiers was erased as the customer's own.
  // `slot` views bytes that outlive this object.
  Result<bool> visit_erased(std::string_view slot, std::vector<StoredIdentifier>& ids);

  // Takes the events of erased visits that arrived before the erased identifier did out of `write`,
  // and has the store erase the visits (the profile holding each slot) and tombstone the rest of
  // their identifiers. Returns how many events it took out.
  uint64_t apply(BatchWrite& write);

 private:
  Result<Tombstone> state(std::string_view key);
  bool mark(std::string_view slot, const std::vector<StoredIdentifier>& ids, bool newly);
  void remember(const std::vector<StoredIdentifier>& ids);

  IngestTxn& txn_;
  std::set<std::string, std::less<>> requested_;  // by this batch's erasure events
  std::set<std::string_view> dead_;               // slots
  std::vector<std::string_view> newly_dead_;      // of those, the ones not tombstoned before
  std::map<std::string, Key32> identifiers_;      // to tombstone
};

}  // namespace waymark::collector
