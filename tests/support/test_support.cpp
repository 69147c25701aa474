#include "support/test_support.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <sys/mount.h>

#include "common/crypto/secure.hpp"
#include "store/outbox.hpp"
#include "waymark/platform.h"

namespace waymark::test {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "waymark-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::permissions(path_, fs::perms::owner_all, ec);
  fs::remove_all(path_, ec);
}

Tmpfs::Tmpfs(std::string path, const std::string& size) : path_(std::move(path)), size_(size) {
  fs::create_directories(path_);
  mounted_ = ::mount("tmpfs", path_.c_str(), "tmpfs", 0, ("size=" + size_).c_str()) == 0;
}

Tmpfs::~Tmpfs() {
  if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
}

bool Tmpfs::set_read_only(bool read_only) {
  const unsigned long flags = MS_REMOUNT | (read_only ? MS_RDONLY : 0);
  return ::mount("tmpfs", path_.c_str(), "tmpfs", flags, ("size=" + size_).c_str()) == 0;
}

std::string Tmpfs::fill() const {
  const std::string filler = path_ + "/filler";
  std::ofstream f(filler, std::ios::binary);
  const std::string block(4096, 'x');
  while (f.write(block.data(), static_cast<std::streamsize>(block.size()))) {
  }
  return filler;
}

waymark_status_t open_client(const std::string& store, const ClientConfig& c, waymark_client_t** out) {
  waymark_options_t* o = nullptr;
  if (waymark_options_new(&o) != WAYMARK_OK) return WAYMARK_ERR_INTERNAL;
  waymark_options_set_store_path(o, store.data(), store.size());
  waymark_options_set_app_id(o, "test-app", 8);
  waymark_options_set_brand_key(o, kBrandKey, sizeof kBrandKey, 1);
  waymark_options_set_device_mode(o, c.mode);
  waymark_options_set_durability(o, c.durability);
  waymark_options_set_child_mode(o, c.child_mode ? 1 : 0);
  waymark_options_set_idle_timeout_ms(o, c.idle_timeout_ms);
  waymark_options_set_queue_capacity(o, c.queue_capacity);
  waymark_options_set_caps(o, c.max_bytes, c.max_events, c.max_age_ms);
  waymark_options_set_default_region(o, "GB", 2);
  if (c.platform != nullptr) {
    waymark_options_set_platform(o, c.platform);
  } else if (!c.posix_platform) {
    waymark_platform_t p{};
    waymark_platform_null(&p);
    waymark_options_set_platform(o, &p);
  }
  for (const auto& [id, key] : c.collector_keys) waymark_options_add_collector_key(o, key.data(), key.size(), id);
  if (!c.collector_url.empty()) waymark_options_set_collector_url(o, c.collector_url.data(), c.collector_url.size());
  if (c.transport != nullptr) waymark_options_set_transport(o, c.transport, c.transport_user_data);
  if (!c.tls_ca_file.empty()) waymark_options_set_tls_ca_file(o, c.tls_ca_file.data(), c.tls_ca_file.size());
  for (const auto& pin : c.tls_pins) waymark_options_add_tls_pin(o, pin.data(), pin.size());
  waymark_options_set_upload_policy(o, c.batch_max_events, 1 << 20, c.flush_at_events, 60000);
  waymark_options_set_retry_policy(o, c.backoff_base_ms, c.backoff_cap_ms, 1000, c.io_timeout_ms);
  return waymark_client_open(o, out);
}

waymark_status_t track(waymark_client_t* client, const char* name, waymark_purpose_t purpose) {
  waymark_event_t* e = nullptr;
  waymark_status_t s = waymark_event_new(WAYMARK_EVENT_TRACK, name, std::char_traits<char>::length(name), &e);
  if (s != WAYMARK_OK) return s;
  waymark_event_set_channel(e, WAYMARK_CHANNEL_APP);
  waymark_event_set_purpose(e, purpose);
  s = waymark_client_record(client, e);
  waymark_event_free(e);
  return s;
}

waymark_status_t grant(waymark_client_t* client, waymark_purpose_t purpose, bool granted) {
  return waymark_client_set_consent(client, purpose, granted ? 1 : 0, "2026-01", 7);
}

int64_t client_stat(waymark_client_t* client, waymark_stat_t s) {
  int64_t v = -1;
  if (waymark_client_stat(client, s, &v) != WAYMARK_OK) return -1;
  return v;
}

std::vector<std::vector<uint8_t>> stored_events(const std::string& store, bool posix) {
  waymark_platform_t p{};
  if (posix) {
    waymark_platform_posix(&p);
  } else {
    waymark_platform_null(&p);
  }
  uint8_t key[32];
  size_t len = 0;
  if (p.keystore_get(store.c_str(), "data_key", key, sizeof key, &len, p.user_data) != 0 || len != 32) {
    throw std::runtime_error("no data key");
  }
  detail::RandomPool pool(p);
  detail::OutboxConfig config{store, false, 0, 0, 0};
  auto opened = detail::Outbox::open(config, key, pool);
  if (!opened.ok()) throw std::runtime_error(opened.status().message);
  int64_t unreadable = 0;
  auto rows = opened->outbox->read_oldest(1000000, &unreadable);
  if (!rows.ok()) throw std::runtime_error(rows.status().message);
  std::vector<std::vector<uint8_t>> out;
  for (auto& row : rows.value()) out.push_back(std::move(row.plaintext));
  return out;
}

const waymark::wire::v1::Event* as_event(const std::vector<uint8_t>& bytes) {
  flatbuffers::Verifier v(bytes.data(), bytes.size());
  if (!waymark::wire::v1::VerifyEventBuffer(v)) throw std::runtime_error("stored event does not verify");
  return waymark::wire::v1::GetEvent(bytes.data());
}

bool any_file_contains(const std::string& dir, const std::string& needle) {
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (content.find(needle) != std::string::npos) return true;
  }
  return false;
}

waymark_status_t identify(waymark_client_t* client, waymark_id_kind_t kind, const std::string& raw) {
  return waymark_client_identify(client, kind, raw.data(), raw.size());
}

std::string pseudonym_hex(waymark_client_t* client, waymark_id_kind_t kind, const std::string& raw) {
  uint8_t p[32];
  if (waymark_client_pseudonymize(client, kind, raw.data(), raw.size(), p, sizeof p) != WAYMARK_OK) return {};
  return detail::to_hex(p, sizeof p);
}

}  // namespace waymark::test
