// Boards built without the SDK's own HTTP client (WAYMARK_WITH_BUILTIN_TRANSPORT=OFF): a collector URL
// needs the host's transport, and says so; with one, uploads go through it.
#include <catch2/catch.hpp>

#include <string>

#include <sodium.h>

#include "support/test_support.hpp"

using namespace waymark::test;

#ifndef WAYMARK_WITH_BUILTIN_TRANSPORT
namespace {
int g_posts = 0;
waymark_status_t offline(const char*, const uint8_t*, size_t, int32_t*, uint8_t*, size_t, size_t*, int64_t*, void*) {
  ++g_posts;
  return WAYMARK_ERR_NETWORK;  // the board's modem is down
}
}  // namespace

TEST_CASE("without the built-in transport, a collector URL needs the host's transport", "[transport]") {
  TempDir dir;
  ClientConfig config;
  config.collector_url = "http://127.0.0.1:9/v1/batches";
  std::array<uint8_t, 32> collector_pk{};
  uint8_t collector_sk[64];
  crypto_sign_keypair(collector_pk.data(), collector_sk);
  config.collector_keys = {{1, collector_pk}};
  waymark_client_t* c = nullptr;
  CHECK(open_client(dir.store(), config, &c) == WAYMARK_ERR_INVALID_ARGUMENT);
  CHECK(std::string(waymark_last_error_message()).find("WAYMARK_WITH_BUILTIN_TRANSPORT=OFF") != std::string::npos);
  CHECK(c == nullptr);
  config.transport = offline;
  REQUIRE(open_client(dir.store(), config, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(track(c, "kept") == WAYMARK_OK);
  CHECK(waymark_client_flush(c, 2000) == WAYMARK_ERR_TIMEOUT);  // generous: qemu is slow
  CHECK(g_posts >= 1);
  CHECK(client_stat(c, WAYMARK_STAT_QUEUED) == 2);  // nothing lost while offline
  waymark_client_free(c);
}
#endif
