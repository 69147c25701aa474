// waymark-collector: the server a brand runs, and its key management commands.
#include <utility>  // before Asio

#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <thread>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>
#include <sodium.h>

#include "authority/erasure_token.hpp"
#include "authority/identity_assertion.hpp"
#include "store/sqlite/backup.hpp"
#include "config/options.hpp"
#include "common/identity/normalizer.hpp"
#include "common/identity/pseudonymizer.hpp"
#include "ingest/ingest.hpp"
#include "server/http_server.hpp"
#include "app.hpp"
#include "waymark/platform.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using namespace waymark::collector;

namespace waymark::collector::app {

// Structured logs: one JSON object per line with a UTC timestamp, never user data. Messages are
// escaped (a file name may hold quotes or control characters); invalid UTF-8 is replaced.
void log(const char* level, const std::string& msg) {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char date[32], ts[48];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(ts, sizeof ts, "%s.%03dZ", date, static_cast<int>(ms));
  const nlohmann::ordered_json line{{"ts", ts}, {"level", level}, {"msg", msg}};
  std::fprintf(stderr, "%s\n", line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
}

bool read_key(const fs::path& path, uint8_t* out, size_t len) {
  std::ifstream in(path, std::ios::binary);
  return in.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(len)) && in.peek() == EOF;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One `serve` per data directory: tombstones, the identity graph and the resolve queue live in one
// process's memory, so a second process would let an erased customer back in. The lock is an flock
// on <dir>/collector.lock, released by the kernel however the process ends (kill -9 included).
bool lock_data_dir(const fs::path& dir, bool standby) {
  const fs::path path = dir / "collector.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    log("error", "cannot create " + path.string() + ": " + std::strerror(errno));
    return false;
  }
  if (standby && ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    log("info", "standby: another merger is serving " + dir.string() + "; waiting to take over");
    while (::flock(fd, LOCK_EX | LOCK_NB) != 0) std::this_thread::sleep_for(std::chrono::seconds(1));
    log("info", "standby: the active merger is gone; this one takes over");
    return true;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    log("error", "another waymark-collector is serving " + dir.string() + " (" + path.string() +
                     " is locked): stop it first, or give this one its own --data-dir");
    ::close(fd);
    return false;
  }
  return true;  // held until the process exits
}

}  // namespace waymark::collector::app

