// Marketing spend (store.hpp, SpendStore): one row per day, level, key and currency.
#include <set>

#include "store/sql/sql_store.hpp"

namespace waymark::collector {

Status SqlStore::replace_spend(const std::vector<SpendRow>& rows, int64_t now_ms) {
  return in_write_txn([&]() -> Status {
    std::set<std::pair<int64_t, std::string>> days;  // (day, level) the import replaces
    for (const SpendRow& r : rows) days.emplace(r.day, r.level);
    Status s;
    for (const auto& day_level : days) {  // not a structured binding: clang 14 cannot capture one
      s = writer_.run("DELETE FROM spend WHERE day = ?1 AND level = ?2", "spend",
                      [&](sql::Statement& st) { st.bind(1, day_level.first).bind(2, day_level.second); });
      if (!s.ok()) return s;
    }
    return writer_.insert_many(
        "INSERT INTO spend(day, level, key, currency, amount_minor, imported_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
        rows.size(),
        [&](sql::Statement& st, size_t i) {
          const SpendRow& r = rows[i];
          st.bind(1, r.day).bind(2, r.level).bind(3, r.key).bind(4, r.currency).bind(5, r.amount_minor).bind(6, now_ms);
        },
        "spend");
  });
}

Result<std::vector<SpendRow>> SqlStore::spend(int64_t from_day, int64_t to_day) {
  std::lock_guard lock(reader_.mu);
  Status s;
  Use st = reader_.prepare(
      "SELECT day, level, key, currency, amount_minor FROM spend WHERE day >= ?1 AND day < ?2 "
      "ORDER BY day, level, key, currency",
      &s);
  if (st == nullptr) return s;
  st->bind(1, from_day).bind(2, to_day);
  std::vector<SpendRow> rows;
  int rc;
  while ((rc = st->step()) == sql::kRow) {
    rows.push_back(
        {st->int64(0), std::string(st->blob(1)), std::string(st->blob(2)), std::string(st->blob(3)), st->int64(4)});
  }
  if (rc != sql::kDone) return reader_.error(rc, "spend");
  return rows;
}

}  // namespace waymark::collector
