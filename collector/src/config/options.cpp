#include "config/options.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace waymark::collector {

namespace po = boost::program_options;

namespace {

Status invalid(std::string message) {
  return Error(Errc::invalid, std::move(message));
}

// Boost 1.74's error_with_option_name::what() replaces each placeholder (%value%, %option%, …) until
// none is left, so a value or option name that contains one ("--port %value%x") never returns: the
// collector hung at start (found by fuzz_config). The user's text loses its '%' before what() runs.
struct Defused : po::error_with_option_name {
  static std::string message(po::error_with_option_name& e) {
    for (auto& entry : e.*(&Defused::m_substitutions)) std::replace(entry.second.begin(), entry.second.end(), '%', '_');
    return e.what();
  }
};

// Runs a Program_options call; its exceptions become INVALID_ARGUMENT with the user's message.
template <typename F>
Status guarded(F&& f) {
  try {
    f();
  } catch (po::error_with_option_name& e) {
    return invalid(Defused::message(e));
  } catch (const std::exception& e) {  // po::error, and what a malformed file makes the parser throw
    return invalid(e.what());
  }
  return Status::Ok();
}

}  // namespace

namespace {

po::options_description general_options() {
  po::options_description o("Options of every command");
  o.add_options()("help,h", "show this help (help <command>: that command's)")("version", "print the version and exit")(
      "config,c", po::value<std::string>(), "config file (key = value lines)")(
      "data-dir", po::value<std::string>()->default_value("."), "directory for collector.db and keys/")(
      "store", po::value<std::string>()->default_value(kDefaultStore), kStoreHelp);
  return o;
}

po::options_description serve_options() {
  po::options_description o("serve");
  o.add_options()("listen-address", po::value<std::string>()->default_value("127.0.0.1"), "IP address to listen on")(
      "port", po::value<int>()->default_value(8080), "TCP port (0 = any free port)")(
      "threads", po::value<int>()->default_value(2), "I/O threads (1..256)")(
      "max-body-bytes", po::value<size_t>()->default_value(16u << 20), "largest accepted request body")(
      "max-decompressed-ratio", po::value<double>()->default_value(1),
      "a compressed batch may inflate to at most this multiple of max-body-bytes (0.1..16)")(
      "read-timeout-ms", po::value<int64_t>()->default_value(30000), "deadline to receive a request")(
      "max-connections", po::value<int>()->default_value(20000),
      "connections served at once (1..1000000; lowered to fit the descriptor limit); beyond it each gets one "
      "answer: /healthz, or 503")(
      "tls-cert-file", po::value<std::string>(),
      "serve HTTPS (TLS 1.2+) with this PEM certificate chain; with tls-key-file; reloaded on SIGHUP")(
      "tls-key-file", po::value<std::string>(), "the PEM private key of tls-cert-file")(
      "tls-client-ca-file", po::value<std::string>(),
      "PEM CAs whose client certificates the query API requires (devices need none)")(
      "disk-reserve-mib", po::value<int64_t>()->default_value(64),
      "space held back on the data directory's file system for when it fills up (0..65536; 0: none)")(
      "api-token", po::value<std::vector<std::string>>()->composing(),
      "query API bearer token name:secret:scope[,scope] (repeatable); scopes profiles:read, profiles:export, "
      "identity:write, erasure:write, reports:read, spend:write")(
      "identity-limit", po::value<std::vector<std::string>>()->composing(),
      "most identifiers of a kind one profile may hold, kind=n (repeatable), e.g. email=5")(
      "blocked-pseudonyms", po::value<std::string>(), "file of SDK pseudonyms (hex lines) that never link")(
      "brand-authority-key", po::value<std::vector<std::string>>()->composing(),
      "Ed25519 public key (hex) of the brand's authority: erasure tokens it signs erase a whole customer, identity "
      "assertions it signs verify an identifier (repeatable)")(
      "verified-kinds", po::value<std::string>(),
      "identifier kinds that join profiles only with the brand's identity assertion, comma-separated, e.g. "
      "account_id,loyalty_id (default: none; needs brand-authority-key)")(
      "role", po::value<std::string>()->default_value("all"),
      "all (one process: ingest, store, query API), ingest (verify and queue batches on JetStream; no store), "
      "merger (commit queued batches to the store, the query API; a second merger waits as a standby) or query "
      "(the query API on the store or a replica of it, read-only); docs/scale-out.md")(
      "nats", po::value<std::string>(),
      "NATS server URLs of the queue, comma-separated (roles ingest and merger; query: to show the merger's lag)")(
      "queue-replicas", po::value<int>()->default_value(1),
      "copies JetStream keeps of each queued batch (1..5; 3 in a cluster of three NATS nodes)")(
      "max-queue-lag", po::value<int64_t>()->default_value(1000000),
      "an ingest node answers 503 while the merger is more than this many batches behind (0: never)")(
      "merger-ack-wait-ms", po::value<int64_t>()->default_value(10000),
      "a batch a merger took and did not ack is delivered again after this long, and a standby that takes over "
      "waits this long first (1000..600000)");
  return o;
}

po::options_description privacy_options() {
  po::options_description o("Reports (serve, report)");
  o.add_options()("report-k", po::value<int>()->default_value(10),
                  "reports merge rows of fewer distinct profiles into \"other\"")(
      "report-epsilon", po::value<double>()->default_value(0),
      "Laplace noise on released profile counts with this epsilon per count (0: none)")(
      "report-time-zone", po::value<std::string>()->default_value("UTC"),
      "the brand's time zone (IANA name, e.g. Europe/London): its days are the lifetime-value reports' days")(
      "segment", po::value<std::vector<std::string>>()->composing(),
      "rule segment \"name: expression\" (repeatable), e.g. \"pos_regulars: channel.pos[90d] >= 3\"; see "
      "docs/analytics.md")("segment-currency", po::value<std::string>(),
                           "currency RFM segments score (default: the only one present)")(
      "conversion-goal", po::value<std::vector<std::string>>()->composing(),
      "what attribution may count as a conversion besides a purchase, \"name: expression\" over one event "
      "(repeatable), e.g. \"signup: event.sign_up >= 1\"; see docs/analytics.md");
  return o;
}

po::options_description report_options() {
  po::options_description o("report");
  o.add_options()("model", po::value<std::string>(),
                  "attribution: first_touch|last_touch|linear|time_decay|position_based|markov")(
      "by", po::value<std::string>(),
      "attribution: channel|channel_group|campaign|campaign_source|device_type|segment")(
      "goal", po::value<std::string>(), "attribution: the conversion goal (default: purchase)")(
      "in-segment", po::value<std::string>(), "attribution: only the journeys of this segment's members")(
      "conversion-touch", po::value<std::string>(),
      "attribution: exclude (default: the converting event is not its own touch) | include")(
      "from", po::value<std::string>(), "attribution: start (YYYY-MM-DD or Unix ms)")(
      "to", po::value<std::string>(), "attribution: end, exclusive")("format", po::value<std::string>(),
                                                                     "attribution: json|csv")(
      "currency", po::value<std::string>(), "currency of the revenue")("as-of", po::value<std::string>(),
                                                                       "clv: the calibration end")(
      "months", po::value<std::string>(), "clv: horizon in months")("top", po::value<std::string>(),
                                                                    "clv: how many customers to list");
  return o;
}

po::options_description keys_options() {
  po::options_description o("keys");
  o.add_options()("key-id", po::value<uint32_t>()->default_value(1), "id of the new key")(
      "retire-after-days", po::value<int64_t>()->default_value(30), "rotate: how long older keys stay valid");
  return o;
}

po::options_description brand_key_options() {
  po::options_description o("The brand key (blocklist, authority erasure-token and identity-assertion)");
  o.add_options()("brand-key-file", po::value<std::string>(), "the brand identity key (32 bytes), as the SDK has it")(
      "key-epoch", po::value<uint32_t>()->default_value(0), "the brand key epoch")(
      "default-region", po::value<std::string>()->default_value("US"), "region for phone numbers");
  return o;
}

po::options_description authority_options() {
  po::options_description o("authority");
  o.add_options()("key-file", po::value<std::string>(), "the authority key (keygen writes it)")(
      "valid-for-s", po::value<int64_t>()->default_value(900),
      "erasure-token, identity-assertion: lifetime in seconds")("device-key", po::value<std::string>(),
                                                                "identity-assertion: the device's public key (hex)");
  return o;
}

po::options_description backup_options() {
  po::options_description o("backup, restore");
  o.add_options()("backup-file", po::value<std::string>(),
                  "backup: where the copy goes (never replaced); restore: "
                  "the copy to put back");
  return o;
}

struct Command {
  std::string_view name, what;
  std::vector<po::options_description (*)()> groups;
};

const std::vector<Command>& commands() {
  static const std::vector<Command> list = {
      {"serve", "serve devices, the query API, /healthz and /metrics", {serve_options, privacy_options}},
      {"keys generate", "make a collector key (and, once, the re-key secret)", {keys_options}},
      {"keys rotate", "add a collector key; older ones retire after a while", {keys_options}},
      {"blocklist", "the brand's junk values as SDK pseudonyms, for blocked-pseudonyms", {brand_key_options}},
      {"authority keygen", "the brand backend's authority key", {authority_options}},
      {"authority erasure-token", "an erasure token for a signed-in customer", {authority_options, brand_key_options}},
      {"authority identity-assertion",
       "an identity assertion for a customer's login on a device",
       {authority_options, brand_key_options}},
      {"backup", "a consistent copy of the store, while it serves", {backup_options}},
      {"restore", "put a backup back (the collector stopped)", {backup_options}},
      {"report attribution", "attribution from the store", {report_options, privacy_options}},
      {"report clv", "lifetime value from the store", {report_options, privacy_options}},
  };
  return list;
}

}  // namespace

