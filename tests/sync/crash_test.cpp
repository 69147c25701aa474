// Exactly-once under crashes: 100k events recorded through the C ABI, the uploader process
// killed with SIGKILL at random moments several times, restarted, and at the end the real
// collector holds exactly 100k distinct events and the device store is empty.
#include <catch2/catch.hpp>

#include <chrono>
#include <random>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>

#include <sodium.h>

#include "support/collector_fixture.hpp"
#include "support/test_support.hpp"

extern char** environ;

using namespace waymark::test;

namespace {

pid_t spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("100k events survive repeated SIGKILLs of the uploader and arrive exactly once", "[sync][crash]") {
  const std::string driver = WAYMARK_SYNC_DRIVER;
  Collector collector;  // the real collector: verified ingest, dedupe by event id, signed receipts
  TempDir dir;
  REQUIRE(wait_exit(spawn({driver, "record", dir.store(), "100000"})) == 0);

  char pk_hex[65];
  sodium_bin2hex(pk_hex, sizeof pk_hex, collector.public_key.data(), 32);
  const std::vector<std::string> upload = {driver,          "upload", dir.store(),
                                           collector.url(), pk_hex,   std::to_string(collector.key.key_id)};
  const unsigned seed = std::random_device{}();
  CAPTURE(seed);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> delay_ms(5, 120);
  int kills = 0;
  for (int round = 0; round < 8; ++round) {
    const pid_t pid = spawn(upload);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    if (kill(pid, SIGKILL) == 0) ++kills;
    wait_exit(pid);
  }
  REQUIRE(wait_exit(spawn(upload)) == 0);
  CHECK(kills >= 5);
  CHECK(collector.events() == 100001);  // + the consent record, each stored exactly once
  CHECK(stored_events(dir.store(), true).empty());
}
