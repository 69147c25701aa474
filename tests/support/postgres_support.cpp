#include "support/postgres_support.hpp"

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace waymark::test {

std::optional<std::string> postgres_test_server() {
  const char* dir = std::getenv("WAYMARK_TEST_POSTGRES");
  if (dir == nullptr || *dir == '\0') return std::nullopt;
  std::ifstream in(std::string(dir) + "/conninfo");
  std::string server;
  if (!std::getline(in, server)) throw std::runtime_error(std::string("no PostgreSQL for the tests in ") + dir);
  return server;
}

std::optional<std::string> postgres_test_database() {
  const auto server_conninfo = postgres_test_server();
  if (!server_conninfo) return std::nullopt;
  const std::string& server = *server_conninfo;
  static std::atomic<int> made{0};
  const std::string name = "t" + std::to_string(getpid()) + "_" + std::to_string(made++);
  PGconn* admin = PQconnectdb((server + " dbname=postgres").c_str());
  PGresult* r = PQexec(admin, ("CREATE DATABASE " + name).c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  const std::string why = PQerrorMessage(admin);
  PQclear(r);
  PQfinish(admin);
  if (!ok) throw std::runtime_error("cannot create a test database: " + why);
  return server + " dbname=" + name;
}

std::string postgres_dump(const std::string& conninfo) {
  FILE* p = popen(("pg_dump --no-owner '" + conninfo + "'").c_str(), "r");
  if (p == nullptr) throw std::runtime_error("cannot run pg_dump");
  std::string dump;
  char buf[65536];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) dump.append(buf, n);
  if (pclose(p) != 0 || dump.find("CREATE TABLE public.events") == std::string::npos) {
    throw std::runtime_error("pg_dump of the test database failed");
  }
  return dump;
}

}  // namespace waymark::test
