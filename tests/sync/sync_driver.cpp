// A device process for crash tests: records events, or uploads what is queued, so a test can
// kill it with SIGKILL at any point and start it again on the same store.
//   sync_driver record <store> <count>
//   sync_driver upload <store> <url> <collector-public-key-hex> <key-id>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <sodium.h>

#include "waymark/waymark.h"

namespace {
const uint8_t kBrandKey[32] = {4, 4, 4};

int fail(const char* what) {
  std::fprintf(stderr, "sync_driver: %s: %s\n", what, waymark_last_error_message());
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return 2;
  const std::string mode = argv[1], store = argv[2];
  waymark_options_t* o = nullptr;
  if (waymark_options_new(&o) != WAYMARK_OK) return fail("options");
  waymark_options_set_store_path(o, store.data(), store.size());
  waymark_options_set_app_id(o, "crash-test", 10);
  waymark_options_set_brand_key(o, kBrandKey, 32, 1);
  if (mode == "upload") {
    if (argc < 6) return 2;
    uint8_t pk[32];
    size_t len = 0;
    if (sodium_hex2bin(pk, sizeof pk, argv[4], std::strlen(argv[4]), nullptr, &len, nullptr) != 0 || len != 32) {
      return 2;
    }
    waymark_options_add_collector_key(o, pk, 32, static_cast<uint32_t>(std::atoi(argv[5])));
    waymark_options_set_collector_url(o, argv[3], std::strlen(argv[3]));
    waymark_options_set_upload_policy(o, 500, 1 << 20, 100, 60000);
    waymark_options_set_retry_policy(o, 20, 200, 1000, 5000);
  }
  waymark_client_t* c = nullptr;
  if (waymark_client_open(o, &c) < 0) return fail("open");
  if (mode == "record") {
    waymark_client_set_consent(c, WAYMARK_PURPOSE_ANALYTICS, 1, "v1", 2);
    waymark_event_t* e = nullptr;
    waymark_event_new(WAYMARK_EVENT_TRACK, "tick", 4, &e);
    const long n = std::atol(argv[3]);
    for (long i = 0; i < n; ++i) {
      waymark_event_set_int(e, "i", 1, i);
      while (waymark_client_record(c, e) == WAYMARK_ERR_QUEUE_FULL) waymark_client_flush(c, 1000);
    }
    waymark_event_free(e);
  }
  const waymark_status_t s = waymark_client_flush(c, 120000);
  int64_t queued = -1;
  waymark_client_stat(c, WAYMARK_STAT_QUEUED, &queued);
  waymark_client_free(c);
  if (s != WAYMARK_OK) return fail("flush");
  std::printf("queued=%lld\n", static_cast<long long>(queued));
  return 0;
}
