// Header-only C++ RAII wrapper over the Waymark C ABI (waymark.h). Errors become
// waymark::Error exceptions carrying the status code; positive "OK with information"
// statuses are returned. Nothing here depends on the SDK's internals.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <memory>
#include <utility>
#include <vector>

#include "waymark/waymark.h"

namespace waymark {

class Error : public std::runtime_error {
 public:
  explicit Error(waymark_status_t status)
      : std::runtime_error(std::string(waymark_status_name(status)) + ": " + waymark_last_error_message()),
        status_(status) {}
  waymark_status_t status() const noexcept { return status_; }

 private:
  waymark_status_t status_;
};

// Throws on errors (< 0); returns OK and informational statuses (> 0).
inline waymark_status_t check(waymark_status_t status) {
  if (status < 0) throw Error(status);
  return status;
}

class Options {
 public:
  Options() { check(waymark_options_new(&handle_)); }
  ~Options() { waymark_options_free(handle_); }
  Options(const Options&) = delete;
  Options& operator=(const Options&) = delete;
  Options(Options&& o) noexcept : handle_(std::exchange(o.handle_, nullptr)) {}

  Options& store_path(std::string_view path) {
    return set(waymark_options_set_store_path(handle_, path.data(), path.size()));
  }
  Options& app_id(std::string_view id) { return set(waymark_options_set_app_id(handle_, id.data(), id.size())); }
  Options& brand_key(const uint8_t (&key)[32], uint32_t epoch) {
    return set(waymark_options_set_brand_key(handle_, key, sizeof key, epoch));
  }
  Options& collector_key(const uint8_t (&key)[32], uint32_t key_id) {
    return set(waymark_options_add_collector_key(handle_, key, sizeof key, key_id));
  }
  Options& device_mode(waymark_device_mode_t mode) { return set(waymark_options_set_device_mode(handle_, mode)); }
  Options& durability(waymark_durability_t d) { return set(waymark_options_set_durability(handle_, d)); }
  Options& caps(int64_t max_bytes, int64_t max_events, int64_t max_age_ms) {
    return set(waymark_options_set_caps(handle_, max_bytes, max_events, max_age_ms));
  }
  Options& queue_capacity(int64_t n) { return set(waymark_options_set_queue_capacity(handle_, n)); }
  Options& idle_timeout_ms(int64_t ms) { return set(waymark_options_set_idle_timeout_ms(handle_, ms)); }
  Options& default_region(std::string_view r) {
    return set(waymark_options_set_default_region(handle_, r.data(), r.size()));
  }
  Options& gmail_rules(bool on) { return set(waymark_options_set_gmail_rules(handle_, on ? 1 : 0)); }
  Options& child_mode(bool on) { return set(waymark_options_set_child_mode(handle_, on ? 1 : 0)); }
  Options& platform(const waymark_platform_t& p) { return set(waymark_options_set_platform(handle_, &p)); }
  Options& collector_url(std::string_view url) {
    return set(waymark_options_set_collector_url(handle_, url.data(), url.size()));
  }
  Options& upload_policy(int64_t batch_max_events, int64_t batch_max_bytes, int64_t flush_at_events,
                         int64_t flush_interval_ms) {
    return set(waymark_options_set_upload_policy(handle_, batch_max_events, batch_max_bytes, flush_at_events,
                                                 flush_interval_ms));
  }
  Options& retry_policy(int64_t base_ms, int64_t cap_ms, int64_t connect_timeout_ms, int64_t io_timeout_ms) {
    return set(waymark_options_set_retry_policy(handle_, base_ms, cap_ms, connect_timeout_ms, io_timeout_ms));
  }

  // Hands the options to waymark_client_open.
  waymark_options_t* get() const noexcept { return handle_; }
  waymark_options_t* release() noexcept { return std::exchange(handle_, nullptr); }

