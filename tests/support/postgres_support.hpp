// The collector tests run on both stores: with WAYMARK_TEST_POSTGRES set (the directory of the
// private server scripts/private-postgres.sh started), a test's store is a fresh database there.
#pragma once

#include <optional>
#include <string>

namespace waymark::test {

// The connection string of the tests' PostgreSQL server (no database named), or nothing.
std::optional<std::string> postgres_test_server();

// The connection string of a new, empty database on the tests' PostgreSQL, or nothing when the
// tests run on SQLite.
std::optional<std::string> postgres_test_database();

// The whole database as `pg_dump` writes it (bytes as hex); checks that it is a Waymark store.
std::string postgres_dump(const std::string& conninfo);

}  // namespace waymark::test
