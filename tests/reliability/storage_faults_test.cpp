// Storage faults end to end: the device's disk fills up or turns read-only mid-run, its WAL is
// damaged, the collector's disk fills up. Each time: a clear status, no crash, every event the SDK
// said OK to reaches the real collector exactly once once the fault is gone, and the collector never
// acknowledges what it could not commit.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "support/collector_fixture.hpp"
#include "support/http_client.hpp"
#include "support/raw_device.hpp"

using namespace waymark::test;
namespace fs = std::filesystem;

namespace {

ClientConfig durable(const Collector& collector) {
  ClientConfig config = collector.client();
  config.durability = WAYMARK_DURABILITY_DURABLE;
  config.posix_platform = true;  // keys next to the store: they survive a reopen
  return config;
}

}  // namespace

TEST_CASE("device disk full, then space freed: the same client resumes and every OK'd event arrives once",
          "[reliability][faults]") {
  Collector collector;
  TempDir dir;
  Tmpfs disk(dir.path() + "/disk", "4m");
  if (!disk.mounted()) FAIL("this test needs to mount a small tmpfs (run as root, as CI does)");
  ClientConfig config = durable(collector);
  config.collector_url = "http://127.0.0.1:1/v1/batches";  // offline while the disk fills
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.path() + "/disk/store", config, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  int ok = 0;
  for (; ok < 200; ++ok) REQUIRE(track(c, "before") == WAYMARK_OK);
  const std::string filler = disk.fill();  // something else on the device takes the space
  waymark_status_t s = WAYMARK_OK;
  for (int i = 0; i < 100000 && s == WAYMARK_OK; ++i) {
    s = track(c, "a-reasonably-long-event-name-to-fill-the-last-pages");
    ok += s == WAYMARK_OK;
  }
  CHECK(s == WAYMARK_ERR_STORE_FULL);
  CHECK(client_stat(c, WAYMARK_STAT_DROPPED) >= 0);
  fs::remove(filler);  // and gives it back
  for (int i = 0; i < 50; ++i, ++ok) REQUIRE(track(c, "after") == WAYMARK_OK);
  waymark_client_free(c);
  REQUIRE(open_client(dir.path() + "/disk/store", durable(collector), &c) == WAYMARK_OK);  // online now
  REQUIRE(waymark_client_flush(c, 30000) == WAYMARK_OK);
  CHECK(client_stat(c, WAYMARK_STAT_QUEUED) == 0);
  CHECK(client_stat(c, WAYMARK_STAT_DEAD_LETTERED) == 0);
  waymark_client_free(c);
  CHECK(collector.events() == ok + 1);
}

// A file system turns read-only under open files only when the kernel remounts it after I/O errors
// (ext4 errors=remount-ro); a tmpfs with open writers refuses the remount (EBUSY), so this is the
// device restarting on a file system that came up read-only.
TEST_CASE("store on a read-only file system: a clear error, nothing lost, all uploads once writable",
          "[reliability][faults]") {
  Collector collector;
  TempDir dir;
  Tmpfs disk(dir.path() + "/disk", "8m");
  if (!disk.mounted()) FAIL("this test needs to mount a small tmpfs (run as root, as CI does)");
  const std::string store = dir.path() + "/disk/store";
  ClientConfig config = durable(collector);
  config.collector_url = "http://127.0.0.1:1/v1/batches";
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(store, config, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  for (int i = 0; i < 100; ++i) REQUIRE(track(c, "before") == WAYMARK_OK);
  waymark_client_free(c);
  REQUIRE(disk.set_read_only(true));
  const waymark_status_t opened = open_client(store, durable(collector), &c);
  CHECK(opened == WAYMARK_ERR_STORE_IO);
  INFO(waymark_last_error_message());
  CHECK(std::string(waymark_last_error_message()).find("Read-only file system") != std::string::npos);
  CHECK(c == nullptr);
  REQUIRE(disk.set_read_only(false));
  REQUIRE(open_client(store, durable(collector), &c) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 30000) == WAYMARK_OK);
  CHECK(client_stat(c, WAYMARK_STAT_QUEUED) == 0);
  waymark_client_free(c);
  CHECK(collector.events() == 101);
}

TEST_CASE("a damaged WAL: the store opens, the damaged tail is lost, the rest uploads", "[reliability][faults]") {
  Collector collector;
  TempDir dir, copy;
  ClientConfig config = durable(collector);
  config.collector_url = "http://127.0.0.1:1/v1/batches";
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), config, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  for (int i = 0; i < 200; ++i) REQUIRE(track(c, "in-the-wal") == WAYMARK_OK);
  // What a power cut leaves: the database and its WAL as they are while the client runs.
  fs::copy(dir.store(), copy.store(), fs::copy_options::recursive);
  waymark_client_free(c);
  const std::string wal = copy.store() + "/outbox.db-wal";
  REQUIRE(fs::exists(wal));
  const auto wal_size = fs::file_size(wal);
  REQUIRE(wal_size > 64 * 1024);
  {
    std::fstream f(wal, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(wal_size / 2));
    const std::string junk(8192, '\x5A');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  const waymark_status_t opened = open_client(copy.store(), durable(collector), &c);
  REQUIRE((opened == WAYMARK_OK || opened == WAYMARK_STORE_RECOVERED));
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  for (int i = 0; i < 10; ++i) REQUIRE(track(c, "after-the-damage") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 30000) == WAYMARK_OK);
  CHECK(client_stat(c, WAYMARK_STAT_QUEUED) == 0);
  const int64_t uploaded = client_stat(c, WAYMARK_STAT_UPLOADED);
  waymark_client_free(c);
  // The frames before the damage survive (SQLite stops reading a WAL at the first bad checksum).
  CHECK(collector.events() == uploaded);
  CHECK(collector.events() >= 11);
  CHECK(collector.events() < 212);
}

