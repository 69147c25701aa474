/*
 * Node-API glue over the Waymark C ABI (nothing else of the SDK is used). Plain C against node_api.h:
 * ABI-stable across Node versions, no node-addon-api or node-gyp needed. index.js shapes the JS API.
 *
 * Every function takes the client as an external created by open(); the external's finaliser frees
 * the native client once JS can no longer reach it, so a closed client stays valid (calls answer
 * ERR_CLOSED). Errors are thrown as Error objects with `status` (number) and `code` (status name).
 * flush() runs on the libuv thread pool and returns a Promise: it never blocks the event loop.
 */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "waymark/waymark.h"

#define CHECK_NAPI(env, call)                                         \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error((env), NULL, "waymark: Node-API call failed"); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

/* A JS string (UTF-8) or Buffer/TypedArray (any bytes); *out is malloc'd (NUL-terminated), or NULL after a
 * TypeError was thrown. */
static char* bytes_arg(napi_env env, napi_value v, const char* what, size_t* len) {
  napi_valuetype t;
  bool is_buffer = false, is_typed = false;
  if (napi_typeof(env, v, &t) != napi_ok) return NULL;
  if (t == napi_string) {
    size_t n = 0;
    if (napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok) return NULL;
    char* s = malloc(n + 1);
    if (s == NULL || napi_get_value_string_utf8(env, v, s, n + 1, len) != napi_ok) {
      free(s);
      napi_throw_error(env, NULL, "waymark: out of memory");
      return NULL;
    }
    return s;
  }
  napi_is_buffer(env, v, &is_buffer);
  napi_is_typedarray(env, v, &is_typed);
  if (is_buffer || is_typed) {
    void* data = NULL;
    size_t n = 0;
    if (is_buffer) {
      napi_get_buffer_info(env, v, &data, &n);
    } else {
      napi_typedarray_type type;
      napi_value ab;
      size_t offset;
      napi_get_typedarray_info(env, v, &type, &n, &data, &ab, &offset);
      if (type != napi_uint8_array) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s must be a string or a Uint8Array", what);
        napi_throw_type_error(env, NULL, msg);
        return NULL;
      }
    }
    char* s = malloc(n + 1);
    if (s == NULL) {
      napi_throw_error(env, NULL, "waymark: out of memory");
      return NULL;
    }
    if (n > 0) memcpy(s, data, n);
    s[n] = '\0';
    *len = n;
    return s;
  }
  char msg[96];
  snprintf(msg, sizeof msg, "%s must be a string or a Buffer", what);
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

/* An integer argument (a JS number without fraction, or a BigInt); false after a TypeError was thrown. */
static bool int_arg(napi_env env, napi_value v, const char* what, int64_t* out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_bigint) {
    bool lossless = false;
    napi_get_value_bigint_int64(env, v, out, &lossless);
    if (lossless) return true;
  } else if (t == napi_number) {
    double d = 0;
    napi_get_value_double(env, v, &d);
    if (d == (double)(int64_t)d && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
      *out = (int64_t)d;
      return true;
    }
  }
  char msg[96];
  snprintf(msg, sizeof msg, "%s must be an integer", what);
  napi_throw_type_error(env, NULL, msg);
  return false;
}

/* An Error with `status` and `code`; `message` is the library's (thread-local: read on its thread). */
static napi_value make_error(napi_env env, waymark_status_t status, const char* message) {
  const char* name = waymark_status_name(status);
  const char* code = strncmp(name, "WAYMARK_", 8) == 0 ? name + 8 : name;
  napi_value msg, code_v, status_v, err;
  char text[512];
  snprintf(text, sizeof text, "%s: %s", code, message);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_v);
  napi_create_int32(env, status, &status_v);
  napi_create_error(env, code_v, msg, &err);
  napi_set_named_property(env, err, "status", status_v);
  return err;
}

/* Returns the status as a JS number when it is not an error; throws (and returns NULL) otherwise. */
static napi_value result(napi_env env, waymark_status_t status) {
  if (status < 0) {
    napi_throw(env, make_error(env, status, waymark_last_error_message()));
    return NULL;
  }
  napi_value v;
  napi_create_int32(env, status, &v);
  return v;
}

static void free_client(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  waymark_client_free((waymark_client_t*)data);
}

/* args[0] must be a client external; NULL after a TypeError. */
static waymark_client_t* client_arg(napi_env env, napi_value v) {
  napi_valuetype t;
  void* data = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &data) != napi_ok) {
    napi_throw_type_error(env, NULL, "not a waymark client");
    return NULL;
  }
  return (waymark_client_t*)data;
}

