// Shared test helpers: temp store directories, clients opened through the C ABI, and a
// reader that opens the outbox with the keystore's data key to inspect what was stored.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "waymark/waymark.h"
#include "waymark/wire/v1/event_generated.h"

namespace waymark::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string store() const { return path_ + "/store"; }

 private:
  std::string path_;
};

// A small tmpfs mounted at `path` (created) for disk-full and read-only tests; needs root, as CI
// runs. Unmounted (lazily) on destruction.
class Tmpfs {
 public:
  Tmpfs(std::string path, const std::string& size);
  ~Tmpfs();
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;
  bool mounted() const { return mounted_; }
  bool set_read_only(bool read_only);  // remount
  // Fills the free space with a file (returns its path); deleting it frees the space again.
  std::string fill() const;

 private:
  std::string path_;
  std::string size_;
  bool mounted_ = false;
};

struct ClientConfig {
  waymark_device_mode_t mode = WAYMARK_DEVICE_PERSONAL;
  waymark_durability_t durability = WAYMARK_DURABILITY_ASYNC;
  bool posix_platform = false;  // default: the in-memory keystore of waymark_platform_null
  bool child_mode = false;
  int64_t idle_timeout_ms = 0;
  int64_t queue_capacity = 10000;
  int64_t max_bytes = 0, max_events = 0, max_age_ms = 0;
  // Upload (none unless a URL or transport is set).
  std::string collector_url;
  waymark_transport_fn transport = nullptr;
  void* transport_user_data = nullptr;
  std::vector<std::pair<uint32_t, std::array<uint8_t, 32>>> collector_keys;
  int64_t batch_max_events = 500;
  int64_t flush_at_events = 100;
  int64_t backoff_base_ms = 20, backoff_cap_ms = 200;
  int64_t io_timeout_ms = 2000;
  std::string tls_ca_file;
  std::vector<std::array<uint8_t, 32>> tls_pins;
  const waymark_platform_t* platform = nullptr;  // overrides posix_platform
};

inline constexpr uint8_t kBrandKey[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                          17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

// Opens a client on `store`; returns the open status and sets *out.
waymark_status_t open_client(const std::string& store, const ClientConfig& config, waymark_client_t** out);

// Records a TRACK event named `name` on `channel`.
waymark_status_t track(waymark_client_t* client, const char* name,
                       waymark_purpose_t purpose = WAYMARK_PURPOSE_ANALYTICS);

waymark_status_t grant(waymark_client_t* client, waymark_purpose_t purpose, bool granted = true);

int64_t client_stat(waymark_client_t* client, waymark_stat_t stat);

// waymark_client_identify with a std::string.
waymark_status_t identify(waymark_client_t* client, waymark_id_kind_t kind, const std::string& raw);
// The SDK pseudonym of `raw` in hex (what the brand looks profiles up by); "" if the SDK refuses it.
std::string pseudonym_hex(waymark_client_t* client, waymark_id_kind_t kind, const std::string& raw);

// Every stored event, decoded (store closed by the caller first). Uses the null keystore
// unless `posix` is set.
std::vector<std::vector<uint8_t>> stored_events(const std::string& store, bool posix = false);
const waymark::wire::v1::Event* as_event(const std::vector<uint8_t>& bytes);

// True when `needle` occurs anywhere in any file under `dir` (recursively).
bool any_file_contains(const std::string& dir, const std::string& needle);

}  // namespace waymark::test
