// waymark-collector: the server a brand runs, and its key management commands.
#include <utility>  // before Asio

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/program_options.hpp>
#include <sodium.h>

#include "identity/normalizer.hpp"
#include "identity/pseudonymizer.hpp"
#include "ingest/ingest.hpp"
#include "server/http_server.hpp"
#include "waymark/platform.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using namespace waymark::collector;

namespace {

// Structured logs: one JSON object per line, never user data.
void log(const char* level, const std::string& msg) {
  std::fprintf(stderr, "{\"level\":\"%s\",\"msg\":\"%s\"}\n", level, msg.c_str());
}

bool read_key(const fs::path& path, uint8_t* out, size_t len) {
  std::ifstream in(path, std::ios::binary);
  return in.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(len)) && in.peek() == EOF;
}

bool write_private(const fs::path& path, const uint8_t* data, size_t len) {
  waymark_platform_t p{};
  waymark_platform_posix(&p);  // atomic 0600 files under <dir>/keys
  return p.keystore_put(path.parent_path().parent_path().c_str(), path.filename().c_str(), data, len, nullptr) == 0;
}

int keys_generate(const fs::path& dir, uint32_t key_id) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  const fs::path keys = dir / "keys";
  uint8_t pk[32], sk[64];
  crypto_sign_keypair(pk, sk);
  if (!write_private(keys / ("collector_key_" + std::to_string(key_id)), sk, sizeof sk)) {
    log("error", "cannot write the collector key");
    return 1;
  }
  sodium_memzero(sk, sizeof sk);
  if (!fs::exists(keys / "rekey_secret")) {
    uint8_t secret[32];
    randombytes_buf(secret, sizeof secret);
    const bool ok = write_private(keys / "rekey_secret", secret, sizeof secret);
    sodium_memzero(secret, sizeof secret);
    if (!ok) {
      log("error", "cannot write the re-key secret");
      return 1;
    }
  }
  // The SDK is configured with this public key and key id.
  std::cout << "key_id=" << key_id << " public_key=" << waymark::detail::to_hex(pk, 32) << "\n";
  return 0;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A new key seals new batches; every older key keeps being accepted for `days`, then is retired.
int keys_rotate(const fs::path& dir, uint32_t key_id, int64_t days) {
  const fs::path keys = dir / "keys";
  if (fs::exists(keys / ("collector_key_" + std::to_string(key_id)))) {
    log("error", "key id " + std::to_string(key_id) + " exists already: pick a new id");
    return 1;
  }
  std::error_code ec;
  std::vector<fs::path> older;
  for (const auto& entry : fs::directory_iterator(keys, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("collector_key_", 0) == 0 && name.find('.') == std::string::npos) older.push_back(entry.path());
  }
  if (ec || older.empty()) {
    log("error", "no keys to rotate: run `waymark-collector keys generate` first");
    return 1;
  }
  if (int rc = keys_generate(dir, key_id); rc != 0) return rc;
  const std::string retire_at = std::to_string(now_ms() + days * 24 * 3600 * 1000);
  for (const fs::path& k : older) {
    const fs::path marker = k.string() + ".retire_at";
    if (fs::exists(marker)) continue;  // an earlier rotation already set its date
    std::ofstream(marker) << retire_at << "\n";
  }
  log("info", "rotated: older keys are accepted until " + retire_at + " (Unix ms)");
  return 0;
}