static napi_value get_args(napi_env env, napi_callback_info info, size_t want, napi_value* args) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "waymark: missing arguments");
    return NULL;
  }
  napi_value ok;
  napi_get_boolean(env, true, &ok);
  return ok;
}

/* property(obj, name) or NULL when absent/undefined/null. */
static napi_value property(napi_env env, napi_value obj, const char* name) {
  bool has = false;
  napi_value v;
  napi_valuetype t;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has) return NULL;
  napi_get_named_property(env, obj, name, &v);
  napi_typeof(env, v, &t);
  return t == napi_undefined || t == napi_null ? NULL : v;
}

/* Calls setter(handle, bytes, len) with obj[name] when present; false once an error was thrown. */
typedef waymark_status_t (*string_setter)(waymark_options_t*, const char*, size_t);
static bool set_string(napi_env env, waymark_options_t* o, napi_value obj, const char* name, string_setter setter) {
  napi_value v = property(env, obj, name);
  if (v == NULL) return true;
  size_t len = 0;
  char* s = bytes_arg(env, v, name, &len);
  if (s == NULL) return false;
  const waymark_status_t st = setter(o, s, len);
  free(s);
  return result(env, st) != NULL;
}

static bool set_int(napi_env env, napi_value obj, const char* name, int64_t* out) {
  napi_value v = property(env, obj, name);
  return v == NULL || int_arg(env, v, name, out);
}

/* open(options) -> client external. options: storePath, appId, brandKey, keyEpoch, deviceMode,
 * durability, childMode, defaultRegion, collectorUrl, collectorKeys [[id, key]...], retryPolicy [4]. */
static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value args[1];
  if (get_args(env, info, 1, args) == NULL) return NULL;
  napi_valuetype t;
  napi_typeof(env, args[0], &t);
  if (t != napi_object) {
    napi_throw_type_error(env, NULL, "options must be an object");
    return NULL;
  }
  waymark_options_t* o = NULL;
  if (result(env, waymark_options_new(&o)) == NULL) return NULL;
  int64_t epoch = 1, mode = 0, durability = 0, child = 0;
  bool ok = set_string(env, o, args[0], "storePath", waymark_options_set_store_path) &&
            set_string(env, o, args[0], "appId", waymark_options_set_app_id) &&
            set_string(env, o, args[0], "defaultRegion", waymark_options_set_default_region) &&
            set_string(env, o, args[0], "collectorUrl", waymark_options_set_collector_url) &&
            set_int(env, args[0], "keyEpoch", &epoch) && set_int(env, args[0], "deviceMode", &mode) &&
            set_int(env, args[0], "durability", &durability) && set_int(env, args[0], "childMode", &child);
  if (ok) {
    napi_value key = property(env, args[0], "brandKey");
    size_t len = 0;
    char* k = key == NULL ? NULL : bytes_arg(env, key, "brandKey", &len);
    if (key != NULL && k == NULL) {
      ok = false;
    } else {
      ok = result(env, waymark_options_set_brand_key(o, (const uint8_t*)k, len, (uint32_t)epoch)) != NULL &&
           result(env, waymark_options_set_device_mode(o, (waymark_device_mode_t)mode)) != NULL &&
           result(env, waymark_options_set_durability(o, (waymark_durability_t)durability)) != NULL &&
           result(env, waymark_options_set_child_mode(o, child != 0)) != NULL;
    }
    free(k);
  }
  napi_value keys = ok ? property(env, args[0], "collectorKeys") : NULL;
  if (keys != NULL) {
    uint32_t n = 0;
    napi_get_array_length(env, keys, &n);
    for (uint32_t i = 0; ok && i < n; ++i) {
      napi_value pair, id_v, key_v;
      int64_t id = 0;
      size_t len = 0;
      napi_get_element(env, keys, i, &pair);
      napi_get_element(env, pair, 0, &id_v);
      napi_get_element(env, pair, 1, &key_v);
      char* k = int_arg(env, id_v, "collector key id", &id) ? bytes_arg(env, key_v, "collector key", &len) : NULL;
      ok = k != NULL && result(env, waymark_options_add_collector_key(o, (const uint8_t*)k, len, (uint32_t)id)) != NULL;
      free(k);
    }
  }
  napi_value retry = ok ? property(env, args[0], "retryPolicy") : NULL;
  if (retry != NULL) {
    int64_t r[4] = {0, 0, 0, 0};
    for (uint32_t i = 0; ok && i < 4; ++i) {
      napi_value e;
      napi_get_element(env, retry, i, &e);
      ok = int_arg(env, e, "retryPolicy entry", &r[i]);
    }
    ok = ok && result(env, waymark_options_set_retry_policy(o, r[0], r[1], r[2], r[3])) != NULL;
  }
  if (!ok) {
    waymark_options_free(o);
    return NULL;
  }
  waymark_client_t* c = NULL;
  const waymark_status_t st = waymark_client_open(o, &c); /* takes the options */
  if (result(env, st) == NULL) return NULL;
  napi_value external, recovered, out;
  CHECK_NAPI(env, napi_create_external(env, c, free_client, NULL, &external));
  napi_get_boolean(env, st == WAYMARK_STORE_RECOVERED, &recovered);
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "handle", external);
  napi_set_named_property(env, out, "recovered", recovered);
  return out;
}

