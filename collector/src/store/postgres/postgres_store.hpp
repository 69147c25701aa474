// The PostgreSQL driver of the SQL store (`store = postgresql://…`): PostgreSQL 15 through libpq,
// the schema kept in waymark_schema, one writing collector per database (an advisory lock).
#pragma once

#include <cstdint>

#include "store/store.hpp"

namespace waymark::collector {

// The schema version (waymark_schema.version) this build migrates a database to.
int64_t postgres_store_schema_version();

}  // namespace waymark::collector
