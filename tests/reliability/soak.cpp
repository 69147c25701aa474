// The soak: a durable-mode device process (device.cpp) records and uploads through the fault proxy
// to a real waymark-collector process; the soak kill -9's the device, and separately the collector
// (now and then stopping it with SIGTERM instead), at random moments, and restarts them. At the end
// the device drains what it holds, and the collector's events are compared with the device's log
// of every record that returned OK.
//
// Invariants: no OK'd event lost, none stored twice, nothing stored that was never recorded, the
// device outbox empty and nothing dead-lettered. Exits 1 when any is broken (the work directory
// is kept then), 0 otherwise, and prints the counts.
//
//   waymark-soak --collector <waymark-collector> --device <waymark-soak-device> [--kills 500]
//                [--fault-rate 0.03] [--collector-share 0.2] [--seed N] [--threads 3]
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <spawn.h>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <vector>

#include <sqlite3.h>

#include "collector_process.hpp"
#include "reliability/fault_proxy.hpp"

extern char** environ;

namespace fs = std::filesystem;

namespace {

struct Options {
  std::string collector, device;
  int kills = 500;
  double fault_rate = 0.03;
  double collector_share = 0.2;
  uint32_t seed = std::random_device{}();
  int threads = 3;
};

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "soak: %s\n", why.c_str());
  std::exit(2);
}

pid_t spawn(const std::vector<std::string>& args, const std::string& out_file = "") {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!out_file.empty())
    posix_spawn_file_actions_addopen(&actions, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) die("cannot start " + args[0]);
  return pid;
}