#define SIMPLE(name, call)                                        \
  static napi_value name(napi_env env, napi_callback_info info) { \
    napi_value args[1];                                           \
    if (get_args(env, info, 1, args) == NULL) return NULL;        \
    waymark_client_t* c = client_arg(env, args[0]);               \
    return c == NULL ? NULL : result(env, call(c));               \
  }
SIMPLE(js_close, waymark_client_close)
SIMPLE(js_begin_customer, waymark_client_begin_customer)
SIMPLE(js_end_customer, waymark_client_end_customer)
SIMPLE(js_forget, waymark_client_forget)

/* An event builder from {type, name, channel, purpose, properties, revenueMinor, revenueDecimal, currency,
 * campaign: {source, medium, name, content}}; NULL after an exception was thrown. */
static waymark_event_t* event_arg(napi_env env, napi_value obj) {
  napi_valuetype t;
  napi_typeof(env, obj, &t);
  if (t != napi_object) {
    napi_throw_type_error(env, NULL, "event must be an object");
    return NULL;
  }
  int64_t type = 0, channel = 0, purpose = 0;
  napi_value type_v = property(env, obj, "type"), name_v = property(env, obj, "name");
  if (type_v == NULL || name_v == NULL) {
    napi_throw_type_error(env, NULL, "event needs a type and a name");
    return NULL;
  }
  size_t name_len = 0;
  char* name = int_arg(env, type_v, "event type", &type) ? bytes_arg(env, name_v, "event name", &name_len) : NULL;
  if (name == NULL) return NULL;
  waymark_event_t* e = NULL;
  waymark_status_t st = waymark_event_new((waymark_event_type_t)type, name, name_len, &e);
  free(name);
  if (result(env, st) == NULL) return NULL;
  bool ok = true;
  if (property(env, obj, "channel") != NULL) {
    ok = set_int(env, obj, "channel", &channel) &&
         result(env, waymark_event_set_channel(e, (waymark_channel_t)channel)) != NULL;
  }
  if (ok && property(env, obj, "purpose") != NULL) {
    ok = set_int(env, obj, "purpose", &purpose) &&
         result(env, waymark_event_set_purpose(e, (waymark_purpose_t)purpose)) != NULL;
  }
  napi_value props = ok ? property(env, obj, "properties") : NULL;
  if (props != NULL) {
    napi_value keys;
    uint32_t n = 0;
    napi_get_property_names(env, props, &keys);
    napi_get_array_length(env, keys, &n);
    for (uint32_t i = 0; ok && i < n; ++i) {
      napi_value key_v, value;
      napi_valuetype vt;
      size_t key_len = 0, value_len = 0;
      napi_get_element(env, keys, i, &key_v);
      napi_get_property(env, props, key_v, &value);
      char* key = bytes_arg(env, key_v, "property key", &key_len);
      if (key == NULL) {
        ok = false;
        break;
      }
      napi_typeof(env, value, &vt);
      if (vt == napi_boolean) {
        bool b = false;
        napi_get_value_bool(env, value, &b);
        st = waymark_event_set_bool(e, key, key_len, b ? 1 : 0);
      } else if (vt == napi_bigint) {
        int64_t v = 0;
        ok = int_arg(env, value, "property", &v);
        st = ok ? waymark_event_set_int(e, key, key_len, v) : WAYMARK_OK;
      } else if (vt == napi_number) {
        double d = 0;
        napi_get_value_double(env, value, &d);
        st = d == (double)(int64_t)d && d > -9007199254740992.0 && d < 9007199254740992.0
                 ? waymark_event_set_int(e, key, key_len, (int64_t)d)
                 : waymark_event_set_double(e, key, key_len, d);
      } else {
        char* s = bytes_arg(env, value, "property value", &value_len);
        ok = s != NULL;
        st = ok ? waymark_event_set_string(e, key, key_len, s, value_len) : WAYMARK_OK;
        free(s);
      }
      free(key);
      ok = ok && result(env, st) != NULL;
    }
  }
  napi_value currency_v = ok ? property(env, obj, "currency") : NULL;
  napi_value minor_v = ok ? property(env, obj, "revenueMinor") : NULL;
  napi_value decimal_v = ok ? property(env, obj, "revenueDecimal") : NULL;
  if (ok && (minor_v != NULL || decimal_v != NULL)) {
    size_t cur_len = 0;
    char* cur = currency_v == NULL ? NULL : bytes_arg(env, currency_v, "currency", &cur_len);
    if (cur == NULL) {
      if (currency_v == NULL) napi_throw_type_error(env, NULL, "revenue needs a currency");
      ok = false;
    } else if (minor_v != NULL) {
      int64_t minor = 0;
      ok = int_arg(env, minor_v, "revenueMinor", &minor) &&
           result(env, waymark_event_set_revenue(e, minor, cur, cur_len)) != NULL;
    } else {
      double d = 0;
      napi_valuetype dt;
      napi_typeof(env, decimal_v, &dt);
      if (dt != napi_number) {
        napi_throw_type_error(env, NULL, "revenueDecimal must be a number");
        ok = false;
      } else {
        napi_get_value_double(env, decimal_v, &d);
        ok = result(env, waymark_event_set_revenue_decimal(e, d, cur, cur_len)) != NULL;
      }
    }
    free(cur);
  }
  napi_value campaign = ok ? property(env, obj, "campaign") : NULL;
  if (campaign != NULL) {
    const char* names[4] = {"source", "medium", "name", "content"};
    char* parts[4] = {NULL, NULL, NULL, NULL};
    size_t lens[4] = {0, 0, 0, 0};
    for (int i = 0; ok && i < 4; ++i) {
      napi_value v = property(env, campaign, names[i]);
      if (v != NULL) ok = (parts[i] = bytes_arg(env, v, names[i], &lens[i])) != NULL;
    }
    ok = ok && result(env, waymark_event_set_campaign(e, parts[0], lens[0], parts[1], lens[1], parts[2], lens[2],
                                                      parts[3], lens[3])) != NULL;
    for (int i = 0; i < 4; ++i) free(parts[i]);
  }
  if (!ok) {
    waymark_event_free(e);
    return NULL;
  }
  return e;
}