namespace {

using namespace waymark::collector::app;

bool write_private(const fs::path& path, const uint8_t* data, size_t len) {
  waymark_platform_t p{};
  waymark_platform_posix(&p);  // atomic 0600 files under <dir>/keys
  return p.keystore_put(path.parent_path().parent_path().c_str(), path.filename().c_str(), data, len, nullptr) == 0;
}

// Never replaces a key: devices configured with it would have every batch refused from then on.
int keys_generate(const fs::path& dir, uint32_t key_id) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  const fs::path keys = dir / "keys";
  if (fs::exists(keys / ("collector_key_" + std::to_string(key_id)), ec)) {
    log("error", "key id " + std::to_string(key_id) + " exists already in " + keys.string() +
                     ": devices use it; pick a new id (or `keys rotate`)");
    return 1;
  }
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

// A new key seals new batches; every older key keeps being accepted for `days`, then is retired.
int keys_rotate(const fs::path& dir, uint32_t key_id, int64_t days) {
  const fs::path keys = dir / "keys";
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

// Reads "kind value" lines (e.g. `email noemail@brand.example`) from stdin and hands the SDK pseudonym
// of each to `use`, as the SDK computes it with the brand key, on the brand's machine. Returns the
// exit code: 2 without a brand key, 1 when a line was not `<kind> <value>`.
int with_pseudonyms(const po::variables_map& vm, const char* command,
                    const std::function<void(waymark_id_kind_t, const waymark::detail::Pseudonym&)>& use) {
  if (!vm.count("brand-key-file")) {
    log("error", std::string(command) + " needs --brand-key-file (32 raw bytes, the key the SDK is given)");
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
      std::cerr << "line " << line_no << ": skipped, the SDK refuses it (" << st.message << ")\n";
      continue;
    }
    use(k, pseudonymizer.value()->pseudonymize(k, id));
  }
  return bad == 0 ? 0 : 1;
}

// The pseudonyms of the brand's junk values, in hex, for the collector's `blocked-pseudonyms` file.
int blocklist(const po::variables_map& vm) {
  return with_pseudonyms(vm, "blocklist", [](waymark_id_kind_t, const waymark::detail::Pseudonym& p) {
    std::cout << waymark::detail::to_hex(p.data(), p.size()) << "\n";
  });
}

// `authority keygen`: the brand's authority key (Ed25519), kept by the brand's backend, never by
// the collector, which is given the printed public key (`brand-authority-key`).
int authority_keygen(const po::variables_map& vm) {
  if (!vm.count("key-file")) {
    log("error", "authority keygen needs --key-file (where the secret key goes, mode 0600)");
    return 2;
  }
  const fs::path path = vm["key-file"].as<std::string>();
  if (fs::exists(path)) {
    log("error", path.string() + " exists already: an authority key is never replaced in place");
    return 1;
  }
  uint8_t pk[32], sk[64];
  crypto_sign_keypair(pk, sk);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  const bool ok = fd >= 0 && ::write(fd, sk, sizeof sk) == static_cast<ssize_t>(sizeof sk) && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  sodium_memzero(sk, sizeof sk);
  if (!ok) {
    log("error", "cannot write " + path.string());
    return 1;
  }
  std::cout << "authority_public_key=" << waymark::detail::to_hex(pk, sizeof pk) << "\n";
  return 0;
}

// `authority erasure-token`: what the brand's backend signs once the customer has authenticated, for
// `waymark_client_forget_with_token`: the customer's identifiers (as `kind value` lines on stdin, turned
// into SDK pseudonyms here) and an expiry. Prints the token in hex.
int authority_erasure_token(const po::variables_map& vm) {
  uint8_t sk[64];
  if (!vm.count("key-file") || !read_key(vm["key-file"].as<std::string>(), sk, sizeof sk)) {
    log("error", "authority erasure-token needs --key-file with the 64-byte key from `authority keygen`");
    return 2;
  }
  const int64_t valid_for_s = vm["valid-for-s"].as<int64_t>();
  if (valid_for_s < 1 || valid_for_s > 7 * 24 * 3600) {
    sodium_memzero(sk, sizeof sk);
    log("error", "valid-for-s must be between 1 and 604800 (a week)");
    return 2;
  }
  ErasureToken token;
  token.expires_at_ms = now_ms() + valid_for_s * 1000;
  const int rc = with_pseudonyms(vm, "authority erasure-token", [&](waymark_id_kind_t k, const auto& p) {
    std::array<uint8_t, 32> key{};
    std::copy(p.begin(), p.end(), key.begin());
    token.pseudonyms.emplace_back(static_cast<uint8_t>(k), key);
  });
  if (rc != 0) {
    sodium_memzero(sk, sizeof sk);
    return rc;
  }
  auto signed_token = sign_erasure_token(token, sk);
  sodium_memzero(sk, sizeof sk);
  if (!signed_token.ok()) {
    log("error", signed_token.status().message);
    return 1;
  }
  std::cout << waymark::detail::to_hex(signed_token->data(), signed_token->size()) << "\n";
  return 0;
}

// `authority identity-assertion`: what the brand's backend signs at a customer's login, for
// `waymark_client_identify_verified`: each `kind value` line on stdin with the device key the app sent
// (`--device-key`, from waymark_client_device_key) and an expiry. Prints one assertion (hex) per line.
int authority_identity_assertion(const po::variables_map& vm) {
  std::array<uint8_t, 32> device{};
  if (!vm.count("device-key") || !waymark::detail::from_hex(vm["device-key"].as<std::string>(), device.data(), 32)) {
    log("error", "authority identity-assertion needs --device-key: 64 hex characters from waymark_client_device_key");
    return 2;
  }
  const int64_t valid_for_s = vm["valid-for-s"].as<int64_t>();
  if (valid_for_s < 1 || valid_for_s > 30 * 24 * 3600) {
    log("error", "valid-for-s must be between 1 and 2592000 (30 days)");
    return 2;
  }
  uint8_t sk[64];
  if (!vm.count("key-file") || !read_key(vm["key-file"].as<std::string>(), sk, sizeof sk)) {
    log("error", "authority identity-assertion needs --key-file with the 64-byte key from `authority keygen`");
    return 2;
  }
  const int rc = with_pseudonyms(vm, "authority identity-assertion", [&](waymark_id_kind_t k, const auto& p) {
    IdentityAssertion a{now_ms() + valid_for_s * 1000, static_cast<uint8_t>(k), {}, device};
    std::copy(p.begin(), p.end(), a.pseudonym.begin());
    const auto signed_assertion = sign_identity_assertion(a, sk);
    std::cout << waymark::detail::to_hex(signed_assertion.data(), signed_assertion.size()) << "\n";
  });
  sodium_memzero(sk, sizeof sk);
  return rc;
}

// `report attribution|clv`: the query API's reports, printed (JSON, or CSV with --format csv).
int report(const po::variables_map& vm, const std::string& which) {
  const fs::path dir = vm["data-dir"].as<std::string>();
  const std::string location = vm["store"].as<std::string>();
  if (location == "sqlite" && !fs::exists(dir / "collector.db")) {
    log("error", "no collector.db in " + dir.string());
    return 1;
  }
  auto store = open_store(location, dir.string());
  if (!store.ok()) {
    log("error", store.status().message);
    return 1;
  }
  auto settings = report_settings(vm);
  if (!settings.ok()) {
    log("error", settings.status().message);
    return 2;
  }
  uint8_t rekey[32];  // noise as the API releases it: keyed from the collector's secret
  if (settings.value().privacy.epsilon > 0) {
    if (!read_key(dir / "keys" / "rekey_secret", rekey, sizeof rekey)) {
      log("error", "report-epsilon needs the collector's keys/rekey_secret in " + dir.string());
      return 1;
    }
    settings.value().privacy.noise_key = report_noise_key(rekey);
    sodium_memzero(rekey, sizeof rekey);
  }
  QueryParams params;
  for (const char* name :
       {"model", "by", "goal", "conversion-touch", "from", "to", "format", "currency", "as-of", "months", "top"}) {
    std::string param(name);  // the query API's spelling
    std::replace(param.begin(), param.end(), '-', '_');
    if (vm.count(name)) params[param] = vm[name].as<std::string>();
  }
  if (vm.count("in-segment")) params["segment"] = vm["in-segment"].as<std::string>();
  const ApiResponse r = which == "attribution"
                            ? attribution_response(*store.value(), params, settings.value(), now_ms())
                            : clv_response(*store.value(), params, settings.value(), now_ms());
  (r.status == 200 ? std::cout : std::cerr) << r.body;
  return r.status == 200 ? 0 : 1;
}

// `backup`: a consistent copy of the store while the collector serves; `restore`: puts one back, with
// the collector stopped (the data directory's lock is taken, so a running serve makes it fail).
int backup_or_restore(const po::variables_map& vm, const std::string& which) {
  const fs::path dir = vm["data-dir"].as<std::string>();
  if (!vm.count("backup-file")) {
    log("error", which + " needs --backup-file FILE");
    return 2;
  }
  if (vm["store"].as<std::string>() != "sqlite") {
    log("error", which +
                     " is for the SQLite store; back up PostgreSQL with pg_dump or its own tools "
                     "(docs/collector.md, \"PostgreSQL\")");
    return 2;
  }
  const std::string file = vm["backup-file"].as<std::string>();
  if (which == "restore" && !lock_data_dir(dir)) return 1;
  const std::string db = (dir / "collector.db").string();
  const Status s = which == "backup" ? backup_sqlite_store(db, file) : restore_sqlite_store(file, db);
  if (!s.ok()) {
    log("error", which + ": " + s.message);
    return s.code == Errc::invalid ? 2 : 1;
  }
  log("info", which == "backup" ? "backed up " + db + " to " + file + " (back up keys/ separately)"
                                : "restored " + db + " from " + file);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) return 1;
  ::umask(077);  // every directory and file the collector makes is its own: 0700 and 0600
  const po::options_description opts = collector_options();
  auto parsed = parse_options(argc, argv, opts);
  if (!parsed.ok()) {
    std::cerr << "waymark-collector: " << parsed.status().message << "\n(waymark-collector --help lists the options)\n";
    return 2;
  }
  const po::variables_map& vm = parsed.value();
  if (vm.count("version")) {
    std::cout << "waymark-collector " << waymark::collector::kVersion << "\n";
    return 0;
  }
  auto command = vm.count("command") ? vm["command"].as<std::vector<std::string>>() : std::vector<std::string>{};
  const bool help_command = !command.empty() && command[0] == "help";
  if (help_command) command.erase(command.begin());
  if (vm.count("help") || help_command || command.empty()) {
    const std::string help = collector_help(command);
    if (help.empty()) {
      std::cerr << "waymark-collector: unknown command (waymark-collector --help lists the commands)\n";
      return 2;
    }
    (command.empty() && !vm.count("help") && !help_command ? std::cerr : std::cout) << help;
    return command.empty() && !vm.count("help") && !help_command ? 2 : 0;
  }
  if (command == std::vector<std::string>{"keys", "generate"}) {
    return keys_generate(vm["data-dir"].as<std::string>(), vm["key-id"].as<uint32_t>());
  }
  if (command == std::vector<std::string>{"keys", "rotate"}) {
    return keys_rotate(vm["data-dir"].as<std::string>(), vm["key-id"].as<uint32_t>(),
                       vm["retire-after-days"].as<int64_t>());
  }
  if (command == std::vector<std::string>{"blocklist"}) return blocklist(vm);
  if (command == std::vector<std::string>{"authority", "keygen"}) return authority_keygen(vm);
  if (command == std::vector<std::string>{"authority", "erasure-token"}) return authority_erasure_token(vm);
  if (command == std::vector<std::string>{"authority", "identity-assertion"}) return authority_identity_assertion(vm);
  if (command.size() == 2 && command[0] == "report" && (command[1] == "attribution" || command[1] == "clv")) {
    return report(vm, command[1]);
  }
  if (command == std::vector<std::string>{"serve"}) return app::serve(vm);
  if (command == std::vector<std::string>{"backup"} || command == std::vector<std::string>{"restore"}) {
    return backup_or_restore(vm, command[0]);
  }
  std::cerr << "waymark-collector: unknown command (waymark-collector --help lists the commands)\n";
  return 2;
}
