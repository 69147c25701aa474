// What only the PostgreSQL store does: a lost server connection, a second collector on the same
// database, schema versions, and nothing identifying in a dump of the database. Run on the tests'
// private PostgreSQL only (hidden tag; tests/CMakeLists.txt selects it for the PostgreSQL run).
#include <catch2/catch.hpp>

#include <libpq-fe.h>

#include <chrono>
#include <thread>

#include <sodium.h>

#include "common/crypto/secure.hpp"
#include "store/postgres/postgres_store.hpp"
#include "support/collector_fixture.hpp"
#include "support/http_client.hpp"
#include "support/raw_device.hpp"
#include "support/test_support.hpp"

using namespace waymark::test;

namespace {

std::string database_of(const std::string& conninfo) {
  return conninfo.substr(conninfo.rfind("dbname=") + 7);
}

// Runs `sql` as the tests' superuser, outside the collector's connections, in `conninfo`'s database
// (default: the server's own).
void admin(const std::string& sql, const std::string& conninfo = *postgres_test_server() + " dbname=postgres") {
  PGconn* c = PQconnectdb(conninfo.c_str());
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);  // "… does not exist, skipping"
  PGresult* r = PQexec(c, sql.c_str());
  INFO(sql << ": " << PQerrorMessage(c));
  CHECK((PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK));
  PQclear(r);
  PQfinish(c);
}

// A customer who grants analytics, identifies by `email` and views once, uploaded and resolved; her
// device's pseudonym of the email in `pseudonym`.
void one_customer(Collector& collector, const std::string& email, uint8_t pseudonym[32]) {
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), collector.client(), &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(identify(c, WAYMARK_ID_EMAIL, email) == WAYMARK_OK);
  REQUIRE(track(c, "view") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
  REQUIRE(waymark_client_pseudonymize(c, WAYMARK_ID_EMAIL, email.data(), email.size(), pseudonym, 32) == WAYMARK_OK);
  waymark_client_free(c);
  REQUIRE(collector.store->resolve_pending(INT64_MAX).ok());
}

}  // namespace

TEST_CASE("PostgreSQL: a lost connection answers 503 and acknowledges nothing, then ingest resumes",
          "[.postgres][collector]") {
  Collector collector;
  REQUIRE_FALSE(collector.postgres.empty());
  const std::string db = database_of(collector.postgres);
  TempDir dir;
  ClientConfig config = collector.client();
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), config, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(track(c, "before") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
  const int64_t before = collector.events();

  // The database refuses connections and ends the collector's sessions: the server is gone for it.
  admin("ALTER DATABASE " + db + " ALLOW_CONNECTIONS false");
  admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + db + "'");
  REQUIRE(track(c, "while_down") == WAYMARK_OK);
  CHECK(waymark_client_flush(c, 1500) == WAYMARK_ERR_TIMEOUT);  // refused with 503: kept on the device
  CHECK(client_stat(c, WAYMARK_STAT_UPLOADED) == before);
  const Reply health = api_get(collector.server->port(), "/healthz", "");
  CHECK(health.status == 503);
  CHECK(health.body.find("PostgreSQL is unreachable") != std::string::npos);

  admin("ALTER DATABASE " + db + " ALLOW_CONNECTIONS true");
  REQUIRE(waymark_client_flush(c, 15000) == WAYMARK_OK);  // the device's retries get through
  CHECK(collector.events() == before + 1);
  CHECK(api_get(collector.server->port(), "/healthz", "").status == 200);
  waymark_client_free(c);
}

TEST_CASE("PostgreSQL: a second collector on the same database is refused by name", "[.postgres][collector]") {
  Collector collector;
  REQUIRE_FALSE(collector.postgres.empty());
  auto second = waymark::collector::open_postgres_store(collector.postgres);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().message.find("another waymark-collector is writing") != std::string::npos);
  // Once the first one is gone the database is free again, and keeps what it stored.
  collector.server->stop();
  collector.store.reset();
  auto reopened = waymark::collector::open_postgres_store(collector.postgres);
  INFO(reopened.status().message);
  REQUIRE(reopened.ok());
  CHECK(reopened.value()->event_count().value() == 0);
}

TEST_CASE("PostgreSQL: the schema is versioned, and a newer one is refused", "[.postgres][collector]") {
  REQUIRE(postgres_test_database());
  const std::string conninfo = *postgres_test_database();
  {
    auto store = waymark::collector::open_postgres_store(conninfo);
    REQUIRE(store.ok());
  }
  PGconn* c = PQconnectdb(conninfo.c_str());
  PGresult* r = PQexec(c, "SELECT version FROM waymark_schema");
  REQUIRE(PQntuples(r) == 1);
  CHECK(std::stoll(PQgetvalue(r, 0, 0)) == waymark::collector::postgres_store_schema_version());
  PQclear(r);
  PQclear(PQexec(c, "UPDATE waymark_schema SET version = version + 1"));
  PQfinish(c);
  auto newer = waymark::collector::open_postgres_store(conninfo);
  REQUIRE_FALSE(newer.ok());
  CHECK(newer.status().message.find("newer waymark-collector") != std::string::npos);
}