/* record(client, event) -> status */
static napi_value js_record(napi_env env, napi_callback_info info) {
  napi_value args[2];
  if (get_args(env, info, 2, args) == NULL) return NULL;
  waymark_client_t* c = client_arg(env, args[0]);
  waymark_event_t* e = c == NULL ? NULL : event_arg(env, args[1]);
  if (e == NULL) return NULL;
  napi_value out = result(env, waymark_client_record(c, e));
  waymark_event_free(e);
  return out;
}

/* recordBatch(client, [event, ...]) -> [status, ...] (one commit for all; an error stores none) */
static napi_value js_record_batch(napi_env env, napi_callback_info info) {
  napi_value args[2];
  if (get_args(env, info, 2, args) == NULL) return NULL;
  waymark_client_t* c = client_arg(env, args[0]);
  if (c == NULL) return NULL;
  bool is_array = false;
  uint32_t n = 0;
  napi_is_array(env, args[1], &is_array);
  if (!is_array) {
    napi_throw_type_error(env, NULL, "events must be an array");
    return NULL;
  }
  napi_get_array_length(env, args[1], &n);
  waymark_event_t** events = calloc(n == 0 ? 1 : n, sizeof *events);
  waymark_status_t* statuses = calloc(n == 0 ? 1 : n, sizeof *statuses);
  napi_value out = NULL;
  bool ok = events != NULL && statuses != NULL;
  if (!ok) napi_throw_error(env, NULL, "waymark: out of memory");
  for (uint32_t i = 0; ok && i < n; ++i) {
    napi_value v;
    ok = napi_get_element(env, args[1], i, &v) == napi_ok && (events[i] = event_arg(env, v)) != NULL;
  }
  if (ok && result(env, waymark_client_record_batch(c, (const waymark_event_t* const*)events, n, statuses)) != NULL) {
    napi_create_array_with_length(env, n, &out);
    for (uint32_t i = 0; i < n; ++i) {
      napi_value st;
      napi_create_int32(env, statuses[i], &st);
      napi_set_element(env, out, i, st);
    }
  }
  for (uint32_t i = 0; events != NULL && i < n; ++i) waymark_event_free(events[i]);
  free(events);
  free(statuses);
  return out;
}