po::options_description collector_options() {
  po::options_description all;
  all.add(general_options());
  for (auto group : {serve_options, privacy_options, report_options, keys_options, brand_key_options, authority_options,
                     backup_options}) {
    all.add(group());
  }
  all.add_options()("command", po::value<std::vector<std::string>>(), "the command (positional)");
  return all;
}

std::string collector_help(const std::vector<std::string>& command) {
  std::ostringstream out;
  std::string name;
  for (const std::string& word : command) name += (name.empty() ? "" : " ") + word;
  for (const Command& c : commands()) {
    if (c.name != name) continue;
    out << "waymark-collector " << c.name << " [options]: " << c.what << "\n\n";
    for (auto group : c.groups) out << group() << "\n";
    out << general_options();
    return out.str();
  }
  if (!name.empty()) return "";
  out << "waymark-collector <command> [options]\n\nCommands:\n";
  for (const Command& c : commands()) {
    out << "  " << c.name << std::string(c.name.size() < 30 ? 30 - c.name.size() : 1, ' ') << c.what << "\n";
  }
  out << "\nwaymark-collector help <command> (or <command> --help) lists that command's options.\n\n"
      << general_options();
  return out.str();
}

namespace {

// Boost quotes a malformed config line whole, and a line may hold a secret (an api-token): only the
// option name it starts with is kept.
Status redacted(Status s) {
  constexpr std::string_view kLine = "invalid line '";
  const size_t at = s.message.find(kLine);
  if (s.ok() || at == std::string::npos) return s;
  const size_t start = at + kLine.size();
  const size_t name_end = s.message.find_first_of(" =:'", start);
  s.message = s.message.substr(0, at) + "invalid line starting with '" + s.message.substr(start, name_end - start) +
              "' (expected name = value; the rest is not shown, it may hold a secret)";
  return s;
}

// ":<line>" of the first line of `path` that starts with the option a config error names ('name'), or "".
std::string where_in_config(const std::string& path, const std::string& error) {
  const size_t open = error.find('\''), close = open == std::string::npos ? open : error.find('\'', open + 1);
  if (close == std::string::npos) return "";
  std::string name = error.substr(open + 1, close - open - 1);
  if (name.rfind("--", 0) == 0) name.erase(0, 2);
  std::ifstream in(path);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const size_t start = line.find_first_not_of(" \t");
    if (start != std::string::npos && line.compare(start, name.size(), name) == 0) return ":" + std::to_string(n);
  }
  return "";
}

}  // namespace