 private:
  Options& set(waymark_status_t s) {
    check(s);
    return *this;
  }
  waymark_options_t* handle_ = nullptr;
};

class Event {
 public:
  Event(waymark_event_type_t type, std::string_view name) {
    check(waymark_event_new(type, name.data(), name.size(), &handle_));
  }
  ~Event() { waymark_event_free(handle_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  Event(Event&& o) noexcept : handle_(std::exchange(o.handle_, nullptr)) {}

  Event& channel(waymark_channel_t c) { return set(waymark_event_set_channel(handle_, c)); }
  Event& purpose(waymark_purpose_t p) { return set(waymark_event_set_purpose(handle_, p)); }
  Event& property(std::string_view k, std::string_view v) {
    return set(waymark_event_set_string(handle_, k.data(), k.size(), v.data(), v.size()));
  }
  Event& property(std::string_view k, const char* v) { return property(k, std::string_view(v)); }
  Event& property(std::string_view k, int64_t v) { return set(waymark_event_set_int(handle_, k.data(), k.size(), v)); }
  Event& property(std::string_view k, int v) { return property(k, static_cast<int64_t>(v)); }
  Event& property(std::string_view k, double v) {
    return set(waymark_event_set_double(handle_, k.data(), k.size(), v));
  }
  Event& property(std::string_view k, bool v) {
    return set(waymark_event_set_bool(handle_, k.data(), k.size(), v ? 1 : 0));
  }
  Event& revenue(int64_t minor, std::string_view currency) {
    return set(waymark_event_set_revenue(handle_, minor, currency.data(), currency.size()));
  }
  Event& campaign(std::string_view source, std::string_view medium, std::string_view name,
                  std::string_view content = {}) {
    return set(waymark_event_set_campaign(handle_, source.data(), source.size(), medium.data(), medium.size(),
                                          name.data(), name.size(), content.data(), content.size()));
  }
  const waymark_event_t* get() const noexcept { return handle_; }

 private:
  Event& set(waymark_status_t s) {
    check(s);
    return *this;
  }
  waymark_event_t* handle_ = nullptr;
};

class Client {
 public:
  explicit Client(Options&& options) { open_status_ = check(waymark_client_open(options.release(), &handle_)); }
  /** Takes ownership of a handle opened through the C API (e.g. by C code of the host app). */
  static Client adopt(waymark_client_t* handle) noexcept { return Client(handle); }
  ~Client() { waymark_client_free(handle_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  Client(Client&& o) noexcept : handle_(std::exchange(o.handle_, nullptr)), open_status_(o.open_status_) {}

  // WAYMARK_OK, or WAYMARK_STORE_RECOVERED when a corrupt store was replaced.
  waymark_status_t open_status() const noexcept { return open_status_; }
  waymark_status_t record(const Event& e) { return check(waymark_client_record(handle_, e.get())); }
  /** Records `events` as one unit (one commit); `statuses`, when given, gets one status per event. */
  waymark_status_t record_batch(const std::vector<const Event*>& events,
                                std::vector<waymark_status_t>* statuses = nullptr) {
    std::vector<const waymark_event_t*> raw;
    raw.reserve(events.size());
    for (const Event* e : events) raw.push_back(e == nullptr ? nullptr : e->get());
    if (statuses != nullptr) statuses->assign(events.size(), WAYMARK_OK);
    return check(
        waymark_client_record_batch(handle_, raw.data(), raw.size(), statuses != nullptr ? statuses->data() : nullptr));
  }
  waymark_status_t identify(waymark_id_kind_t kind, std::string_view v) {
    return check(waymark_client_identify(handle_, kind, v.data(), v.size()));
  }
  // With the identity assertion the brand's backend signed for it and this device (waymark.h).
  waymark_status_t identify_verified(waymark_id_kind_t kind, std::string_view v,
                                     const std::vector<uint8_t>& assertion) {
    return check(
        waymark_client_identify_verified(handle_, kind, v.data(), v.size(), assertion.data(), assertion.size()));
  }
  std::array<uint8_t, 32> device_key() {
    std::array<uint8_t, 32> key{};
    check(waymark_client_device_key(handle_, key.data(), key.size()));
    return key;
  }
  void set_consent(waymark_purpose_t p, bool granted, std::string_view policy) {
    check(waymark_client_set_consent(handle_, p, granted ? 1 : 0, policy.data(), policy.size()));
  }
  bool consent(waymark_purpose_t p) {
    int granted = 0;
    check(waymark_client_get_consent(handle_, p, &granted));
    return granted != 0;
  }
  void begin_customer() { check(waymark_client_begin_customer(handle_)); }
  void end_customer() { check(waymark_client_end_customer(handle_)); }
  void forget() { check(waymark_client_forget(handle_)); }
  // The whole customer, with the erasure token the brand's backend signed (waymark.h).
  void forget_with_token(const std::vector<uint8_t>& token) {
    check(waymark_client_forget_with_token(handle_, token.data(), token.size()));
  }
  /** The brand's pseudonym of an identifier (what the collector's lookup takes). Nothing is recorded. */
  void pseudonymize(waymark_id_kind_t kind, std::string_view v, uint8_t (&out)[32]) {
    check(waymark_client_pseudonymize(handle_, kind, v.data(), v.size(), out, sizeof out));
  }
  void notify_lifecycle(waymark_lifecycle_t event) { check(waymark_client_notify_lifecycle(handle_, event)); }
  void flush(int64_t timeout_ms) { check(waymark_client_flush(handle_, timeout_ms)); }
  /** The current customer's segments from the collector (see waymark_client_fetch_segments). */
  std::vector<std::string> fetch_segments(int64_t timeout_ms) {
    waymark_segments_t* raw = nullptr;
    check(waymark_client_fetch_segments(handle_, timeout_ms, &raw));
    const std::unique_ptr<waymark_segments_t, void (*)(waymark_segments_t*)> list(raw, waymark_segments_free);
    std::vector<std::string> names;
    for (size_t i = 0; i < waymark_segments_count(raw); ++i) names.emplace_back(waymark_segments_name(raw, i));
    return names;
  }
  int64_t stat(waymark_stat_t s) {
    int64_t v = 0;
    check(waymark_client_stat(handle_, s, &v));
    return v;
  }
  void close() { check(waymark_client_close(handle_)); }
  waymark_client_t* get() const noexcept { return handle_; }

 private:
  explicit Client(waymark_client_t* handle) noexcept : handle_(handle) {}
  waymark_client_t* handle_ = nullptr;
  waymark_status_t open_status_ = WAYMARK_OK;
};

}  // namespace waymark