/* identify(client, kind, value) and, with argc 4, identifyVerified(client, kind, value, assertion). */
static napi_value identify_call(napi_env env, napi_callback_info info, size_t argc) {
  napi_value args[4];
  if (get_args(env, info, argc, args) == NULL) return NULL;
  waymark_client_t* c = client_arg(env, args[0]);
  int64_t kind = 0;
  size_t len = 0, assertion_len = 0;
  if (c == NULL || !int_arg(env, args[1], "kind", &kind)) return NULL;
  char* assertion = NULL;
  if (argc == 4 && (assertion = bytes_arg(env, args[3], "assertion", &assertion_len)) == NULL) return NULL;
  char* v = bytes_arg(env, args[2], "identifier", &len);
  if (v == NULL) {
    free(assertion);
    return NULL;
  }
  const waymark_status_t st = assertion == NULL
                                  ? waymark_client_identify(c, (waymark_id_kind_t)kind, v, len)
                                  : waymark_client_identify_verified(c, (waymark_id_kind_t)kind, v, len,
                                                                     (const uint8_t*)assertion, assertion_len);
  explicit_bzero(v, len); /* the raw identifier does not outlive the call here either */
  free(v);
  free(assertion);
  return result(env, st);
}

static napi_value js_identify(napi_env env, napi_callback_info info) {
  return identify_call(env, info, 3);
}

static napi_value js_identify_verified(napi_env env, napi_callback_info info) {
  return identify_call(env, info, 4);
}

static napi_value js_device_key(napi_env env, napi_callback_info info) {
  napi_value args[1];
  if (get_args(env, info, 1, args) == NULL) return NULL;
  waymark_client_t* c = client_arg(env, args[0]);
  uint8_t key[32];
  if (c == NULL) return NULL;
  const waymark_status_t st = waymark_client_device_key(c, key, sizeof key);
  if (st != WAYMARK_OK) return result(env, st);
  void* data = NULL;
  napi_value out;
  if (napi_create_buffer_copy(env, sizeof key, key, &data, &out) != napi_ok) return NULL;
  return out;
}

static napi_value js_forget_with_token(napi_env env, napi_callback_info info) {
  napi_value args[2];
  if (get_args(env, info, 2, args) == NULL) return NULL;
  waymark_client_t* c = client_arg(env, args[0]);
  size_t len = 0;
  if (c == NULL) return NULL;
  char* token = bytes_arg(env, args[1], "erasureToken", &len);
  if (token == NULL) return NULL;
  const waymark_status_t st = waymark_client_forget_with_token(c, (const uint8_t*)token, len);
  free(token);
  return result(env, st);
}

static napi_value js_set_consent(napi_env env, napi_callback_info info) {
  napi_value args[4];
  if (get_args(env, info, 4, args) == NULL) return NULL;
  waymark_client_t* c = client_arg(env, args[0]);
  int64_t purpose = 0;
  bool granted = false;
  size_t len = 0;
  napi_valuetype t;
  if (c == NULL || !int_arg(env, args[1], "purpose", &purpose)) return NULL;
  napi_typeof(env, args[2], &t);
  if (t != napi_boolean) {
    napi_throw_type_error(env, NULL, "granted must be a boolean");
    return NULL;
  }
  napi_get_value_bool(env, args[2], &granted);
  char* version = bytes_arg(env, args[3], "policyVersion", &len);
  if (version == NULL) return NULL;
  const waymark_status_t st = waymark_client_set_consent(c, (waymark_purpose_t)purpose, granted ? 1 : 0, version, len);
  free(version);
  return result(env, st);
}

static napi_value js_get_consent(napi_env env, napi_callback_info info) {
  napi_value args[2];
  if (get_args(env, info, 2, args) == NULL) return NULL;
  waymark_client_t* c = client_arg(env, args[0]);
  int64_t purpose = 0;
  int granted = 0;
  if (c == NULL || !int_arg(env, args[1], "purpose", &purpose)) return NULL;
  if (result(env, waymark_client_get_consent(c, (waymark_purpose_t)purpose, &granted)) == NULL) return NULL;
  napi_value v;
  napi_get_boolean(env, granted != 0, &v);
  return v;
}