// Exit code, or 128 + signal.
int wait_for(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) die("waitpid failed");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// seq -> how many times the collector stores it.
std::map<long long, int> collected(const std::string& db) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) die("cannot open " + db);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(h, "SELECT name FROM events WHERE name LIKE 'soak-%'", -1, &st, nullptr) != SQLITE_OK) {
    die(sqlite3_errmsg(h));
  }
  std::map<long long, int> out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    ++out[std::atoll(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)) + 5)];
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--collector")
      o.collector = v;
    else if (k == "--device")
      o.device = v;
    else if (k == "--kills")
      o.kills = std::atoi(v.c_str());
    else if (k == "--fault-rate")
      o.fault_rate = std::atof(v.c_str());
    else if (k == "--collector-share")
      o.collector_share = std::atof(v.c_str());
    else if (k == "--seed")
      o.seed = static_cast<uint32_t>(std::strtoul(v.c_str(), nullptr, 10));
    else if (k == "--threads")
      o.threads = std::atoi(v.c_str());
    else
      die("unknown option " + k);
  }
  if (argc % 2 == 0 || o.collector.empty() || o.device.empty() || o.kills < 1 || o.threads < 1) {
    die("usage: waymark-soak --collector <exe> --device <exe> [--kills N] [--fault-rate R] [--collector-share S] "
        "[--seed N] [--threads N]");
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options opt = parse(argc, argv);
  std::string tmpl = (fs::temp_directory_path() / "waymark-soak-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) die("mkdtemp failed");
  const std::string dir = tmpl, store = dir + "/device", log = dir + "/records.log";
  std::printf("soak: seed=%u kills=%d fault_rate=%.3f dir=%s\n", opt.seed, opt.kills, opt.fault_rate, dir.c_str());
  std::fflush(stdout);
  std::mt19937 rng(opt.seed);
  const auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };

  const auto key = demo::CollectorProcess::generate_keys(opt.collector, dir + "/collector");
  std::string key_hex;
  for (const uint8_t b : key) key_hex += "0123456789abcdef"[b >> 4] + std::string(1, "0123456789abcdef"[b & 15]);
  int starts = 0;
  const auto start_collector = [&] {
    return std::make_unique<demo::CollectorProcess>(
        opt.collector, std::vector<std::string>{"serve", "--data-dir", dir + "/collector", "--port", "0"},
        dir + "/collector-" + std::to_string(++starts) + ".log");
  };
  auto collector = start_collector();
  waymark::test::FaultProxy proxy(opt.seed, opt.fault_rate);
  proxy.set_upstream(collector->port());
  const std::string url = "http://127.0.0.1:" + std::to_string(proxy.port()) + "/v1/batches";
  const std::vector<std::string> device = {opt.device, "record", store, url, key_hex, "1", log};
  int lives = 0;
  const auto start_device = [&] {
    auto args = device;
    args.push_back(std::to_string(static_cast<long long>(++lives) * 1000000));  // each life its own seqs
    args.push_back(std::to_string(opt.threads));
    return spawn(args);
  };

  int device_kills = 0, collector_kills = 0, collector_terms = 0;
  pid_t pid = start_device();
  while (device_kills + collector_kills < opt.kills) {
    std::this_thread::sleep_for(std::chrono::milliseconds(uniform(40, 400)));
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) die("the device process stopped by itself; see its stderr above");
    if (chance(opt.collector_share)) {
      proxy.set_upstream(0);
      if (chance(0.25)) {
        if (const int rc = collector->stop(SIGTERM); rc != 0) die("the collector exited " + std::to_string(rc));
        ++collector_terms;
      } else {
        collector->stop(SIGKILL);
        ++collector_kills;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(uniform(0, 300)));  // down for a while
      collector = start_collector();
      proxy.set_upstream(collector->port());
    } else {
      kill(pid, SIGKILL);
      wait_for(pid);
      ++device_kills;
      pid = start_device();
    }
  }
  kill(pid, SIGKILL);  // one more, not counted: the drain below restarts it
  wait_for(pid);

  // The device, restarted once more, uploads what it holds; faults stay on.
  const std::string drain_out = dir + "/drain.out";
  const int drained = wait_for(spawn({opt.device, "drain", store, url, key_hex, "1"}, drain_out));
  const std::string stats = read_file(drain_out);
  if (const int rc = collector->stop(SIGTERM); rc != 0) die("the collector exited " + std::to_string(rc));

  // The device's log: b = record called, o = returned OK, f = failed.
  std::set<long long> begun, ok, failed;
  {
    std::ifstream in(log);
    std::string tag;
    long long seq = 0;
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      if (!(fields >> tag >> seq)) continue;  // a line cut by the kill: its record was not promised
      (tag == "b" ? begun : tag == "o" ? ok : failed).insert(seq);
    }
  }
  const auto stored = collected(dir + "/collector/collector.db");
  long long lost = 0, duplicated = 0, unexpected = 0, in_flight_kept = 0;
  for (const long long s : ok) lost += stored.count(s) == 0;
  for (const auto& [s, n] : stored) {
    duplicated += n > 1;
    if (begun.count(s) == 0)
      ++unexpected;
    else if (ok.count(s) == 0 && failed.count(s) == 0)
      ++in_flight_kept;  // committed, killed before it returned
  }
  const auto number = [&](const char* key) {
    const auto at = stats.find(std::string(key) + "=");
    return at == std::string::npos ? -1 : std::atoll(stats.c_str() + at + std::strlen(key) + 1);
  };
  const long long queued = number("queued"), dead = number("dead_lettered");

  std::printf("soak: kills=%d device_kills=%d collector_kills=%d collector_sigterms=%d\n",
              device_kills + collector_kills, device_kills, collector_kills, collector_terms);
  std::printf("soak: records_ok=%zu records_failed=%zu in_flight_at_kill=%zu in_flight_kept=%lld stored=%zu\n",
              ok.size(), failed.size(), begun.size() - ok.size() - failed.size(), in_flight_kept, stored.size());
  std::printf("soak: drain exit=%d %s", drained, stats.empty() ? "(no stats)\n" : stats.c_str());
  std::printf("soak: proxy");
  uint64_t faults = 0;
  for (const auto& [what, n] : proxy.counts()) {
    std::printf(" %s=%llu", what.c_str(), static_cast<unsigned long long>(n));
    if (what != "connections" && what != "chunks") faults += n;
  }
  std::printf("\nSOAK lost=%lld duplicated=%lld unexpected=%lld failed=%zu left_on_device=%lld dead_lettered=%lld\n",
              lost, duplicated, unexpected, failed.size(), queued, dead);
  const bool pass = lost == 0 && duplicated == 0 && unexpected == 0 && failed.empty() && drained == 0 && queued == 0 &&
                    dead == 0 && !ok.empty() && (opt.fault_rate == 0 || faults > 0);
  if (!pass) {
    std::printf("soak: FAILED (seed %u); the work directory %s is kept\n", opt.seed, dir.c_str());
    return 1;
  }
  fs::remove_all(dir);
  std::printf("soak: passed\n");
  return 0;
} catch (const std::exception& e) {  // the collector would not start, or its keys not generate
  die(e.what());
}
