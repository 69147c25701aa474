// Privacy is a feature under test: no raw identifier in any file or log the SDK writes.
#include <catch2/catch.hpp>

#include <filesystem>
#include <mutex>
#include <sys/stat.h>

#include "support/test_support.hpp"

using namespace waymark::test;
namespace fs = std::filesystem;

namespace {
std::mutex g_log_mu;
std::string g_logs;
void capture_log(int32_t, const char* message, size_t len, void*) {
  std::lock_guard lock(g_log_mu);
  g_logs.append(message, len).push_back('\n');
}
}  // namespace

TEST_CASE("no raw identifier reaches the store, its WAL, the keys or the logs", "[privacy]") {
  const std::vector<std::pair<waymark_id_kind_t, std::string>> raw = {{WAYMARK_ID_EMAIL, "Jane.Privacy@Example.com"},
                                                                      {WAYMARK_ID_PHONE, "+44 7911 123456"},
                                                                      {WAYMARK_ID_FIRST_NAME, "Philippa"},
                                                                      {WAYMARK_ID_LAST_NAME, "Quaintance"},
                                                                      {WAYMARK_ID_POSTCODE, "SW1A 2AA"},
                                                                      {WAYMARK_ID_LOYALTY_ID, "LOYAL-778899"},
                                                                      {WAYMARK_ID_ACCOUNT_ID, "acct-5566778899"}};
  // Forms a leak could take: as typed, normalised, and lowercased.
  const std::vector<std::string> needles = {"Jane.Privacy", "jane.privacy@example.com",
                                            "447911123456", "7911 123456",
                                            "Philippa",     "philippa",
                                            "Quaintance",   "quaintance",
                                            "SW1A2AA",      "SW1A 2AA",
                                            "LOYAL-778899", "acct-5566778899"};
  TempDir dir;
  waymark_options_t* o = nullptr;
  REQUIRE(waymark_options_new(&o) == WAYMARK_OK);
  waymark_options_set_store_path(o, dir.store().data(), dir.store().size());
  waymark_options_set_app_id(o, "privacy", 7);
  waymark_options_set_brand_key(o, kBrandKey, 32, 1);
  waymark_platform_t p{};
  p.version = WAYMARK_PLATFORM_VERSION;
  p.log = capture_log;  // everything else: the POSIX defaults (keys in files)
  REQUIRE(waymark_options_set_platform(o, &p) == WAYMARK_OK);
  waymark_client_t* c = nullptr;
  REQUIRE(waymark_client_open(o, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  for (const auto& [kind, value] : raw) {
    CAPTURE(value);
    REQUIRE(waymark_client_identify(c, kind, value.data(), value.size()) == WAYMARK_OK);
  }
  // Bad input is also never echoed: not in the error message, not in the logs.
  CHECK(waymark_client_identify(c, WAYMARK_ID_EMAIL, "Jane.Privacy-at-example", 23) == WAYMARK_ERR_INVALID_IDENTIFIER);
  CHECK(std::string(waymark_last_error_message()).find("Jane") == std::string::npos);
  for (int i = 0; i < 50; ++i) REQUIRE(track(c, "page") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 5000) == WAYMARK_OK);

  // While open (the WAL holds the recent commits) and after close (checkpointed).
  for (int phase = 0; phase < 2; ++phase) {
    CAPTURE(phase);
    REQUIRE(fs::exists(dir.store() + "/outbox.db"));
    for (const auto& needle : needles) {
      CAPTURE(needle);
      CHECK_FALSE(any_file_contains(dir.store(), needle));
      CHECK(g_logs.find(needle) == std::string::npos);
    }
    if (phase == 0) waymark_client_free(c);
  }
  CHECK(stored_events(dir.store(), true).size() == raw.size() + 51);

  // Store and key files are private to the user.
  for (const auto& entry : fs::recursive_directory_iterator(dir.store())) {
    struct stat st {};
    REQUIRE(::stat(entry.path().c_str(), &st) == 0);
    CAPTURE(entry.path().string());
    CHECK((st.st_mode & 0077) == 0);
  }
}