// Reads "kind value" lines (e.g. `email noemail@brand.example`) and prints the SDK pseudonym of each,
// in hex, for the collector's `blocked-pseudonyms` file. The brand key never reaches the collector.
int blocklist(const po::variables_map& vm) {
  if (!vm.count("brand-key-file")) {
    log("error", "blocklist needs --brand-key-file (32 raw bytes, the key the SDK is given)");
    return 2;
  }
  uint8_t brand_key[32];
  if (!read_key(vm["brand-key-file"].as<std::string>(), brand_key, sizeof brand_key)) {
    log("error", "the brand key file must hold exactly 32 bytes");
    return 1;
  }
  auto pseudonymizer = waymark::detail::Pseudonymizer::create(brand_key, vm["key-epoch"].as<uint32_t>());
  sodium_memzero(brand_key, sizeof brand_key);
  if (!pseudonymizer.ok()) return 1;
  waymark::detail::NormalizerConfig config;
  config.default_region = vm["default-region"].as<std::string>();
  std::string line;
  int line_no = 0, bad = 0;
  while (std::getline(std::cin, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.find(' ');
    const auto kind = kind_from_name(line.substr(0, space));
    if (space == std::string::npos || !kind || *kind == kSlotKind) {
      std::cerr << "line " << line_no << ": expected `<kind> <value>` with a kind such as email or phone\n";
      ++bad;
      continue;
    }
    waymark::detail::NormalizedId id;
    const auto k = static_cast<waymark_id_kind_t>(*kind);
    if (auto st = normalize_identifier(k, std::string_view(line).substr(space + 1), config, id); !st.ok()) {
      // The SDK refuses these values itself (junk or invalid), so they never arrive.
      std::cerr << "line " << line_no << ": skipped, the SDK refuses it (" << waymark_status_name(st.code) << ")\n";
      continue;
    }
    const auto p = pseudonymizer.value()->pseudonymize(k, id);
    std::cout << waymark::detail::to_hex(p.data(), p.size()) << "\n";
  }
  return bad == 0 ? 0 : 1;
}

// report-k and report-epsilon, validated.
std::optional<ReportPrivacy> report_privacy(const po::variables_map& vm) {
  ReportPrivacy p{vm["report-k"].as<int>(), vm["report-epsilon"].as<double>()};
  if (p.k < 1 || !std::isfinite(p.epsilon) || p.epsilon < 0) {
    log("error", "report-k must be at least 1 and report-epsilon a finite number >= 0 (0: no noise)");
    return std::nullopt;
  }
  return p;
}

// `report attribution|clv`: the query API's reports, printed (JSON, or CSV with --format csv).
int report(const po::variables_map& vm, const std::string& which) {
  const fs::path dir = vm["data-dir"].as<std::string>();
  if (!fs::exists(dir / "collector.db")) {
    log("error", "no collector.db in " + dir.string());
    return 1;
  }
  auto store = open_sqlite_store((dir / "collector.db").string());
  if (!store.ok()) {
    log("error", store.status().message);
    return 1;
  }
  const auto privacy = report_privacy(vm);
  if (!privacy) return 2;
  QueryParams params;
  for (const char* name : {"model", "by", "from", "to", "format", "currency", "as_of", "months", "top"}) {
    if (vm.count(name)) params[name] = vm[name].as<std::string>();
  }
  const ApiResponse r = which == "attribution" ? attribution_response(*store.value(), params, *privacy, now_ms())
                                               : clv_response(*store.value(), params, now_ms());
  (r.status == 200 ? std::cout : std::cerr) << r.body;
  return r.status == 200 ? 0 : 1;
}

int serve(const po::variables_map& vm) {
  const fs::path dir = vm["data-dir"].as<std::string>();
  std::vector<CollectorKey> keys;
  std::error_code ec;
  fs::directory_iterator key_files(dir / "keys", ec);
  if (ec) {
    log("error", "no key directory: run `waymark-collector keys generate --data-dir DIR` first");
    return 1;
  }
  for (const auto& entry : key_files) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("collector_key_", 0) != 0) continue;
    CollectorKey k;
    if (name.find('.') != std::string::npos) continue;  // collector_key_<id>.retire_at
    const char* digits = name.c_str() + 14;
    const auto [end, err] = std::from_chars(digits, name.c_str() + name.size(), k.key_id);
    if (err != std::errc() || end != name.c_str() + name.size()) {
      log("warning", "ignoring key file with a malformed name: " + name);
      continue;
    }
    if (!read_key(entry.path(), k.secret.data(), k.secret.size())) {
      log("error", "unreadable collector key file " + name);
      return 1;
    }
    if (std::ifstream marker(entry.path().string() + ".retire_at"); marker && !(marker >> k.retire_at_ms)) {
      log("error", "unreadable retire date for key " + name);
      return 1;
    }
    if (k.retire_at_ms <= now_ms()) {
      log("info", "key id " + std::to_string(k.key_id) + " is retired");
      continue;
    }
    keys.push_back(k);
  }
  uint8_t rekey[32];
  if (keys.empty() || !read_key(dir / "keys" / "rekey_secret", rekey, sizeof rekey)) {
    log("error", "no keys: run `waymark-collector keys generate --data-dir DIR` first");
    return 1;
  }
  IdentityRules rules;
  if (vm.count("identity-limit")) {
    for (const auto& spec : vm["identity-limit"].as<std::vector<std::string>>()) {
      if (!rules.set_limit(spec)) {
        log("error", "identity-limit must be <kind>=<n> for a linking kind, e.g. email=5 (got " + spec + ")");
        return 2;
      }
    }
  }
  const auto privacy = report_privacy(vm);
  if (!privacy) return 2;
  std::vector<analytics::RuleSegment> segments;
  if (vm.count("segment")) {
    for (const auto& spec : vm["segment"].as<std::vector<std::string>>()) {
      auto rule = analytics::parse_rule_segment(spec);
      if (!rule.ok()) {
        log("error", rule.status().message);
        return 2;
      }
      for (const auto& other : segments) {
        if (other.name == rule.value().name) {
          log("error", "segment " + other.name + " is defined twice");
          return 2;
        }
      }
      segments.push_back(std::move(rule.value()));
    }
  }
  std::vector<ApiToken> tokens;
  if (vm.count("api-token")) {
    for (const auto& spec : vm["api-token"].as<std::vector<std::string>>()) {
      std::string error;
      auto t = parse_api_token(spec, &error);
      if (!t) {
        log("error", error);
        return 2;
      }
      tokens.push_back(std::move(*t));
    }
  }
  auto store = open_sqlite_store((dir / "collector.db").string(), 5000, rules);
  if (!store.ok()) {
    log("error", store.status().message);
    return 1;
  }
  if (vm.count("blocked-pseudonyms")) {  // SDK pseudonyms in hex, one per line (see `blocklist`)
    std::ifstream in(vm["blocked-pseudonyms"].as<std::string>());
    std::vector<Key32> blocked;
    std::string line;
    while (in >> line) {
      uint8_t raw[32];
      if (!waymark::detail::from_hex(line, raw, sizeof raw)) {
        log("error", "blocked-pseudonyms: every line must be 64 hex characters");
        return 2;
      }
      blocked.push_back(rekey_pseudonym(raw, rekey));
    }
    if (!in.eof()) {
      log("error", "cannot read the blocked-pseudonyms file");
      return 1;
    }
    if (auto st = store.value()->set_blocked(blocked); !st.ok()) {
      log("error", st.message);
      return 1;
    }
    log("info", "blocked pseudonyms: " + std::to_string(blocked.size()));
  }
  Metrics metrics;
  Ingest ingest(*store.value(), keys, rekey, metrics);
  const CollectorKey newest = *std::max_element(
      keys.begin(), keys.end(), [](const CollectorKey& a, const CollectorKey& b) { return a.key_id < b.key_id; });
  QueryApi api(*store.value(), tokens, rekey, newest, metrics);
  api.set_report_privacy(*privacy);
  api.set_segments(std::move(segments), vm.count("segment-currency") ? vm["segment-currency"].as<std::string>() : "");
  sodium_memzero(rekey, sizeof rekey);
  ServerConfig config;
  config.address = vm["listen-address"].as<std::string>();
  config.port = vm["port"].as<uint16_t>();
  config.threads = vm["threads"].as<int>();
  config.max_body_bytes = vm["max-body-bytes"].as<size_t>();
  config.read_timeout_ms = vm["read-timeout-ms"].as<int64_t>();
  Store& s = *store.value();
  config.background = [&s, &metrics] {  // identity resolution follows ingest in commit order
    if (auto r = s.resolve_pending(20000); !r.ok()) log("warning", "identity resolution: " + r.status().message);
    if (auto p = s.pending_events(); p.ok()) metrics.set("identity_pending_events", static_cast<uint64_t>(p.value()));
    const auto c = s.identity_counters();
    metrics.set("identity_merges_total", c.merges);
    metrics.set("identity_refusals_total", c.refusals);
  };
  Server server(config, ingest, metrics, &api);
  if (auto s = server.start(); !s.ok()) {
    log("error", s.message);
    return 1;
  }
  log("info", "listening on " + config.address + ":" + std::to_string(server.port()));
  // SIGTERM / SIGINT: stop accepting, finish requests in flight (each commits before it answers), exit 0.
  boost::asio::io_context signals_ioc;
  boost::asio::signal_set signals(signals_ioc, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int) { server.stop(); });
  signals_ioc.run();
  log("info", "stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) return 1;
  po::options_description opts(
      "waymark-collector [serve|keys generate|keys rotate|blocklist|report attribution|report clv] [options]");
  opts.add_options()("help,h", "show this help")("config,c", po::value<std::string>(),
                                                 "config file (key = value lines)")(
      "data-dir", po::value<std::string>()->default_value("."), "directory for collector.db and keys/")(
      "listen-address", po::value<std::string>()->default_value("127.0.0.1"), "IP address to listen on")(
      "port", po::value<uint16_t>()->default_value(8080), "TCP port (0 = any free port)")(
      "threads", po::value<int>()->default_value(2), "I/O threads")(
      "max-body-bytes", po::value<size_t>()->default_value(16u << 20), "largest accepted request body")(
      "read-timeout-ms", po::value<int64_t>()->default_value(30000), "deadline to receive a request")(
      "api-token", po::value<std::vector<std::string>>()->composing(),
      "query API bearer token name:secret:scope[,scope] (repeatable); scopes profiles:read, profiles:export, "
      "identity:write, erasure:write, reports:read")(
      "identity-limit", po::value<std::vector<std::string>>()->composing(),
      "most identifiers of a kind one profile may hold, kind=n (repeatable), e.g. email=5")(
      "blocked-pseudonyms", po::value<std::string>(), "file of SDK pseudonyms (hex lines) that never link")(
      "report-k", po::value<int>()->default_value(10), "reports merge rows of fewer distinct profiles into \"other\"")(
      "report-epsilon", po::value<double>()->default_value(0),
      "Laplace noise on released profile counts with this epsilon per count (0: none)")(
      "segment", po::value<std::vector<std::string>>()->composing(),
      "rule segment \"name: expression\" (repeatable), e.g. \"pos_regulars: channel.pos[90d] >= 3\"; see "
      "docs/analytics.md")("segment-currency", po::value<std::string>(),
                           "currency RFM segments score (default: the only one present)")(
      "model", po::value<std::string>(),
      "report attribution: first_touch|last_touch|linear|time_decay|position_based|markov")(
      "by", po::value<std::string>(), "report attribution: channel|campaign")(
      "from", po::value<std::string>(), "report attribution: start (YYYY-MM-DD or Unix ms)")(
      "to", po::value<std::string>(), "report attribution: end, exclusive")("format", po::value<std::string>(),
                                                                            "report attribution: json|csv")(
      "currency", po::value<std::string>(), "report: currency of the revenue")("as_of", po::value<std::string>(),
                                                                               "report clv: the calibration end")(
      "months", po::value<std::string>(), "report clv: horizon in months")("top", po::value<std::string>(),
                                                                           "report clv: how many customers to list")(
      "key-id", po::value<uint32_t>()->default_value(1), "keys generate|rotate: id of the new key")(
      "retire-after-days", po::value<int64_t>()->default_value(30), "keys rotate: how long older keys stay valid")(
      "brand-key-file", po::value<std::string>(), "blocklist: the brand identity key (32 bytes)")(
      "key-epoch", po::value<uint32_t>()->default_value(0), "blocklist: the brand key epoch")(
      "default-region", po::value<std::string>()->default_value("US"), "blocklist: region for phone numbers")(
      "command", po::value<std::vector<std::string>>(),
      "serve | keys generate | keys rotate | blocklist | report attribution | report clv");
  po::positional_options_description positional;
  positional.add("command", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).positional(positional).run(), vm);
    if (vm.count("config")) {
      std::ifstream file(vm["config"].as<std::string>());
      if (!file) throw po::error("cannot read the config file");
      po::store(po::parse_config_file(file, opts), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "waymark-collector: " << e.what() << "\n" << opts;
    return 2;
  }
  const auto command = vm.count("command") ? vm["command"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (vm.count("help") || command.empty()) {
    std::cout << opts;
    return vm.count("help") ? 0 : 2;
  }
  if (command == std::vector<std::string>{"keys", "generate"}) {
    return keys_generate(vm["data-dir"].as<std::string>(), vm["key-id"].as<uint32_t>());
  }
  if (command == std::vector<std::string>{"keys", "rotate"}) {
    return keys_rotate(vm["data-dir"].as<std::string>(), vm["key-id"].as<uint32_t>(),
                       vm["retire-after-days"].as<int64_t>());
  }
  if (command == std::vector<std::string>{"blocklist"}) return blocklist(vm);
  if (command.size() == 2 && command[0] == "report" && (command[1] == "attribution" || command[1] == "clv")) {
    return report(vm, command[1]);
  }
  if (command == std::vector<std::string>{"serve"}) return serve(vm);
  std::cerr << "waymark-collector: unknown command\n" << opts;
  return 2;
}
