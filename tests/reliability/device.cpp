// The device process of the soak (tests/reliability/soak.cpp): a durable-mode recorder that uploads
// in the background, the way a kiosk or POS terminal runs, until it is killed with SIGKILL.
//
//   waymark-soak-device record <store> <url> <key-hex> <key-id> <log> <first-seq> <threads>
//   waymark-soak-device drain  <store> <url> <key-hex> <key-id>
//
// `record`: threads record events named "soak-<seq>" with consecutive sequence numbers. Each
// thread appends "b <seq>" to <log> before calling record and "o <seq>" once it returned OK (or
// "f <seq> <status>" when it failed), one write(2) per line, so the log a killed process leaves
// says exactly which records were promised. `drain`: uploads what is left and prints the stats.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <sodium.h>

#include "waymark/waymark.h"

namespace {

const uint8_t kBrandKey[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1};

int fail(const char* what) {
  std::fprintf(stderr, "soak-device: %s: %s\n", what, waymark_last_error_message());
  return 1;
}

void log_line(int fd, const char* tag, long long seq, int status) {
  char line[64];
  const int n = status == 0 ? std::snprintf(line, sizeof line, "%s %lld\n", tag, seq)
                            : std::snprintf(line, sizeof line, "%s %lld %d\n", tag, seq, status);
  if (::write(fd, line, static_cast<size_t>(n)) != n) std::abort();  // the log is the test's ground truth
}

long long stat_of(waymark_client_t* c, waymark_stat_t s) {
  int64_t v = -1;
  waymark_client_stat(c, s, &v);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6 || sodium_init() < 0) return 2;
  const std::string mode = argv[1], store = argv[2], url = argv[3];
  uint8_t pk[32];
  size_t len = 0;
  if (sodium_hex2bin(pk, sizeof pk, argv[4], std::strlen(argv[4]), nullptr, &len, nullptr) != 0 || len != 32) {
    return 2;
  }
  waymark_options_t* o = nullptr;
  if (waymark_options_new(&o) != WAYMARK_OK) return fail("options");
  waymark_options_set_store_path(o, store.data(), store.size());
  waymark_options_set_app_id(o, "soak", 4);
  waymark_options_set_brand_key(o, kBrandKey, 32, 1);
  waymark_options_set_durability(o, WAYMARK_DURABILITY_DURABLE);
  waymark_options_add_collector_key(o, pk, 32, static_cast<uint32_t>(std::atoi(argv[5])));
  waymark_options_set_collector_url(o, url.data(), url.size());
  waymark_options_set_upload_policy(o, 50, 1 << 20, 20, 200);
  waymark_options_set_retry_policy(o, 20, 400, 1000, 1500);
  waymark_client_t* c = nullptr;
  if (waymark_client_open(o, &c) < 0) return fail("open");

  if (mode == "record" && argc >= 9) {
    const int fd = ::open(argv[6], O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (fd < 0) return 2;
    if (waymark_client_set_consent(c, WAYMARK_PURPOSE_ANALYTICS, 1, "soak-v1", 7) != WAYMARK_OK) {
      return fail("consent");
    }
    std::atomic<long long> next{std::atoll(argv[7])};
    std::vector<std::thread> threads;
    for (int t = 0; t < std::atoi(argv[8]); ++t) {
      threads.emplace_back([&] {
        waymark_event_t* e = nullptr;
        for (;;) {
          const long long seq = next++;
          const std::string name = "soak-" + std::to_string(seq);
          if (waymark_event_new(WAYMARK_EVENT_TRACK, name.data(), name.size(), &e) != WAYMARK_OK) std::abort();
          waymark_event_set_channel(e, WAYMARK_CHANNEL_KIOSK);
          log_line(fd, "b", seq, 0);
          const waymark_status_t s = waymark_client_record(c, e);
          log_line(fd, s == WAYMARK_OK ? "o" : "f", seq, s);
          waymark_event_free(e);
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      });
    }
    for (auto& t : threads) t.join();  // never returns: the soak kills this process
    return 0;
  }
  if (mode != "drain") return 2;
  const waymark_status_t s = waymark_client_flush(c, 120000);
  std::printf("queued=%lld uploaded=%lld dead_lettered=%lld dropped=%lld unreadable=%lld\n",
              stat_of(c, WAYMARK_STAT_QUEUED), stat_of(c, WAYMARK_STAT_UPLOADED),
              stat_of(c, WAYMARK_STAT_DEAD_LETTERED), stat_of(c, WAYMARK_STAT_DROPPED),
              stat_of(c, WAYMARK_STAT_UNREADABLE));
  waymark_client_free(c);
  return s == WAYMARK_OK ? 0 : fail("flush");
}
