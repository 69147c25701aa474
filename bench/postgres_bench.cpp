// The collector on PostgreSQL (a private server on a Unix socket, started here with
// scripts/private-postgres.sh). Ingest on one core: the workload of collector_bench, against a same-run
// floor of open + verify + COPY of the same rows (event id and event bytes) into a table of the same
// database. Identity resolution: identity_bench's traffic, 200k events of 60k customers (argv[2]).
#include <libpq-fe.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "common/crypto/secure.hpp"
#include "identity_workload.hpp"
#include "ingest/ingest.hpp"
#include "ingest_workload.hpp"
#include "waymark/wire/v1/batch_generated.h"

using Clock = std::chrono::steady_clock;
namespace wc = waymark::collector;

namespace {

bool run(const std::string& command) {
  return std::system(command.c_str()) == 0;  // NOLINT(cert-env33-c): the bench's own script
}

bool ok(PGconn* c, PGresult* r) {
  const bool good = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK ||
                    PQresultStatus(r) == PGRES_COPY_IN;
  if (!good) std::fprintf(stderr, "postgres bench: %s", PQerrorMessage(c));
  PQclear(r);
  return good;
}

// Open + verify every envelope, then COPY its events (id, bytes) in one transaction per batch.
double floor_rate(const std::vector<std::vector<uint8_t>>& envelopes, const uint8_t* collector_sk,
                  const std::string& conninfo) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (!ok(c, PQexec(c, "CREATE TABLE floor_events(event_id bytea PRIMARY KEY, payload bytea NOT NULL)"))) return 0;
  auto opener = waymark::detail::EnvelopeOpener::create(collector_sk);
  const auto t = Clock::now();
  size_t n = 0;
  std::string row;
  for (const auto& env : envelopes) {
    auto opened = opener->open(env.data(), env.size());
    const auto* batch = waymark::wire::v1::GetBatch(opened->batch.data());
    if (!ok(c, PQexec(c, "BEGIN")) || !ok(c, PQexec(c, "COPY floor_events FROM STDIN"))) return 0;
    for (const auto* blob : *batch->events()) {
      row = "\\\\x" + waymark::detail::to_hex(blob->bytes_nested_root()->id()->data(), 16) + "\t\\\\x" +
            waymark::detail::to_hex(blob->bytes()->data(), blob->bytes()->size()) + "\n";
      PQputCopyData(c, row.data(), static_cast<int>(row.size()));
      ++n;
    }
    PQputCopyEnd(c, nullptr);
    if (!ok(c, PQgetResult(c)) || !ok(c, PQexec(c, "COMMIT"))) return 0;
  }
  const double rate = static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - t).count();
  PQfinish(c);
  return rate;
}

// Resolves identity_bench's traffic on a fresh database; false when it fails or splits a customer.
bool resolve(const std::string& conninfo, uint64_t events) {
  auto store = wc::open_postgres_store(conninfo);
  if (!store.ok()) return false;
  std::mt19937_64 rng(7);
  const uint64_t customers = events * 3 / 10;
  bench::load(*store.value(), bench::traffic(customers, events, rng));
  const auto t = Clock::now();
  auto resolved = store.value()->resolve_pending(INT64_MAX);
  const double secs = std::chrono::duration<double>(Clock::now() - t).count();
  if (!resolved.ok() || resolved.value() != static_cast<int64_t>(events)) return false;
  for (uint64_t c = 0; c < customers; c += 997) {
    const auto a = bench::key(c, 0), b = bench::key(c, 4);
    auto pa = store.value()->profile_of(a.data(), a.size());
    auto pb = store.value()->profile_of(b.data(), b.size());
    if (!pa.ok() || !pb.ok() || !pa.value() || pa.value() != pb.value()) return false;
  }
  std::printf("BENCH identity_resolve_postgres_%llu_events_%llu_customers %.2f s\n",
              static_cast<unsigned long long>(events), static_cast<unsigned long long>(customers), secs);
  std::printf("BENCH identity_resolve_postgres_rate %.0f events/s\n", static_cast<double>(events) / secs);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = (argc > 1 ? std::string(argv[1]) : std::string("bench-work")) + "-postgres";
  const std::string script = WAYMARK_PRIVATE_POSTGRES;
  if (sodium_init() < 0 || !run(script + " start " + dir + " >/dev/null")) return 1;
  std::string server;
  std::getline(std::ifstream(dir + "/conninfo"), server);
  const auto [key, envelopes] = bench::sealed_workload();
  int status = 1;
  {
    auto store = wc::open_postgres_store(server + " dbname=postgres");
    if (!store.ok()) {
      std::fprintf(stderr, "postgres bench: %s\n", store.status().message.c_str());
    } else {
      uint8_t rekey[32];
      randombytes_buf(rekey, sizeof rekey);
      wc::Metrics metrics;
      wc::Ingest ingest(*store.value(), {key}, rekey, metrics);
      const auto t = Clock::now();
      int accepted = 0;
      for (const auto& env : envelopes) {
        accepted += ingest.handle(env.data(), env.size(), 1790000000000).http_status == 200;
      }
      const double secs = std::chrono::duration<double>(Clock::now() - t).count();
      const double events = static_cast<double>(store.value()->event_count().value());
      const double floor = floor_rate(envelopes, key.secret.data(), server + " dbname=postgres");
      if (accepted == bench::kBatches && events == bench::kBatches * bench::kPerBatch && floor > 0) {
        std::printf("BENCH collector_ingest_postgres %.0f events/s\n", events / secs);
        std::printf("BENCH open_verify_postgres_copy_floor %.0f events/s\n", floor);
        std::printf("RATIO collector_ingest_postgres %.3f vs open_verify_postgres_copy_floor\n", events / secs / floor);
        status = 0;
      } else {
        std::fprintf(stderr, "postgres bench: %d/%d batches accepted, %.0f events stored\n", accepted, bench::kBatches,
                     events);
      }
    }
  }
  if (status == 0) {
    const uint64_t events = argc > 2 ? std::stoull(argv[2]) : 200'000;
    if (!run("psql -q '" + server + " dbname=postgres' -c 'CREATE DATABASE identity' >/dev/null") ||
        !resolve(server + " dbname=identity", events)) {
      std::fprintf(stderr, "postgres bench: identity resolution failed\n");
      status = 1;
    }
  }
  run(script + " stop " + dir);
  return status;
}
