// The C ABI: validates arguments, converts to the C++ core, and never lets an exception
// or a crash cross the boundary. Every entry point ends in finish()/fail().
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <new>
#include <shared_mutex>
#include <string>
#include <vector>

#include <unicode/ucurr.h>
#include <unicode/utf8.h>

#include "core/client.hpp"
#include "waymark/waymark.h"

struct waymark_options_s {
  std::unique_ptr<waymark::detail::ClientOptions> options = std::make_unique<waymark::detail::ClientOptions>();
};

struct waymark_event_s {
  waymark::detail::EventDraft draft;
};

struct waymark_segments_s {
  std::vector<std::string> names;
  int64_t as_of_ms = 0;
};

// The handle outlives the client: close() releases the core, later calls see `closed`.
struct waymark_client_s {
  std::shared_mutex gate;  // shared: calls in flight; exclusive: close
  // Checked before the gate as well as under it: glibc's rwlock prefers readers, so without
  // the early check a stream of callers could starve close() forever.
  std::atomic<bool> closed{false};
  std::unique_ptr<waymark::detail::Client> client;
};

namespace {

using waymark::detail::Error;
using waymark::detail::Status;

thread_local std::string t_last_error;

waymark_status_t finish(const Status& s) {
  if (s.code != WAYMARK_OK) t_last_error = s.message;
  return s.code;
}

waymark_status_t fail(waymark_status_t code, const char* message) {
  t_last_error = message;
  return code;
}

// Runs `body` with a catch-all: no exception crosses the C boundary.
template <class F>
waymark_status_t guarded(F&& body) noexcept {
  try {
    return finish(body());
  } catch (const std::bad_alloc&) {
    return fail(WAYMARK_ERR_NO_MEMORY, "out of memory");
  } catch (...) {
    return fail(WAYMARK_ERR_INTERNAL, "internal error");
  }
}

// Runs `body(client)` while holding the gate shared, so close() waits for it.
template <class F>
waymark_status_t with_client(waymark_client_t* handle, F&& body) noexcept {
  if (handle == nullptr) return fail(WAYMARK_ERR_INVALID_ARGUMENT, "client is NULL");
  return guarded([&]() -> Status {
    if (handle->closed) return Error(WAYMARK_ERR_CLOSED, "client is closed");
    std::shared_lock lock(handle->gate);
    if (handle->client == nullptr) return Error(WAYMARK_ERR_CLOSED, "client is closed");
    return body(*handle->client);
  });
}

bool valid_utf8(const char* s, size_t len) {
  if (len > INT32_MAX) return false;
  const auto n = static_cast<int32_t>(len);
  for (int32_t i = 0; i < n;) {
    UChar32 c = 0;
    U8_NEXT(reinterpret_cast<const uint8_t*>(s), i, n, c);
    if (c < 0) return false;
  }
  return true;
}

// A borrowed UTF-8 argument: NULL only allowed with length 0; `min`..`max` bytes.
Status text_arg(const char* s, size_t len, size_t min, size_t max, const char* what, std::string* out) {
  if (s == nullptr && len > 0) return Error(WAYMARK_ERR_INVALID_ARGUMENT, std::string(what) + " is NULL");
  if (len < min) return Error(WAYMARK_ERR_INVALID_ARGUMENT, std::string(what) + " is empty");
  if (len > max) return Error(WAYMARK_ERR_TOO_LARGE, std::string(what) + " is too long");
  if (len > 0 && !valid_utf8(s, len)) return Error(WAYMARK_ERR_INVALID_UTF8, std::string(what) + " is not valid UTF-8");
  if (out != nullptr) out->assign(s == nullptr ? "" : s, len);
  return Status::Ok();
}

Status set_property(waymark_event_t* event, const char* key, size_t key_len, waymark::detail::Property value) {
  if (event == nullptr) return Error(WAYMARK_ERR_INVALID_ARGUMENT, "event is NULL");
  if (Status s = text_arg(key, key_len, 1, WAYMARK_MAX_NAME_BYTES, "property key", &value.key); !s.ok()) return s;
  auto& props = event->draft.properties;
  for (auto& p : props) {
    if (p.key == value.key) {
      p = std::move(value);
      return Status::Ok();
    }
  }
  if (props.size() >= WAYMARK_MAX_PROPERTIES) return Error(WAYMARK_ERR_TOO_LARGE, "at most 64 properties per event");
  props.push_back(std::move(value));
  return Status::Ok();
}

// ISO 4217 code (upper-cased) and its minor-unit exponent, from ICU's currency data.
Status currency_arg(const char* code, size_t len, std::string* out, int32_t* digits) {
  if (code == nullptr || len != 3)
    return Error(WAYMARK_ERR_UNKNOWN_CURRENCY, "currency must be a 3-letter ISO 4217 code");
  UChar iso[4] = {};
  out->resize(3);
  for (size_t i = 0; i < 3; ++i) {
    char c = code[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
    if (c < 'A' || c > 'Z') return Error(WAYMARK_ERR_UNKNOWN_CURRENCY, "currency must be a 3-letter ISO 4217 code");
    (*out)[i] = c;
    iso[i] = static_cast<UChar>(c);
  }
  UErrorCode ec = U_ZERO_ERROR;
  if (!ucurr_isAvailable(iso, U_DATE_MIN, U_DATE_MAX, &ec) || U_FAILURE(ec)) {
    return Error(WAYMARK_ERR_UNKNOWN_CURRENCY, "not an ISO 4217 currency code");
  }
  *digits = ucurr_getDefaultFractionDigits(iso, &ec);
  if (U_FAILURE(ec)) return Error(WAYMARK_ERR_UNKNOWN_CURRENCY, "currency has no minor-unit data");
  return Status::Ok();
}

// C callers may pass any integer as an enum; in C++ loading an out-of-range enum value is
// undefined, so the value is read through its object representation and range-checked first.
template <class E>
bool known_enum(const E& e, int lo, int hi) {
  static_assert(sizeof(E) == sizeof(int32_t));
  int32_t v = 0;
  std::memcpy(&v, &e, sizeof v);
  return v >= lo && v <= hi;
}

bool known_kind(const waymark_id_kind_t& kind) {
  return known_enum(kind, WAYMARK_ID_EMAIL, WAYMARK_ID_CUSTOM);
}
bool known_purpose(const waymark_purpose_t& p) {
  return known_enum(p, WAYMARK_PURPOSE_ANALYTICS, WAYMARK_PURPOSE_ADVERTISING);
}

}  // namespace

extern "C" {

const char* waymark_status_name(waymark_status_t status) {
  switch (status) {
    case WAYMARK_OK: return "WAYMARK_OK";
    case WAYMARK_DROPPED_NO_CONSENT: return "WAYMARK_DROPPED_NO_CONSENT";
    case WAYMARK_STORE_RECOVERED: return "WAYMARK_STORE_RECOVERED";
    case WAYMARK_ERR_INVALID_ARGUMENT: return "WAYMARK_ERR_INVALID_ARGUMENT";
    case WAYMARK_ERR_CLOSED: return "WAYMARK_ERR_CLOSED";
    case WAYMARK_ERR_NO_MEMORY: return "WAYMARK_ERR_NO_MEMORY";
    case WAYMARK_ERR_INVALID_UTF8: return "WAYMARK_ERR_INVALID_UTF8";
    case WAYMARK_ERR_TOO_LARGE: return "WAYMARK_ERR_TOO_LARGE";
    case WAYMARK_ERR_JUNK_IDENTIFIER: return "WAYMARK_ERR_JUNK_IDENTIFIER";
    case WAYMARK_ERR_INVALID_IDENTIFIER: return "WAYMARK_ERR_INVALID_IDENTIFIER";
    case WAYMARK_ERR_INVALID_VALUE: return "WAYMARK_ERR_INVALID_VALUE";
    case WAYMARK_ERR_UNKNOWN_CURRENCY: return "WAYMARK_ERR_UNKNOWN_CURRENCY";
    case WAYMARK_ERR_STORE_IO: return "WAYMARK_ERR_STORE_IO";
    case WAYMARK_ERR_STORE_FULL: return "WAYMARK_ERR_STORE_FULL";
    case WAYMARK_ERR_KEYSTORE: return "WAYMARK_ERR_KEYSTORE";
    case WAYMARK_ERR_CRYPTO: return "WAYMARK_ERR_CRYPTO";
    case WAYMARK_ERR_TIMEOUT: return "WAYMARK_ERR_TIMEOUT";
    case WAYMARK_ERR_NO_CUSTOMER: return "WAYMARK_ERR_NO_CUSTOMER";
    case WAYMARK_ERR_QUEUE_FULL: return "WAYMARK_ERR_QUEUE_FULL";
    case WAYMARK_ERR_NOT_ALLOWED: return "WAYMARK_ERR_NOT_ALLOWED";
    case WAYMARK_ERR_INTERNAL: return "WAYMARK_ERR_INTERNAL";
    case WAYMARK_ERR_NETWORK: return "WAYMARK_ERR_NETWORK";
    case WAYMARK_ERR_REJECTED: return "WAYMARK_ERR_REJECTED";
    default: return "WAYMARK_UNKNOWN_STATUS";
  }
}

const char* waymark_last_error_message(void) {
  return t_last_error.c_str();
}

const char* waymark_version(void) {
  return WAYMARK_VERSION_STRING;
}

/* ------------------------------------------------------------------ options */

waymark_status_t waymark_options_new(waymark_options_t** out_options) {
  if (out_options == nullptr) return fail(WAYMARK_ERR_INVALID_ARGUMENT, "out_options is NULL");
  *out_options = nullptr;
  if (sodium_init() < 0) return fail(WAYMARK_ERR_CRYPTO, "libsodium failed to initialise");
  return guarded([&] {
    auto* o = new waymark_options_s();
    if (!o->options->brand_key.valid()) {
      delete o;
      return Error(WAYMARK_ERR_NO_MEMORY, "cannot allocate protected memory");
    }
    waymark_platform_posix(&o->options->platform);
    *out_options = o;
    return Status::Ok();
  });
}

void waymark_options_free(waymark_options_t* options) {
  delete options;
}

#define WAYMARK_OPTIONS_GUARD(o) \
  if ((o) == nullptr) return fail(WAYMARK_ERR_INVALID_ARGUMENT, "options is NULL")

waymark_status_t waymark_options_set_store_path(waymark_options_t* o, const char* path, size_t len) {
  WAYMARK_OPTIONS_GUARD(o);
  return guarded([&] { return text_arg(path, len, 1, 4096, "store path", &o->options->store_path); });
}

waymark_status_t waymark_options_set_app_id(waymark_options_t* o, const char* app_id, size_t len) {
  WAYMARK_OPTIONS_GUARD(o);
  return guarded([&] { return text_arg(app_id, len, 1, 256, "app id", &o->options->app_id); });
}

waymark_status_t waymark_options_set_brand_key(waymark_options_t* o, const uint8_t* key, size_t len, uint32_t epoch) {
  WAYMARK_OPTIONS_GUARD(o);
  if (key == nullptr || len != 32) return fail(WAYMARK_ERR_INVALID_ARGUMENT, "brand key must be 32 bytes");
  std::memcpy(o->options->brand_key.data(), key, 32);
  o->options->has_brand_key = true;
  o->options->key_epoch = epoch;
  return WAYMARK_OK;
}

waymark_status_t waymark_options_add_collector_key(waymark_options_t* o, const uint8_t* pk, size_t len,
                                                   uint32_t key_id) {
  WAYMARK_OPTIONS_GUARD(o);
  if (pk == nullptr || len != 32) return fail(WAYMARK_ERR_INVALID_ARGUMENT, "collector key must be 32 bytes");
  // Batches are sealed to the key's X25519 form: a key without one could never upload.
  uint8_t x25519[32];
  if (crypto_sign_ed25519_pk_to_curve25519(x25519, pk) != 0) {
    return fail(WAYMARK_ERR_INVALID_ARGUMENT, "collector key is not an Ed25519 public key");
  }
  return guarded([&] {
    std::array<uint8_t, 32> k{};
    std::memcpy(k.data(), pk, 32);
    auto& keys = o->options->upload.collector_keys;
    std::erase_if(keys, [&](const auto& e) { return e.first == key_id; });
    keys.emplace_back(key_id, k);
    return Status::Ok();
  });
}

waymark_status_t waymark_options_set_device_mode(waymark_options_t* o, waymark_device_mode_t mode) {
  WAYMARK_OPTIONS_GUARD(o);
  if (!known_enum(mode, WAYMARK_DEVICE_PERSONAL, WAYMARK_DEVICE_SHARED)) {
    return fail(WAYMARK_ERR_INVALID_ARGUMENT, "unknown device mode");
  }
  o->options->mode = mode;
  return WAYMARK_OK;
}

waymark_status_t waymark_options_set_durability(waymark_options_t* o, waymark_durability_t durability) {
  WAYMARK_OPTIONS_GUARD(o);
  if (!known_enum(durability, WAYMARK_DURABILITY_ASYNC, WAYMARK_DURABILITY_DURABLE)) {
    return fail(WAYMARK_ERR_INVALID_ARGUMENT, "unknown durability");
  }
  o->options->durability = durability;
  return WAYMARK_OK;
}

waymark_status_t waymark_options_set_caps(waymark_options_t* o, int64_t max_bytes, int64_t max_events,
                                          int64_t max_age_ms) {
  WAYMARK_OPTIONS_GUARD(o);
  if (max_bytes < 0 || max_events < 0 || max_age_ms < 0) return fail(WAYMARK_ERR_INVALID_VALUE, "caps must be >= 0");
  o->options->max_bytes = max_bytes;
  o->options->max_events = max_events;
  o->options->max_age_ms = max_age_ms;
  return WAYMARK_OK;
}

waymark_status_t waymark_options_set_queue_capacity(waymark_options_t* o, int64_t capacity) {
  WAYMARK_OPTIONS_GUARD(o);
  if (capacity < 1 || capacity > 1000000) return fail(WAYMARK_ERR_INVALID_VALUE, "queue capacity must be 1..1000000");
  o->options->queue_capacity = capacity;
  return WAYMARK_OK;
}

waymark_status_t waymark_options_set_collector_url(waymark_options_t* o, const char* url, size_t len) {
  WAYMARK_OPTIONS_GUARD(o);
  return guarded([&] {
    std::string value;
    if (Status s = text_arg(url, len, 1, 2048, "collector URL", &value); !s.ok()) return s;
    if (auto parsed = waymark::detail::parse_url(value); !parsed.ok()) return parsed.status();
    o->options->upload.url = std::move(value);
    return Status::Ok();
  });
}

waymark_status_t waymark_options_set_tls_ca_file(waymark_options_t* o, const char* path, size_t len) {
  WAYMARK_OPTIONS_GUARD(o);
  return guarded([&] { return text_arg(path, len, 1, 4096, "CA file path", &o->options->upload.tls.ca_file); });
}

waymark_status_t waymark_options_add_tls_pin(waymark_options_t* o, const uint8_t* sha256, size_t len) {
  WAYMARK_OPTIONS_GUARD(o);
  if (sha256 == nullptr || len != 32) return fail(WAYMARK_ERR_INVALID_ARGUMENT, "a pin is 32 bytes (SHA-256)");
  return guarded([&] {
    std::array<uint8_t, 32> pin{};
    std::memcpy(pin.data(), sha256, 32);
    o->options->upload.tls.pins.push_back(pin);
    return Status::Ok();
  });
}

waymark_status_t waymark_options_set_transport(waymark_options_t* o, waymark_transport_fn transport, void* user_data) {
  WAYMARK_OPTIONS_GUARD(o);
  if (transport == nullptr) return fail(WAYMARK_ERR_INVALID_ARGUMENT, "transport is NULL");
  o->options->upload.host_transport = transport;
  o->options->upload.host_user_data = user_data;
  return WAYMARK_OK;
}

waymark_status_t waymark_options_set_upload_policy(waymark_options_t* o, int64_t batch_max_events,
                                                   int64_t batch_max_bytes, int64_t flush_at_events,
                                                   int64_t flush_interval_ms) {
  WAYMARK_OPTIONS_GUARD(o);
  if (batch_max_events < 1 || batch_max_events > 10000 || batch_max_bytes < 1024 || batch_max_bytes > (8LL << 20) ||
      flush_at_events < 1 || flush_interval_ms < 1) {
    return fail(WAYMARK_ERR_INVALID_VALUE,
                "upload policy out of range (events 1..10000, bytes 1 KiB..8 MiB, thresholds >= 1)");
  }
  auto& u = o->options->upload;
  u.batch_max_events = static_cast<size_t>(batch_max_events);
  u.batch_max_bytes = batch_max_bytes;
  u.flush_at_events = flush_at_events;
  u.flush_interval_ms = flush_interval_ms;
  return WAYMARK_OK;
}

waymark_status_t waymark_options_set_retry_policy(waymark_options_t* o, int64_t base_ms, int64_t cap_ms,
                                                  int64_t connect_timeout_ms, int64_t io_timeout_ms) {
  WAYMARK_OPTIONS_GUARD(o);
  if (base_ms < 1 || cap_ms < base_ms || connect_timeout_ms < 1 || io_timeout_ms < 1) {
    return fail(WAYMARK_ERR_INVALID_VALUE, "retry policy: need 1 <= base <= cap and positive timeouts");
  }
  auto& u = o->options->upload;
  u.backoff_base_ms = base_ms;
  u.backoff_cap_ms = cap_ms;
  u.timeouts = {connect_timeout_ms, io_timeout_ms};
  return WAYMARK_OK;
}

waymark_status_t waymark_options_set_idle_timeout_ms(waymark_options_t* o, int64_t timeout_ms) {
  WAYMARK_OPTIONS_GUARD(o);
  if (timeout_ms < 0) return fail(WAYMARK_ERR_INVALID_VALUE, "idle timeout must be >= 0");
  o->options->idle_timeout_ms = timeout_ms;
  return WAYMARK_OK;
}

waymark_status_t waymark_options_set_default_region(waymark_options_t* o, const char* region, size_t len) {
  WAYMARK_OPTIONS_GUARD(o);
  if (region == nullptr || len != 2 || region[0] < 'A' || region[0] > 'Z' || region[1] < 'A' || region[1] > 'Z') {
    return fail(WAYMARK_ERR_INVALID_ARGUMENT, "region must be two upper-case letters (ISO 3166-1)");
  }
  return guarded([&] {
    o->options->normalizer.default_region.assign(region, 2);
    return Status::Ok();
  });
}

waymark_status_t waymark_options_set_gmail_rules(waymark_options_t* o, int enabled) {
  WAYMARK_OPTIONS_GUARD(o);
  o->options->normalizer.gmail_rules = enabled != 0;
  return WAYMARK_OK;
}

waymark_status_t waymark_options_set_child_mode(waymark_options_t* o, int enabled) {
  WAYMARK_OPTIONS_GUARD(o);
  o->options->child_mode = enabled != 0;
  return WAYMARK_OK;
}

waymark_status_t waymark_options_set_platform(waymark_options_t* o, const waymark_platform_t* platform) {
  WAYMARK_OPTIONS_GUARD(o);
  if (platform == nullptr || platform->version < 1) {
    return fail(WAYMARK_ERR_INVALID_ARGUMENT, "platform table is NULL or has an unknown version");
  }
  // Members the host leaves NULL fall back to the POSIX implementation.
  waymark_platform_t merged{};
  waymark_platform_posix(&merged);
  const waymark_platform_t& p = *platform;
  if (p.keystore_get != nullptr) merged.keystore_get = p.keystore_get;
  if (p.keystore_put != nullptr) merged.keystore_put = p.keystore_put;
  if (p.keystore_delete != nullptr) merged.keystore_delete = p.keystore_delete;
  if (p.clock_wall_ms != nullptr) merged.clock_wall_ms = p.clock_wall_ms;
  if (p.clock_monotonic_ms != nullptr) merged.clock_monotonic_ms = p.clock_monotonic_ms;
  if (p.random_bytes != nullptr) merged.random_bytes = p.random_bytes;
  if (p.log != nullptr) merged.log = p.log;
  if (p.network_reachable != nullptr) merged.network_reachable = p.network_reachable;
  merged.user_data = p.user_data;
  // Members of later versions are read only when the host's table has them.
  if (p.version >= 2 && p.device_info != nullptr) merged.device_info = p.device_info;
  o->options->platform = merged;
  return WAYMARK_OK;
}

/* ------------------------------------------------------------------ client */

waymark_status_t waymark_client_open(waymark_options_t* options, waymark_client_t** out_client) {
  std::unique_ptr<waymark_options_s> owned(options);  // taken in every case
  if (out_client != nullptr) *out_client = nullptr;   // whatever happens below
  if (options == nullptr || out_client == nullptr) {
    return fail(WAYMARK_ERR_INVALID_ARGUMENT, "options or out_client is NULL");
  }
  return guarded([&] {
    bool recovered = false;
    auto client = waymark::detail::Client::open(std::move(owned->options), &recovered);
    if (!client.ok()) return client.status();
    auto* handle = new waymark_client_s();
    handle->client = std::move(client.value());
    *out_client = handle;
    return recovered ? Error(WAYMARK_STORE_RECOVERED, "the store was corrupt: moved aside, a fresh one was created")
                     : Status::Ok();
  });
}

waymark_status_t waymark_client_close(waymark_client_t* handle) {
  if (handle == nullptr) return fail(WAYMARK_ERR_INVALID_ARGUMENT, "client is NULL");
  return guarded([&] {
    handle->closed = true;                // new calls turn away
    std::unique_lock lock(handle->gate);  // waits for calls in flight
    if (handle->client == nullptr) return Status::Ok();
    Status s = handle->client->close();
    handle->client.reset();
    return s;
  });
}

void waymark_client_free(waymark_client_t* handle) {
  if (handle == nullptr) return;
  (void)waymark_client_close(handle);
  delete handle;
}

/* ------------------------------------------------------------------ events */

waymark_status_t waymark_event_new(waymark_event_type_t type, const char* name, size_t name_len,
                                   waymark_event_t** out_event) {
  if (out_event == nullptr) return fail(WAYMARK_ERR_INVALID_ARGUMENT, "out_event is NULL");
  *out_event = nullptr;
  // 2 (identify) and 5 (consent) are recorded only by the SDK itself.
  if (!known_enum(type, WAYMARK_EVENT_TRACK, WAYMARK_EVENT_CUSTOM) || type == 2 || type == 5) {
    return fail(WAYMARK_ERR_INVALID_ARGUMENT, "unknown event type");
  }
  return guarded([&] {
    auto event = std::make_unique<waymark_event_s>();
    if (Status s = text_arg(name, name_len, 1, WAYMARK_MAX_NAME_BYTES, "event name", &event->draft.name); !s.ok()) {
      return s;
    }
    event->draft.type = static_cast<uint8_t>(type);
    *out_event = event.release();
    return Status::Ok();
  });
}

void waymark_event_free(waymark_event_t* event) {
  delete event;
}

waymark_status_t waymark_event_set_channel(waymark_event_t* event, waymark_channel_t channel) {
  if (event == nullptr) return fail(WAYMARK_ERR_INVALID_ARGUMENT, "event is NULL");
  if (!known_enum(channel, WAYMARK_CHANNEL_UNKNOWN, WAYMARK_CHANNEL_PRINT)) {
    return fail(WAYMARK_ERR_INVALID_ARGUMENT, "unknown channel");
  }
  event->draft.channel = static_cast<uint8_t>(channel);
  return WAYMARK_OK;
}

waymark_status_t waymark_event_set_purpose(waymark_event_t* event, waymark_purpose_t purpose) {
  if (event == nullptr) return fail(WAYMARK_ERR_INVALID_ARGUMENT, "event is NULL");
  if (!known_purpose(purpose)) return fail(WAYMARK_ERR_INVALID_ARGUMENT, "unknown purpose");
  event->draft.purpose = static_cast<uint8_t>(purpose);
  return WAYMARK_OK;
}

waymark_status_t waymark_event_set_string(waymark_event_t* event, const char* key, size_t key_len, const char* value,
                                          size_t value_len) {
  return guarded([&] {
    waymark::detail::Property p;
    p.kind = waymark::detail::Property::Kind::String;
    if (Status s = text_arg(value, value_len, 0, WAYMARK_MAX_STRING_BYTES, "property value", &p.s); !s.ok()) return s;
    return set_property(event, key, key_len, std::move(p));
  });
}

waymark_status_t waymark_event_set_int(waymark_event_t* event, const char* key, size_t key_len, int64_t value) {
  return guarded([&] {
    waymark::detail::Property p;
    p.kind = waymark::detail::Property::Kind::Int;
    p.i = value;
    return set_property(event, key, key_len, std::move(p));
  });
}

waymark_status_t waymark_event_set_double(waymark_event_t* event, const char* key, size_t key_len, double value) {
  if (!std::isfinite(value)) return fail(WAYMARK_ERR_INVALID_VALUE, "property value is NaN or infinite");
  return guarded([&] {
    waymark::detail::Property p;
    p.kind = waymark::detail::Property::Kind::Double;
    p.d = value;
    return set_property(event, key, key_len, std::move(p));
  });
}

waymark_status_t waymark_event_set_bool(waymark_event_t* event, const char* key, size_t key_len, int value) {
  return guarded([&] {
    waymark::detail::Property p;
    p.kind = waymark::detail::Property::Kind::Bool;
    p.b = value != 0;
    return set_property(event, key, key_len, std::move(p));
  });
}

waymark_status_t waymark_event_set_revenue(waymark_event_t* event, int64_t amount_minor, const char* currency,
                                           size_t currency_len) {
  if (event == nullptr) return fail(WAYMARK_ERR_INVALID_ARGUMENT, "event is NULL");
  return guarded([&] {
    waymark::detail::Revenue r;
    int32_t digits = 0;
    if (Status s = currency_arg(currency, currency_len, &r.currency, &digits); !s.ok()) return s;
    r.amount_minor = amount_minor;
    event->draft.revenue = std::move(r);
    return Status::Ok();
  });
}

waymark_status_t waymark_event_set_revenue_decimal(waymark_event_t* event, double amount, const char* currency,
                                                   size_t currency_len) {
  if (event == nullptr) return fail(WAYMARK_ERR_INVALID_ARGUMENT, "event is NULL");
  if (!std::isfinite(amount)) return fail(WAYMARK_ERR_INVALID_VALUE, "revenue is NaN or infinite");
  return guarded([&] {
    waymark::detail::Revenue r;
    int32_t digits = 0;
    if (Status s = currency_arg(currency, currency_len, &r.currency, &digits); !s.ok()) return s;
    const double minor = std::round(amount * std::pow(10.0, digits));  // half away from zero
    if (!(std::fabs(minor) < 9.0e15)) return Error(WAYMARK_ERR_INVALID_VALUE, "revenue out of range");
    r.amount_minor = static_cast<int64_t>(minor);
    event->draft.revenue = std::move(r);
    return Status::Ok();
  });
}

waymark_status_t waymark_event_set_campaign(waymark_event_t* event, const char* source, size_t source_len,
                                            const char* medium, size_t medium_len, const char* name, size_t name_len,
                                            const char* content, size_t content_len) {
  if (event == nullptr) return fail(WAYMARK_ERR_INVALID_ARGUMENT, "event is NULL");
  return guarded([&] {
    waymark::detail::Campaign c;
    const size_t max = WAYMARK_MAX_STRING_BYTES;
    if (Status s = text_arg(source, source_len, 0, max, "campaign source", &c.source); !s.ok()) return s;
    if (Status s = text_arg(medium, medium_len, 0, max, "campaign medium", &c.medium); !s.ok()) return s;
    if (Status s = text_arg(name, name_len, 0, max, "campaign name", &c.name); !s.ok()) return s;
    if (Status s = text_arg(content, content_len, 0, max, "campaign content", &c.content); !s.ok()) return s;
    event->draft.campaign = std::move(c);
    return Status::Ok();
  });
}

waymark_status_t waymark_client_record(waymark_client_t* client, const waymark_event_t* event) {
  if (event == nullptr) return fail(WAYMARK_ERR_INVALID_ARGUMENT, "event is NULL");
  return with_client(client, [&](waymark::detail::Client& c) { return c.record(event->draft); });
}

waymark_status_t waymark_client_record_batch(waymark_client_t* client, const waymark_event_t* const* events,
                                             size_t count, waymark_status_t* statuses) {
  waymark_status_t rc;
  if (events == nullptr || count == 0) {
    rc = fail(WAYMARK_ERR_INVALID_ARGUMENT, "events is NULL or count is 0");
  } else if (count > WAYMARK_MAX_BATCH_EVENTS) {
    rc = fail(WAYMARK_ERR_TOO_LARGE, "more than WAYMARK_MAX_BATCH_EVENTS events");
  } else if (std::find(events, events + count, nullptr) != events + count) {
    rc = fail(WAYMARK_ERR_INVALID_ARGUMENT, "an event is NULL");
  } else {
    rc = with_client(client, [&](waymark::detail::Client& c) {
      std::vector<const waymark::detail::EventDraft*> drafts(count);
      for (size_t i = 0; i < count; ++i) drafts[i] = &events[i]->draft;
      std::vector<waymark_status_t> own(statuses == nullptr ? count : 0);
      return c.record_batch(drafts.data(), count, statuses != nullptr ? statuses : own.data());
    });
  }
  if (rc < 0 && statuses != nullptr && count <= WAYMARK_MAX_BATCH_EVENTS) std::fill(statuses, statuses + count, rc);
  return rc;
}

/* ------------------------------------------------------------------ identity */

waymark_status_t waymark_client_identify(waymark_client_t* client, waymark_id_kind_t kind, const char* value,
                                         size_t value_len) {
  if (value == nullptr || !known_kind(kind))
    return fail(WAYMARK_ERR_INVALID_ARGUMENT, "identifier is NULL or of unknown kind");
  return with_client(client, [&](waymark::detail::Client& c) { return c.identify(kind, {value, value_len}); });
}

waymark_status_t waymark_client_identify_verified(waymark_client_t* client, waymark_id_kind_t kind, const char* value,
                                                  size_t value_len, const uint8_t* assertion, size_t assertion_len) {
  if (value == nullptr || !known_kind(kind))
    return fail(WAYMARK_ERR_INVALID_ARGUMENT, "identifier is NULL or of unknown kind");
  if (assertion == nullptr || assertion_len == 0 || assertion_len > WAYMARK_MAX_ASSERTION_BYTES) {
    return fail(WAYMARK_ERR_INVALID_ARGUMENT, "an identity assertion is 1 to 1024 bytes");
  }
  return with_client(client, [&](waymark::detail::Client& c) {
    return c.identify(kind, {value, value_len}, {assertion, assertion_len});
  });
}

waymark_status_t waymark_client_device_key(waymark_client_t* client, uint8_t* out, size_t out_len) {
  if (out == nullptr || out_len < 32)
    return fail(WAYMARK_ERR_INVALID_ARGUMENT, "output is NULL or shorter than 32 bytes");
  return with_client(client, [&](waymark::detail::Client& c) {
    const auto key = c.device_key();
    std::copy(key.begin(), key.end(), out);
    return Status::Ok();
  });
}

waymark_status_t waymark_client_pseudonymize(waymark_client_t* client, waymark_id_kind_t kind, const char* value,
                                             size_t value_len, uint8_t* out, size_t out_len) {
  if (value == nullptr || out == nullptr || out_len < 32 || !known_kind(kind)) {
    return fail(WAYMARK_ERR_INVALID_ARGUMENT, "identifier or output is NULL, or output shorter than 32 bytes");
  }
  return with_client(client, [&](waymark::detail::Client& c) {
    waymark::detail::Pseudonym p{};
    Status s = c.pseudonymize(kind, {value, value_len}, p);
    if (s.ok()) std::memcpy(out, p.data(), p.size());
    return s;
  });
}

waymark_status_t waymark_client_export_hashed(waymark_client_t* client, waymark_id_kind_t kind,
                                              waymark_export_format_t format, const char* value, size_t value_len,
                                              char* out, size_t out_capacity, size_t* out_len) {
  if (value == nullptr || !known_kind(kind) || !known_enum(format, WAYMARK_EXPORT_UID2, WAYMARK_EXPORT_GOOGLE)) {
    return fail(WAYMARK_ERR_INVALID_ARGUMENT, "identifier is NULL, or unknown kind or format");
  }
  return with_client(client, [&](waymark::detail::Client& c) {
    return c.export_hashed(kind, format, {value, value_len}, out, out_capacity, out_len);
  });
}

/* ------------------------------------------------------------------ consent */

waymark_status_t waymark_client_set_consent(waymark_client_t* client, waymark_purpose_t purpose, int granted,
                                            const char* policy_version, size_t policy_version_len) {
  if (!known_purpose(purpose)) return fail(WAYMARK_ERR_INVALID_ARGUMENT, "unknown purpose");
  return with_client(client, [&](waymark::detail::Client& c) {
    std::string policy;
    if (Status s = text_arg(policy_version, policy_version_len, 1, 64, "policy version", &policy); !s.ok()) return s;
    return c.set_consent(purpose, granted != 0, policy);
  });
}

waymark_status_t waymark_client_get_consent(waymark_client_t* client, waymark_purpose_t purpose, int* out_granted) {
  if (out_granted == nullptr || !known_purpose(purpose)) {
    return fail(WAYMARK_ERR_INVALID_ARGUMENT, "out_granted is NULL or purpose unknown");
  }
  return with_client(client, [&](waymark::detail::Client& c) -> Status {
    auto r = c.consent(purpose);
    if (!r.ok()) return r.status();
    *out_granted = r.value() ? 1 : 0;
    return Status::Ok();
  });
}

/* ------------------------------------------------------------------ customers */

waymark_status_t waymark_client_begin_customer(waymark_client_t* client) {
  return with_client(client, [](waymark::detail::Client& c) { return c.begin_customer(); });
}

waymark_status_t waymark_client_end_customer(waymark_client_t* client) {
  return with_client(client, [](waymark::detail::Client& c) { return c.end_customer(); });
}

waymark_status_t waymark_client_forget(waymark_client_t* client) {
  return with_client(client, [](waymark::detail::Client& c) { return c.forget(); });
}

waymark_status_t waymark_client_forget_with_token(waymark_client_t* client, const uint8_t* token, size_t token_len) {
  if (token == nullptr || token_len == 0 || token_len > 8192) {
    return fail(WAYMARK_ERR_INVALID_ARGUMENT, "an erasure token is 1 to 8192 bytes");
  }
  return with_client(client, [&](waymark::detail::Client& c) { return c.forget({token, token_len}); });
}

waymark_status_t waymark_client_flush(waymark_client_t* client, int64_t timeout_ms) {
  return with_client(client, [&](waymark::detail::Client& c) { return c.flush(timeout_ms); });
}

waymark_status_t waymark_client_notify_lifecycle(waymark_client_t* client, waymark_lifecycle_t event) {
  if (!known_enum(event, WAYMARK_LIFECYCLE_BACKGROUND, WAYMARK_LIFECYCLE_NETWORK_CHANGED)) {
    return fail(WAYMARK_ERR_INVALID_ARGUMENT, "unknown lifecycle event");
  }
  return with_client(client, [&](waymark::detail::Client& c) {
    c.notify_lifecycle(event);
    return Status::Ok();
  });
}

waymark_status_t waymark_client_stat(waymark_client_t* client, waymark_stat_t stat, int64_t* out_value) {
  if (out_value == nullptr || !known_enum(stat, WAYMARK_STAT_QUEUED, WAYMARK_STAT_REJECTED)) {
    return fail(WAYMARK_ERR_INVALID_ARGUMENT, "out_value is NULL or stat unknown");
  }
  return with_client(client, [&](waymark::detail::Client& c) -> Status {
    auto r = c.stat(stat);
    if (!r.ok()) return r.status();
    *out_value = r.value();
    return Status::Ok();
  });
}

waymark_status_t waymark_client_last_rejection(waymark_client_t* client, int32_t* out_http_status, char* out_reason,
                                               size_t reason_capacity, size_t* out_reason_len) {
  if (out_http_status == nullptr || out_reason_len == nullptr || (out_reason == nullptr && reason_capacity > 0)) {
    return fail(WAYMARK_ERR_INVALID_ARGUMENT, "an out pointer is NULL");
  }
  return with_client(client, [&](waymark::detail::Client& c) -> Status {
    const auto r = c.last_rejection();
    *out_http_status = r.http_status;
    *out_reason_len = r.reason.size();
    if (reason_capacity > 0) std::memcpy(out_reason, r.reason.data(), std::min(reason_capacity, r.reason.size()));
    return Status::Ok();
  });
}

}  // extern "C"

waymark_status_t waymark_client_fetch_segments(waymark_client_t* client, int64_t timeout_ms, waymark_segments_t** out) {
  if (out == nullptr) return fail(WAYMARK_ERR_INVALID_ARGUMENT, "out is NULL");
  *out = nullptr;
  return with_client(client, [&](waymark::detail::Client& c) -> Status {
    auto list = c.fetch_segments(timeout_ms);
    if (!list.ok()) return list.status();
    auto segments = std::make_unique<waymark_segments_s>();
    segments->names = std::move(list.value().segments);
    segments->as_of_ms = list.value().as_of_ms;
    *out = segments.release();
    return Status::Ok();
  });
}

size_t waymark_segments_count(const waymark_segments_t* segments) {
  return segments == nullptr ? 0 : segments->names.size();
}

const char* waymark_segments_name(const waymark_segments_t* segments, size_t index) {
  return segments == nullptr || index >= segments->names.size() ? nullptr : segments->names[index].c_str();
}

int64_t waymark_segments_as_of_ms(const waymark_segments_t* segments) {
  return segments == nullptr ? 0 : segments->as_of_ms;
}

void waymark_segments_free(waymark_segments_t* segments) {
  delete segments;
}