Status parse_config(std::istream& in, const po::options_description& opts, po::variables_map& vm) {
  return redacted(guarded([&] {
    po::store(po::parse_config_file(in, opts), vm);
    po::notify(vm);
  }));
}

Result<po::variables_map> parse_options(int argc, const char* const* argv, const po::options_description& opts) {
  po::positional_options_description positional;
  positional.add("command", -1);
  po::variables_map vm;
  Status s =
      guarded([&] { po::store(po::command_line_parser(argc, argv).options(opts).positional(positional).run(), vm); });
  if (!s.ok()) return s;
  if (vm.count("config")) {
    const std::string path = vm["config"].as<std::string>();
    std::ifstream file(path);
    if (!file) return invalid("cannot read the config file " + path);
    s = parse_config(file, opts, vm);
    if (!s.ok()) return invalid(path + where_in_config(path, s.message) + ": " + s.message);
  } else {
    s = guarded([&] { po::notify(vm); });
  }
  if (!s.ok()) return s;
  return vm;
}

namespace {

// The `option` lines of the config (`name: expression` each), parsed, each name once.
template <class Rule, class Parse>
Status named_rules(const po::variables_map& vm, const char* option, Parse parse, std::vector<Rule>& out) {
  if (!vm.count(option)) return Status::Ok();
  for (const auto& spec : vm[option].as<std::vector<std::string>>()) {
    auto rule = parse(spec);
    if (!rule.ok()) return rule.status();
    for (const auto& other : out) {
      if (other.name == rule.value().name) return invalid(std::string(option) + " " + other.name + " is defined twice");
    }
    out.push_back(std::move(rule.value()));
  }
  return Status::Ok();
}

}  // namespace

