// The real collector (issue 5) started in-process on 127.0.0.1 with a fresh store and key.
#pragma once

#include <catch2/catch.hpp>

#include <functional>
#include <memory>

#include <sodium.h>

#include "server/http_server.hpp"
#include "support/postgres_support.hpp"
#include "support/test_support.hpp"

namespace waymark::test {

struct Collector {
  using CollectorKey = waymark::collector::CollectorKey;
  using Store = waymark::collector::Store;
  using Metrics = waymark::collector::Metrics;
  using Ingest = waymark::collector::Ingest;
  using Server = waymark::collector::Server;

  TempDir dir;
  std::string postgres;  // the store's database when the tests run on PostgreSQL, else "" (SQLite in `dir`)
  CollectorKey key;
  std::array<uint8_t, 32> public_key{};
  std::array<uint8_t, 32> rekey{};
  std::unique_ptr<Store> store;
  Metrics metrics;
  std::unique_ptr<Ingest> ingest;
  std::unique_ptr<waymark::collector::QueryApi> api;
  std::unique_ptr<Server> server;
  // Bearer tokens the query API accepts.
  static constexpr const char* kReadToken = "read-token-0123456789";
  static constexpr const char* kAdminToken = "admin-token-0123456789";

  using Configure = std::function<void(waymark::collector::ServerConfig&)>;

  // `db_dir`: where collector.db goes (default: a temp dir of its own). `configure` changes the server's
  // configuration before it starts (e.g. its TLS files).
  explicit Collector(waymark::collector::IdentityRules rules = {}, int64_t read_timeout_ms = 500,
                     std::string db_dir = "", uint64_t disk_reserve_bytes = 0, const Configure& configure = {})
      : db_dir_(db_dir.empty() ? dir.path() : std::move(db_dir)) {
    REQUIRE(sodium_init() >= 0);
    key.key_id = 3;
    crypto_sign_keypair(public_key.data(), key.secret.data());
    randombytes_buf(rekey.data(), rekey.size());
    postgres = postgres_test_database().value_or("");
    auto s = !postgres.empty() ? waymark::collector::open_postgres_store(postgres, rules)
                               : waymark::collector::open_sqlite_store(db_path(), 200, rules, disk_reserve_bytes);
    INFO(s.status().message);
    REQUIRE(s.ok());
    store = std::move(s.value());
    waymark::collector::IngestLimits limits;
    limits.max_batch_bytes = 1 << 20;  // as `serve` sets it: max-body-bytes × max-decompressed-ratio 1
    ingest = std::make_unique<Ingest>(*store, std::vector<CollectorKey>{key}, rekey.data(), metrics, limits);
    std::vector<waymark::collector::ApiToken> tokens = {
        {"reader", kReadToken, {"profiles:read"}},
        {"admin",
         kAdminToken,
         {"profiles:read", "profiles:export", "identity:write", "erasure:write", "reports:read", "spend:write"}}};
    api = std::make_unique<waymark::collector::QueryApi>(*store, tokens, rekey.data(), key, metrics);
    waymark::collector::ServerConfig config;
    config.port = 0;
    config.max_body_bytes = 1 << 20;
    config.read_timeout_ms = read_timeout_ms;
    config.background = [this] { (void)store->resolve_pending(5000); };
    config.degraded = [this] { return store->degraded(); };
    if (configure) configure(config);
    tls_ = !config.tls_cert_file.empty();
    server = std::make_unique<Server>(config, *ingest, metrics, api.get());
    REQUIRE(server->start().ok());
  }
  ~Collector() { server->stop(); }
  std::string db_path() const { return db_dir_ + "/collector.db"; }
  std::string url() const {
    return (tls_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(server->port()) + "/v1/batches";
  }
  ClientConfig client() const {
    ClientConfig c;
    c.collector_url = url();
    c.collector_keys = {{key.key_id, public_key}};
    return c;
  }
  int64_t events() { return store->event_count().value(); }
  // Whether the store holds `needle` anywhere: a file of its directory (SQLite), or a dump of its
  // database (PostgreSQL; bytes are dumped as hex, so the hex form is searched too).
  bool holds(const std::string& needle) const {
    if (postgres.empty()) return any_file_contains(dir.path(), needle);
    const std::string dump = postgres_dump(postgres);
    std::string hex(needle.size() * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const uint8_t*>(needle.data()), needle.size());
    hex.pop_back();
    return dump.find(needle) != std::string::npos || dump.find(hex) != std::string::npos;
  }

 private:
  std::string db_dir_;
  bool tls_ = false;
};

}  // namespace waymark::test
