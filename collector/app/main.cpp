// waymark-collector: the server a brand runs, and its key management commands.
#include <utility>  // before Asio

#include <charconv>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/program_options.hpp>
#include <sodium.h>

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

std::string hex(const uint8_t* p, size_t n) {
  std::string s(n * 2 + 1, '\0');
  sodium_bin2hex(s.data(), s.size(), p, n);
  s.pop_back();
  return s;
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
  std::cout << "key_id=" << key_id << " public_key=" << hex(pk, 32) << "\n";
  return 0;
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
    keys.push_back(k);
  }
  uint8_t rekey[32];
  if (keys.empty() || !read_key(dir / "keys" / "rekey_secret", rekey, sizeof rekey)) {
    log("error", "no keys: run `waymark-collector keys generate --data-dir DIR` first");
    return 1;
  }
  auto store = open_sqlite_store((dir / "collector.db").string());
  if (!store.ok()) {
    log("error", store.status().message);
    return 1;
  }
  Metrics metrics;
  Ingest ingest(*store.value(), keys, rekey, metrics);
  sodium_memzero(rekey, sizeof rekey);
  ServerConfig config;
  config.address = vm["listen-address"].as<std::string>();
  config.port = vm["port"].as<uint16_t>();
  config.threads = vm["threads"].as<int>();
  config.max_body_bytes = vm["max-body-bytes"].as<size_t>();
  config.read_timeout_ms = vm["read-timeout-ms"].as<int64_t>();
  Server server(config, ingest, metrics);
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
  po::options_description opts("waymark-collector [serve|keys generate] [options]");
  opts.add_options()("help,h", "show this help")("config,c", po::value<std::string>(),
                                                 "config file (key = value lines)")(
      "data-dir", po::value<std::string>()->default_value("."), "directory for collector.db and keys/")(
      "listen-address", po::value<std::string>()->default_value("127.0.0.1"), "IP address to listen on")(
      "port", po::value<uint16_t>()->default_value(8080), "TCP port (0 = any free port)")(
      "threads", po::value<int>()->default_value(2), "I/O threads")(
      "max-body-bytes", po::value<size_t>()->default_value(16u << 20), "largest accepted request body")(
      "read-timeout-ms", po::value<int64_t>()->default_value(30000), "deadline to receive a request")(
      "key-id", po::value<uint32_t>()->default_value(1), "keys generate: id of the new key")(
      "command", po::value<std::vector<std::string>>(), "serve | keys generate");
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
  if (command == std::vector<std::string>{"serve"}) return serve(vm);
  std::cerr << "waymark-collector: unknown command\n" << opts;
  return 2;
}