Result<ReportSettings> report_settings(const po::variables_map& vm) {
  ReportSettings r;
  r.privacy = {vm["report-k"].as<int>(), vm["report-epsilon"].as<double>(), {}};
  if (r.privacy.k < 1 || !std::isfinite(r.privacy.epsilon) || r.privacy.epsilon < 0) {
    return invalid("report-k must be at least 1 and report-epsilon a finite number >= 0 (0: no noise)");
  }
  auto calendar = analytics::Calendar::in_zone(vm["report-time-zone"].as<std::string>());
  if (!calendar.ok()) return calendar.status();
  r.calendar = std::move(calendar.value());
  if (Status s = named_rules(vm, "segment", analytics::parse_rule_segment, r.segments); !s.ok()) return s;
  if (vm.count("segment-currency")) r.segment_currency = vm["segment-currency"].as<std::string>();
  if (Status s = named_rules(vm, "conversion-goal", analytics::parse_conversion_goal, r.goals); !s.ok()) return s;
  return r;
}

namespace {

// tls-cert-file and tls-key-file together, tls-client-ca-file only with them. The files are read by the
// server's start (Server::start), which names the one it cannot use.
Status tls_settings(const po::variables_map& vm, ServerConfig& server) {
  const auto file = [&](const char* name) { return vm.count(name) ? vm[name].as<std::string>() : std::string(); };
  server.tls_cert_file = file("tls-cert-file");
  server.tls_key_file = file("tls-key-file");
  server.tls_client_ca_file = file("tls-client-ca-file");
  if (server.tls_cert_file.empty() != server.tls_key_file.empty()) {
    return invalid("tls-cert-file and tls-key-file go together");
  }
  if (server.tls_cert_file.empty() && !server.tls_client_ca_file.empty()) {
    return invalid("tls-client-ca-file needs tls-cert-file and tls-key-file");
  }
  return Status::Ok();
}

// "account_id,loyalty_id" -> their kinds; each must be a kind that links.
Result<std::vector<uint8_t>> verified_kinds(const std::string& spec) {
  std::vector<uint8_t> out;
  std::stringstream in(spec);
  std::string name;
  while (std::getline(in, name, ',')) {
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    if (name.empty()) continue;
    const auto kind = kind_from_name(name);
    if (!kind || *kind == kSlotKind || !IdentityRules::links(*kind)) {
      return invalid("verified-kinds lists identifier kinds that link, e.g. account_id,loyalty_id,email (got " + name +
                     ")");
    }
    out.push_back(*kind);
  }
  return out;
}

}  // namespace

namespace {

// The role, and for a cluster's roles the queue they share.
Status queue_settings(const po::variables_map& vm, ServeSettings& s) {
  const std::string role = vm["role"].as<std::string>();
  if (role != "all" && role != "ingest" && role != "merger" && role != "query") {
    return invalid("role must be all, ingest, merger or query");
  }
  s.role = role == "all" ? Role::All : role == "ingest" ? Role::Ingest : role == "merger" ? Role::Merger : Role::Query;
  if (s.role == Role::All) {
    return vm.count("nats") ? invalid("nats is for the cluster's roles (role = all has no queue)") : Status::Ok();
  }
  if (s.role == Role::Query) {  // optional: only to show the merger's lag
    s.queue.servers = vm.count("nats") ? vm["nats"].as<std::string>() : "";
    s.queue.watch_only = true;
    return Status::Ok();
  }
  if (!vm.count("nats") || vm["nats"].as<std::string>().empty()) return invalid("role " + role + " needs nats = URL");
  s.queue.servers = vm["nats"].as<std::string>();
  const int replicas = vm["queue-replicas"].as<int>();
  if (replicas < 1 || replicas > 5) return invalid("queue-replicas must be between 1 and 5");
  s.queue.replicas = replicas;
  const int64_t max_lag = vm["max-queue-lag"].as<int64_t>();
  if (max_lag < 0) return invalid("max-queue-lag must be 0 (never) or more");
  s.max_queue_lag = static_cast<uint64_t>(max_lag);
  s.merger.ack_wait_ms = vm["merger-ack-wait-ms"].as<int64_t>();
  if (s.merger.ack_wait_ms < 1000 || s.merger.ack_wait_ms > 600000) {
    return invalid("merger-ack-wait-ms must be between 1000 and 600000");
  }
  return Status::Ok();
}

}  // namespace