static napi_value js_stat(napi_env env, napi_callback_info info) {
  napi_value args[2];
  if (get_args(env, info, 2, args) == NULL) return NULL;
  waymark_client_t* c = client_arg(env, args[0]);
  int64_t stat = 0, value = 0;
  if (c == NULL || !int_arg(env, args[1], "stat", &stat)) return NULL;
  if (result(env, waymark_client_stat(c, (waymark_stat_t)stat, &value)) == NULL) return NULL;
  napi_value v;
  napi_create_int64(env, value, &v);
  return v;
}

/* flush(client, timeoutMs) -> Promise<void>, on the libuv pool. */
typedef struct {
  waymark_client_t* client;
  int64_t timeout_ms;
  waymark_status_t status;
  char message[256];
  napi_ref keep; /* the client external stays reachable until the work is done */
  napi_deferred deferred;
  napi_async_work work;
} FlushWork;

static void flush_execute(napi_env env, void* data) {
  (void)env;
  FlushWork* w = data;
  w->status = waymark_client_flush(w->client, w->timeout_ms);
  /* the message is thread-local to this worker thread: copy it for the main thread */
  snprintf(w->message, sizeof w->message, "%s", w->status < 0 ? waymark_last_error_message() : "");
}

static void flush_complete(napi_env env, napi_status status, void* data) {
  FlushWork* w = data;
  if (status == napi_ok && w->status >= 0) {
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    napi_resolve_deferred(env, w->deferred, undefined);
  } else {
    const waymark_status_t st = status == napi_ok ? w->status : WAYMARK_ERR_INTERNAL;
    napi_reject_deferred(env, w->deferred, make_error(env, st, w->message));
  }
  napi_delete_reference(env, w->keep);
  napi_delete_async_work(env, w->work);
  free(w);
}

static napi_value js_flush(napi_env env, napi_callback_info info) {
  napi_value args[2];
  if (get_args(env, info, 2, args) == NULL) return NULL;
  waymark_client_t* c = client_arg(env, args[0]);
  int64_t timeout = 0;
  if (c == NULL || !int_arg(env, args[1], "timeoutMs", &timeout)) return NULL;
  FlushWork* w = calloc(1, sizeof *w);
  if (w == NULL) {
    napi_throw_error(env, NULL, "waymark: out of memory");
    return NULL;
  }
  w->client = c;
  w->timeout_ms = timeout;
  napi_value promise, name;
  napi_create_string_utf8(env, "waymark.flush", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, args[0], 1, &w->keep) != napi_ok ||
      napi_create_promise(env, &w->deferred, &promise) != napi_ok ||
      napi_create_async_work(env, NULL, name, flush_execute, flush_complete, w, &w->work) != napi_ok ||
      napi_queue_async_work(env, w->work) != napi_ok) {
    free(w);
    napi_throw_error(env, NULL, "waymark: cannot start the flush");
    return NULL;
  }
  return promise;
}

static napi_value js_version(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  napi_create_string_utf8(env, waymark_version(), NAPI_AUTO_LENGTH, &v);
  return v;
}

static napi_value init(napi_env env, napi_value exports) {
  const napi_property_descriptor fns[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"record", NULL, js_record, NULL, NULL, NULL, napi_default, NULL},
      {"recordBatch", NULL, js_record_batch, NULL, NULL, NULL, napi_default, NULL},
      {"identify", NULL, js_identify, NULL, NULL, NULL, napi_default, NULL},
      {"identifyVerified", NULL, js_identify_verified, NULL, NULL, NULL, napi_default, NULL},
      {"deviceKey", NULL, js_device_key, NULL, NULL, NULL, napi_default, NULL},
      {"forgetWithToken", NULL, js_forget_with_token, NULL, NULL, NULL, napi_default, NULL},
      {"setConsent", NULL, js_set_consent, NULL, NULL, NULL, napi_default, NULL},
      {"getConsent", NULL, js_get_consent, NULL, NULL, NULL, napi_default, NULL},
      {"beginCustomer", NULL, js_begin_customer, NULL, NULL, NULL, napi_default, NULL},
      {"endCustomer", NULL, js_end_customer, NULL, NULL, NULL, napi_default, NULL},
      {"forget", NULL, js_forget, NULL, NULL, NULL, napi_default, NULL},
      {"flush", NULL, js_flush, NULL, NULL, NULL, napi_default, NULL},
      {"stat", NULL, js_stat, NULL, NULL, NULL, napi_default, NULL},
      {"version", NULL, js_version, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
