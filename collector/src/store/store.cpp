#include "store/store.hpp"

namespace waymark::collector {

bool is_postgres_location(const std::string& store) {
  return store.rfind("postgresql://", 0) == 0 || store.rfind("postgres://", 0) == 0;
}

Result<std::unique_ptr<Store>> open_store(const std::string& store, const std::string& data_dir, IdentityRules rules,
                                          uint64_t disk_reserve_bytes, Access access) {
  if (store == "sqlite" && access == Access::ReadOnly) {
    return Error(Errc::invalid, "a read-only store (role query) is a PostgreSQL database or replica, not sqlite");
  }
  if (store == "sqlite")
    return open_sqlite_store(data_dir + "/collector.db", 5000, std::move(rules), disk_reserve_bytes);
  if (is_postgres_location(store)) return open_postgres_store(store, std::move(rules), access);
  return Error(Errc::invalid, "store must be sqlite or a PostgreSQL URI (postgresql://host/database), not '" +
                                  store.substr(0, store.find("://")) + "…'");
}

}  // namespace waymark::collector