TEST_CASE("collector disk full: 503, nothing acknowledged, everything arrives once space is back",
          "[reliability][faults]") {
  TempDir dir;
  Tmpfs disk(dir.path() + "/collector", "4m");
  if (!disk.mounted()) FAIL("this test needs to mount a small tmpfs (run as root, as CI does)");
  Collector collector({}, 500, dir.path() + "/collector");
  const std::string filler = disk.fill();
  ClientConfig config = collector.client();
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), config, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  for (int i = 0; i < 300; ++i) REQUIRE(track(c, "while-the-collector-is-full") == WAYMARK_OK);
  CHECK(waymark_client_flush(c, 1000) == WAYMARK_ERR_TIMEOUT);
  CHECK(client_stat(c, WAYMARK_STAT_UPLOADED) == 0);
  CHECK(client_stat(c, WAYMARK_STAT_QUEUED) == 301);
  CHECK(collector.metrics.prometheus().find("waymark_store_commit_failures_total") != std::string::npos);
  fs::remove(filler);
  REQUIRE(waymark_client_flush(c, 30000) == WAYMARK_OK);
  CHECK(client_stat(c, WAYMARK_STAT_UPLOADED) == 301);
  waymark_client_free(c);
  CHECK(collector.events() == 301);
}

TEST_CASE("collector disk filled by its own data: degraded, queries still answer, recovers when space is freed",
          "[reliability][faults]") {
  TempDir dir;
  // The reserve covers the WAL's checkpoint interval (2000 pages of 16 KiB), as the default does.
  constexpr uint64_t kReserve = 36u << 20;
  Tmpfs disk(dir.path() + "/collector", "100m");
  if (!disk.mounted()) FAIL("this test needs to mount a small tmpfs (run as root, as CI does)");
  Collector collector({}, 500, dir.path() + "/collector", kReserve);
  const std::string reserve = collector.db_path() + ".reserve";
  REQUIRE(fs::file_size(reserve) == kReserve);
  {
    std::ofstream other(dir.path() + "/collector/other-files", std::ios::binary);  // what the operator frees
    other << std::string(24u << 20, 'o');
  }
  const uint16_t port = collector.server->port();
  RawDevice device;
  waymark::detail::EventDraft padded;
  padded.properties = {{"note", waymark::detail::Property::Kind::String, std::string(4000, 'n')}};
  const auto batch = [&] {
    std::vector<std::vector<uint8_t>> events;
    for (int i = 0; i < 20; ++i) events.push_back(device.event("padded", random_identifiers(1), padded));
    return device.seal(collector, events);
  };
  REQUIRE(device.send(collector, {device.grant()}).status == 200);
  int64_t acknowledged = 1;
  std::vector<uint8_t> pending;
  for (int i = 0; i < 2000 && pending.empty(); ++i) {  // until the disk is full
    auto sealed = batch();
    const Reply r = request(port, http::verb::post, "/v1/batches", sealed);
    if (r.status == 200) acknowledged += 20;
    if (r.status == 503) pending = std::move(sealed);
  }
  INFO("acknowledged before the disk filled: " << acknowledged);
  REQUIRE_FALSE(pending.empty());
  // Folding the WAL in gave space back, so the store may have recovered at once (a write attempt in
  // the background). Something else now takes what is left: the store stays degraded.
  const std::string filler = disk.fill();
  CHECK(request(port, http::verb::post, "/v1/batches", pending).status == 503);
  // Degraded, and says why; the WAL was folded into the database and gave its space back.
  const Reply health = request(port, http::verb::get, "/healthz");
  CHECK(health.status == 503);
  CHECK(health.body.find("degraded: disk full") != std::string::npos);
  CHECK(fs::file_size(collector.db_path() + "-wal") == 0);
  CHECK_FALSE(fs::exists(reserve));
  // Queries need no free space.
  CHECK(api_get(port, "/v1/profiles", Collector::kAdminToken).status == 200);
  CHECK(api_get(port, "/v1/reports/attribution", Collector::kAdminToken).status == 200);

  fs::remove(dir.path() + "/collector/other-files");
  fs::remove(filler);
  REQUIRE(request(port, http::verb::post, "/v1/batches", pending).status == 200);  // the resent batch
  acknowledged += 20;
  CHECK(fs::file_size(reserve) == kReserve);  // held again, for the next time
  CHECK(request(port, http::verb::get, "/healthz").status == 200);
  for (int i = 0; i < 20; ++i) {  // and it stays up while there is room
    REQUIRE(request(port, http::verb::post, "/v1/batches", batch()).status == 200);
    acknowledged += 20;
  }
  CHECK(collector.events() == acknowledged);
}
