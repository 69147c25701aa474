// waymark-collector serve: one process in one of four roles (docs/scale-out.md).
//   all     ingest, store, identity resolution and the query API in one process (the default);
//   ingest  verifies batches and queues them on JetStream; no store, nothing to lose when killed;
//   merger  commits queued batches to the store, resolves identities, serves the query API (it alone
//           takes unmerges and erasures);
//   query   the query API on a PostgreSQL database or replica, read-only.
#include <utility>  // before Asio

#include <algorithm>
#include <charconv>
#include <csignal>
#include <fstream>
#include <memory>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <sodium.h>

#include "app.hpp"
#include "cluster/lag_watch.hpp"
#include "cluster/merger.hpp"
#include "config/options.hpp"
#include "ingest/ingest.hpp"
#include "queue/jetstream.hpp"
#include "server/http_server.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace waymark::collector::app {

namespace {

// The collector's keys in <dir>/keys: every unretired signing key, and the re-key secret.
struct Keys {
  std::vector<CollectorKey> signing;
  uint8_t rekey[32] = {};
  void wipe() { sodium_memzero(rekey, sizeof rekey); }  // once Ingest and the query API hold their copies
  ~Keys() { wipe(); }
};

bool load_key_file(const fs::directory_entry& entry, std::vector<CollectorKey>& out) {
  const std::string name = entry.path().filename().string();
  if (name.rfind("collector_key_", 0) != 0 || name.find('.') != std::string::npos) return true;
  CollectorKey k;
  const char* digits = name.c_str() + 14;
  const auto [end, err] = std::from_chars(digits, name.c_str() + name.size(), k.key_id);
  if (err != std::errc() || end != name.c_str() + name.size()) {
    log("warning", "ignoring key file with a malformed name: " + name);
    return true;
  }
  if (!read_key(entry.path(), k.secret.data(), k.secret.size())) {
    log("error", "unreadable collector key file " + name);
    return false;
  }
  if (std::ifstream marker(entry.path().string() + ".retire_at"); marker && !(marker >> k.retire_at_ms)) {
    log("error", "unreadable retire date for key " + name);
    return false;
  }
  if (k.retire_at_ms <= now_ms()) {
    log("info", std::string("key id ") + std::to_string(k.key_id) + " is retired");
    return true;
  }
  out.push_back(k);
  return true;
}

bool load_keys(const fs::path& dir, Keys& keys) {
  std::error_code ec;
  fs::directory_iterator key_files(dir / "keys", ec);
  if (ec) {
    log("error", "no key directory: run `waymark-collector keys generate --data-dir DIR` first");
    return false;
  }
  for (const auto& entry : key_files) {
    if (!load_key_file(entry, keys.signing)) return false;
  }
  if (keys.signing.empty() || !read_key(dir / "keys" / "rekey_secret", keys.rekey, sizeof keys.rekey)) {
    log("error", "no keys: run `waymark-collector keys generate --data-dir DIR` first");
    return false;
  }
  return true;
}

// SDK pseudonyms in hex, one per line (see `blocklist`), re-keyed into the store's blocklist.
bool apply_blocklist(const po::variables_map& vm, Store& store, const uint8_t* rekey) {
  if (!vm.count("blocked-pseudonyms")) return true;
  std::ifstream in(vm["blocked-pseudonyms"].as<std::string>());
  std::vector<Key32> blocked;
  std::string line;
  while (in >> line) {
    uint8_t raw[32];
    if (!waymark::detail::from_hex(line, raw, sizeof raw)) {
      log("error", "blocked-pseudonyms: every line must be 64 hex characters");
      return false;
    }
    blocked.push_back(rekey_pseudonym(raw, rekey));
  }
  if (!in.eof()) {
    log("error", "cannot read the blocked-pseudonyms file");
    return false;
  }
  if (auto st = store.set_blocked(blocked); !st.ok()) {
    log("error", st.message);
    return false;
  }
  log("info", std::string("blocked pseudonyms: ") + std::to_string(blocked.size()));
  return true;
}

// Opens the store. A merger whose store another merger is writing (PostgreSQL's advisory lock) is a
// standby: it tries again every second until that one is gone, and once waiting it also waits out
// PostgreSQL being away (restarted, or failing over). At start an unreachable store is an error (a
// wrong address should not look like a standby). Exit code on failure.
int open_serving_store(const po::variables_map& vm, const fs::path& dir, const ServeSettings& set,
                       std::unique_ptr<Store>& out) {
  const std::string where = vm["store"].as<std::string>();
  const Access access = set.role == Role::Query ? Access::ReadOnly : Access::Write;
  // One process per data directory, whose memory holds the graph and tombstones; mergers of one
  // PostgreSQL database take its advisory lock instead (a standby may share the directory's keys).
  const bool standby = set.role == Role::Merger;
  if (set.role != Role::Query && (set.role == Role::All || !is_postgres_location(where)) &&
      !lock_data_dir(dir, standby)) {
    return 1;
  }
  for (bool waiting = false;; waiting = true) {
    auto store = open_store(where, dir.string(), set.rules, set.disk_reserve_bytes, access);
    if (store.ok()) {
      if (waiting) log("info", "standby: the active merger is gone; this one takes over");
      out = std::move(store.value());
      return 0;
    }
    const Errc code = store.status().code;
    if (set.role != Role::Merger || (code != Errc::store_busy && !(waiting && code == Errc::store_io))) {
      log("error", store.status().message);
      return code == Errc::invalid ? 2 : 1;
    }
    if (code == Errc::store_io) {
      log("warning", "standby: " + store.status().message + "; trying again");
    } else if (!waiting) {
      log("info", "standby: another merger is writing the store; waiting to take over");
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

// Events waiting for identity resolution, as the identity_pending_events gauge (withdrawn while the
// store does not answer).
Result<int64_t> report_pending(Store& s, Metrics& metrics) {
  auto pending = s.pending_events();
  if (pending.ok()) {
    metrics.set("identity_pending_events", static_cast<uint64_t>(pending.value()));
  } else {
    metrics.unset("identity_pending_events");
  }
  return pending;
}

// Identity resolution follows ingest in commit order. While batches wait for a commit it yields to
// them (a burst is acknowledged first and resolved after), unless kResolveLagEvents wait already.
std::function<void()> resolution(Store& s, Metrics& metrics, std::function<size_t()> waiting) {
  constexpr int64_t kResolveLagEvents = 1'000'000;
  return [&s, &metrics, waiting = std::move(waiting)] {
    const auto pending = report_pending(s, metrics);
    const bool degraded = s.degraded().has_value();
    metrics.set("store_degraded", degraded ? 1 : 0);
    if (degraded) return;  // resolution writes: it waits for space like ingest does
    if (waiting() == 0 || !pending.ok() || pending.value() >= kResolveLagEvents) {
      if (auto r = s.resolve_pending(20000); !r.ok()) log("warning", "identity resolution: " + r.status().message);
    }
    const auto c = s.identity_counters();
    metrics.set("identity_merges_total", c.merges);
    metrics.set("identity_refusals_total", c.refusals);
  };
}

// Starts `server`, then serves until SIGTERM or SIGINT (requests in flight finish, exit 0). SIGHUP reads
// the TLS certificate and key again (a renewal); a failed reload keeps the ones in use.
int run(Server& server, const ServerConfig& config, const std::string& role) {
  if (auto s = server.start(); !s.ok()) {
    log("error", s.message);
    return s.code == Errc::invalid ? 2 : 1;  // unusable TLS files are a configuration error
  }
  const bool tls = !config.tls_cert_file.empty();
  log("info", "listening on " + config.address + ":" + std::to_string(server.port()) + " (" + (tls ? "HTTPS" : "HTTP") +
                  ", at most " + std::to_string(server.max_connections()) + " connections, role " + role + ")");
  boost::asio::io_context signals_ioc;
  boost::asio::signal_set signals(signals_ioc, SIGTERM, SIGINT, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code&,
                                                                             int signal) {
    if (signal != SIGHUP) return server.stop();
    if (!tls) {
      log("info", "SIGHUP: TLS is not configured, nothing to reload");
    } else if (auto r = server.reload_tls(); r.ok()) {
      log("info", "TLS certificate reloaded");
    } else {
      log("error", "TLS reload failed, the certificate in use stays: " + r.message);
    }
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  signals_ioc.run();
  log("info", "stopped");
  return 0;
}

std::unique_ptr<QueryApi> query_api(Store& store, ServeSettings& set, Keys& keys, Metrics& metrics) {
  const CollectorKey newest =
      *std::max_element(keys.signing.begin(), keys.signing.end(),
                        [](const CollectorKey& a, const CollectorKey& b) { return a.key_id < b.key_id; });
  auto api = std::make_unique<QueryApi>(store, set.tokens, keys.rekey, newest, metrics);
  api->set_reports(std::move(set.reports));
  return api;
}

void trust(Ingest& ingest, const ServeSettings& set) {
  ingest.set_authority_keys(set.authority_keys);
  ingest.set_verified_kinds(set.verified_kinds);
}

Result<std::unique_ptr<queue::JetStream>> connect_queue(const ServeSettings& set) {
  auto js = queue::JetStream::connect(set.queue);
  if (!js.ok()) log("error", js.status().message);
  return js;
}

int serve_ingest(ServeSettings& set, Keys& keys) {
  auto js = connect_queue(set);
  if (!js.ok()) return 1;
  Metrics metrics;
  metrics.set_log(log);
  Ingest ingest(*js.value(), keys.signing, keys.rekey, metrics, set.ingest);
  keys.wipe();
  trust(ingest, set);
  LagWatch lag(*js.value(), set.merger.durable, set.max_queue_lag, metrics);
  set.server.background = [&lag, &ingest] {
    if (auto s = lag.poll(); !s.ok()) log("warning", s.message);
    ingest.set_queue_lagging(lag.over());
  };
  set.server.background_interval_ms = 1000;
  set.server.health_note = [&lag] { return lag.note(); };
  Server server(set.server, ingest, metrics);
  return run(server, set.server, "ingest");
}

int serve_merger(const po::variables_map& vm, const fs::path& dir, ServeSettings& set, Keys& keys) {
  std::unique_ptr<Store> store;
  if (int rc = open_serving_store(vm, dir, set, store); rc != 0) return rc;
  if (!apply_blocklist(vm, *store, keys.rekey)) return 1;
  auto js = connect_queue(set);
  if (!js.ok()) return 1;
  Metrics metrics;
  metrics.set_log(log);
  Ingest ingest(*store, keys.signing, keys.rekey, metrics, set.ingest);
  auto api = query_api(*store, set, keys, metrics);
  keys.wipe();
  trust(ingest, set);
  Merger merger(*js.value(), ingest, metrics, set.merger,
                [](const std::string& level, const std::string& m) { log(level.c_str(), m); });
  if (auto s = merger.start(); !s.ok()) {
    log("error", s.message);
    return 1;
  }
  // Deposed (another merger took the store over while this one's connection was cut): exit 1, so that
  // systemd's Restart=on-failure starts it again, as a standby.
  set.server.background = [&merger, resolve = resolution(*store, metrics, [] { return size_t{0}; })] {
    if (merger.deposed()) return (void)std::raise(SIGTERM);
    resolve();
  };
  set.server.degraded = [&store] { return store->degraded(); };
  set.server.health_note = [&merger] { return merger.note(); };
  set.server.before_metrics = [&merger, &store, &metrics] {
    merger.refresh_lag();
    (void)report_pending(*store, metrics);
  };
  Server server(set.server, metrics, api.get());
  const int rc = run(server, set.server, "merger");
  return merger.deposed() ? 1 : rc;
}

int serve_query(const po::variables_map& vm, const fs::path& dir, ServeSettings& set, Keys& keys) {
  std::unique_ptr<Store> store;
  if (int rc = open_serving_store(vm, dir, set, store); rc != 0) return rc;
  Metrics metrics;
  metrics.set_log(log);
  auto api = query_api(*store, set, keys, metrics);
  api->set_read_only();
  keys.wipe();
  // With nats: the merger's lag, so that an operator sees how far behind the answers may be.
  std::unique_ptr<queue::JetStream> js;
  std::unique_ptr<LagWatch> lag;
  if (!set.queue.servers.empty()) {
    auto connected = connect_queue(set);
    if (!connected.ok()) return 1;
    js = std::move(connected.value());
    lag = std::make_unique<LagWatch>(*js, set.merger.durable, 0, metrics);
    set.server.background = [&lag] { (void)lag->poll(); };  // unknown while NATS is away: no log line a second
    set.server.background_interval_ms = 1000;
    set.server.health_note = [&lag] { return lag->note(); };
  }
  Server server(set.server, metrics, api.get());
  return run(server, set.server, "query");
}

int serve_all(const po::variables_map& vm, const fs::path& dir, ServeSettings& set, Keys& keys) {
  std::unique_ptr<Store> store;
  if (int rc = open_serving_store(vm, dir, set, store); rc != 0) return rc;
  if (!apply_blocklist(vm, *store, keys.rekey)) return 1;
  Metrics metrics;
  metrics.set_log(log);
  Ingest ingest(*store, keys.signing, keys.rekey, metrics, set.ingest);
  trust(ingest, set);
  auto api = query_api(*store, set, keys, metrics);
  keys.wipe();
  // Every query resolves what is pending first, so answers never lag.
  set.server.background = resolution(*store, metrics, [&ingest] { return ingest.waiting(); });
  set.server.degraded = [&store] { return store->degraded(); };
  Server server(set.server, ingest, metrics, api.get());
  return run(server, set.server, "all");
}

}  // namespace

int serve(const po::variables_map& vm) {
  const fs::path dir = vm["data-dir"].as<std::string>();
  Keys keys;
  if (!load_keys(dir, keys)) return 1;
  auto settings = serve_settings(vm);
  if (!settings.ok()) {
    log("error", settings.status().message);
    return 2;
  }
  ServeSettings& set = settings.value();
  std::error_code perm_ec;  // made before this version, or by hand: the store's directory is private too
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, perm_ec);
  if (perm_ec) log("warning", "cannot make " + dir.string() + " private (0700): " + perm_ec.message());
  switch (set.role) {
    case Role::Ingest: return serve_ingest(set, keys);
    case Role::Merger: return serve_merger(vm, dir, set, keys);
    case Role::Query: return serve_query(vm, dir, set, keys);
    case Role::All: break;
  }
  return serve_all(vm, dir, set, keys);
}

}  // namespace waymark::collector::app