TEST_CASE("PostgreSQL: no raw identifier and no device pseudonym in the database", "[.postgres][collector]") {
  Collector collector;
  REQUIRE_FALSE(collector.postgres.empty());
  uint8_t pseudonym[32];
  one_customer(collector, "pg.privacy@example.com", pseudonym);
  const std::string all = postgres_dump(collector.postgres);  // checked to be the database
  CHECK(all.find("pg.privacy") == std::string::npos);
  CHECK(all.find(waymark::detail::to_hex(pseudonym, 32)) == std::string::npos);
}

TEST_CASE("PostgreSQL: BI views show journeys and profiles, never a pseudonym, to a role granted them alone",
          "[.postgres][collector]") {
  Collector collector;
  REQUIRE_FALSE(collector.postgres.empty());
  uint8_t pseudonym[32];
  one_customer(collector, "pg.bi@example.com", pseudonym);

  const std::string db = database_of(collector.postgres);
  admin("DROP ROLE IF EXISTS analyst_" + db);
  admin("CREATE ROLE analyst_" + db + " LOGIN");
  admin("GRANT USAGE ON SCHEMA bi TO analyst_" + db, collector.postgres);
  admin("GRANT SELECT ON ALL TABLES IN SCHEMA bi TO analyst_" + db, collector.postgres);
  const std::string as_analyst =
      collector.postgres.substr(0, collector.postgres.find("user=")) + "user=analyst_" + db + " dbname=" + db;
  PGconn* analyst = PQconnectdb(as_analyst.c_str());
  REQUIRE(PQstatus(analyst) == CONNECTION_OK);
  auto rows = [&](const char* sql) {
    PGresult* r = PQexec(analyst, sql);
    INFO(sql << ": " << PQerrorMessage(analyst));
    const int n = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) : -1;
    std::string text;
    for (int i = 0; i < std::max(n, 0); ++i) {
      for (int j = 0; j < PQnfields(r); ++j) text += std::string(PQgetvalue(r, i, j)) + "|";
    }
    PQclear(r);
    return std::make_pair(n, text);
  };
  const auto journeys = rows("SELECT * FROM bi.journeys");
  CHECK(journeys.first >= 3);  // consent, identify, view
  CHECK(journeys.second.find("|view|") != std::string::npos);
  CHECK(journeys.second.find("|Track|") != std::string::npos);
  CHECK(rows("SELECT * FROM bi.profiles").first == 1);
  CHECK(rows("SELECT * FROM bi.attribution_inputs").first == journeys.first);
  CHECK(rows("SELECT * FROM events").first == -1);  // the tables themselves are not granted
  CHECK(rows("SELECT * FROM nodes").first == -1);
  // No key the store holds appears in any view.
  PGconn* store = PQconnectdb(collector.postgres.c_str());
  PGresult* keys = PQexec(store, "SELECT encode(key, 'hex') FROM nodes UNION SELECT encode(slot, 'hex') FROM events");
  REQUIRE(PQntuples(keys) >= 2);
  const std::string all =
      journeys.second + rows("SELECT * FROM bi.profiles").second + rows("SELECT * FROM bi.attribution_inputs").second;
  for (int i = 0; i < PQntuples(keys); ++i) CHECK(all.find(PQgetvalue(keys, i, 0)) == std::string::npos);
  PQclear(keys);
  PQfinish(store);
  PQfinish(analyst);
  admin("DROP OWNED BY analyst_" + db, collector.postgres);  // its grants, so the role can go
  admin("DROP ROLE analyst_" + db);
}

TEST_CASE("PostgreSQL: a query node reads what the writer stored, beside its lock, and writes nothing",
          "[.postgres][collector]") {
  Collector writer;  // holds the writer's advisory lock
  REQUIRE_FALSE(writer.postgres.empty());
  RawDevice device;
  REQUIRE(device.send(writer, {device.grant(), device.event("view", random_identifiers(1, WAYMARK_ID_EMAIL))}).status ==
          200);
  REQUIRE(writer.store->resolve_pending(INT64_MAX).ok());

  auto store = waymark::collector::open_postgres_store(writer.postgres, {}, waymark::collector::Access::ReadOnly);
  INFO(store.status().message);
  REQUIRE(store.ok());
  waymark::collector::Metrics metrics;
  waymark::collector::QueryApi api(
      *store.value(), {{"admin", Collector::kAdminToken, {"profiles:read", "identity:write", "erasure:write"}}},
      writer.rekey.data(), writer.key, metrics);
  api.set_read_only();
  waymark::collector::ServerConfig config;
  config.port = 0;
  waymark::collector::Server query(config, metrics, &api);
  REQUIRE(query.start().ok());

  const Reply mine = api_get(query.port(), "/v1/profiles", Collector::kAdminToken);
  const Reply theirs = api_get(writer.server->port(), "/v1/profiles", Collector::kAdminToken);
  REQUIRE(mine.status == 200);
  CHECK(mine.body == theirs.body);  // the same profiles, read through its own connections
  CHECK(api_post(query.port(), "/v1/unmerge", R"({"batch_id":"00000000000000000000000000000000"})",
                 Collector::kAdminToken)
            .status == 421);
  CHECK(api_post(query.port(), "/v1/erasure", R"({"profile_id":1})", Collector::kAdminToken).status == 421);
  // Below the API, PostgreSQL itself refuses the session's writes.
  CHECK_FALSE(store.value()->set_blocked({waymark::collector::Key32{}}).ok());
  CHECK(request(query.port(), http::verb::post, "/v1/batches", device.seal(writer, {device.event("x")})).status == 404);
  query.stop();
}