Result<ServeSettings> serve_settings(const po::variables_map& vm) {
  ServeSettings s;
  const auto list = [&](const char* name) {
    return vm.count(name) ? vm[name].as<std::vector<std::string>>() : std::vector<std::string>{};
  };
  for (const auto& spec : list("identity-limit")) {
    if (!s.rules.set_limit(spec)) {
      return invalid("identity-limit must be <kind>=<n> for a linking kind, e.g. email=5 (got " + spec + ")");
    }
  }
  auto reports = report_settings(vm);
  if (!reports.ok()) return reports.status();
  s.reports = std::move(reports.value());
  for (const auto& spec : list("api-token")) {
    std::string error;
    auto t = parse_api_token(spec, &error);
    if (!t) return invalid(error);
    s.tokens.push_back(std::move(*t));
  }
  s.server.address = vm["listen-address"].as<std::string>();
  // Read as int and checked here: Boost 1.74's lexical_cast to unsigned short overflows a signed int
  // on the way for long digit strings (UBSan, found by fuzz_config).
  const int port = vm["port"].as<int>();
  if (port < 0 || port > 65535) return invalid("port must be between 0 and 65535");
  s.server.port = static_cast<uint16_t>(port);
  s.server.threads = vm["threads"].as<int>();
  s.server.max_body_bytes = vm["max-body-bytes"].as<size_t>();
  s.server.read_timeout_ms = vm["read-timeout-ms"].as<int64_t>();
  if (s.server.threads < 1 || s.server.threads > 256) return invalid("threads must be between 1 and 256");
  if (s.server.max_body_bytes < 1024) return invalid("max-body-bytes must be at least 1024");
  if (s.server.read_timeout_ms < 1) return invalid("read-timeout-ms must be at least 1");
  s.server.max_connections = vm["max-connections"].as<int>();
  if (s.server.max_connections < 1 || s.server.max_connections > 1000000) {
    return invalid("max-connections must be between 1 and 1000000");
  }
  if (auto tls = tls_settings(vm, s.server); !tls.ok()) return tls;
  const double ratio = vm["max-decompressed-ratio"].as<double>();
  if (!(ratio >= 0.1 && ratio <= 16)) return invalid("max-decompressed-ratio must be between 0.1 and 16");
  s.ingest.max_batch_bytes = static_cast<size_t>(ratio * static_cast<double>(s.server.max_body_bytes));
  const int64_t reserve = vm["disk-reserve-mib"].as<int64_t>();
  if (reserve < 0 || reserve > 65536) return invalid("disk-reserve-mib must be between 0 and 65536");
  s.disk_reserve_bytes = static_cast<uint64_t>(reserve) << 20;
  for (const auto& hex : list("brand-authority-key")) {
    std::array<uint8_t, 32> key{};
    if (!detail::from_hex(hex, key.data(), key.size())) {
      return invalid("brand-authority-key must be 64 hex characters (from `authority keygen`)");
    }
    s.authority_keys.push_back(key);
  }
  if (vm.count("verified-kinds")) {
    auto kinds = verified_kinds(vm["verified-kinds"].as<std::string>());
    if (!kinds.ok()) return kinds.status();
    if (s.authority_keys.empty() && !kinds.value().empty()) {
      return invalid("verified-kinds needs brand-authority-key: without it no identifier of those kinds could link");
    }
    s.verified_kinds = std::move(kinds.value());
  }
  if (auto q = queue_settings(vm, s); !q.ok()) return q;
  return s;
}

}  // namespace waymark::collector
