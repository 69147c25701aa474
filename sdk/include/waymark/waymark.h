/*
 * Waymark SDK — the stable C ABI.
 *
 * Records consented customer touchpoints, pseudonymises identifiers on the device
 * (keyed BLAKE2b; raw identifiers never leave this library and are wiped from its
 * memory) and keeps events sealed (XChaCha20-Poly1305) in a durable SQLite outbox.
 *
 * Conventions (all functions):
 *  - Every function returns a waymark_status_t: 0 is WAYMARK_OK, negative values are
 *    errors, positive values are "OK with information". Outputs go through `out_`
 *    parameters. On error, an output that receives a new object (options, client, event,
 *    segment list) is set to NULL, so it is always safe to free; every other output is left
 *    untouched.
 *  - After an error, waymark_last_error_message() returns a human-readable reason on
 *    the calling thread (never containing user data).
 *  - Strings are UTF-8 pointer + byte length; they need not be NUL-terminated and are
 *    borrowed (copied if kept). Invalid UTF-8 is refused with WAYMARK_ERR_INVALID_UTF8.
 *  - NULL handles return WAYMARK_ERR_INVALID_ARGUMENT; `_free(NULL)` is a no-op.
 *  - Nothing throws, aborts or crashes on bad input.
 *
 * Threading: a waymark_client_t may be used from any number of threads at once.
 * waymark_options_t and waymark_event_t are plain builders: one thread at a time.
 */
#ifndef WAYMARK_H
#define WAYMARK_H

#include <stddef.h>
#include <stdint.h>

#include "waymark/platform.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- version */

/* The version of this header; waymark_version() reports the library's ("MAJOR.MINOR.PATCH"). */
#define WAYMARK_VERSION_MAJOR 0
#define WAYMARK_VERSION_MINOR 1
#define WAYMARK_VERSION_PATCH 0
/* The ABI this header describes: the library's SONAME is libwaymark.so.<WAYMARK_ABI_VERSION>. It changes
 * only if a symbol is removed or changes meaning (never so far: the ABI only grows). */
#define WAYMARK_ABI_VERSION 0

/* ---------------------------------------------------------------- status codes */

typedef int32_t waymark_status_t;

#define WAYMARK_OK 0
/* Positive: success with information. */
#define WAYMARK_DROPPED_NO_CONSENT 1 /* the event's purpose is not consented: not stored, counted */
#define WAYMARK_STORE_RECOVERED 2    /* open: the store was corrupt, moved aside, a fresh one made */
/* Negative: errors. Numbers are part of the ABI and never change. */
#define WAYMARK_ERR_INVALID_ARGUMENT (-1) /* NULL handle/pointer, bad enum, bad length */
#define WAYMARK_ERR_CLOSED (-2)           /* the client was closed */
#define WAYMARK_ERR_NO_MEMORY (-3)
#define WAYMARK_ERR_INVALID_UTF8 (-4)
#define WAYMARK_ERR_TOO_LARGE (-5)          /* a string, property set or event exceeds its limit */
#define WAYMARK_ERR_JUNK_IDENTIFIER (-6)    /* a junk value such as "null" or "test@test.com" */
#define WAYMARK_ERR_INVALID_IDENTIFIER (-7) /* not a valid value of its kind (e.g. email without '@') */
#define WAYMARK_ERR_INVALID_VALUE (-8)      /* NaN/infinite number, negative cap, … */
#define WAYMARK_ERR_UNKNOWN_CURRENCY (-9)   /* not an ISO 4217 alphabetic code */
#define WAYMARK_ERR_STORE_IO (-10)          /* store directory missing/unwritable, I/O error */
#define WAYMARK_ERR_STORE_FULL (-11)        /* the disk (or the store's size limit) is full */
#define WAYMARK_ERR_KEYSTORE (-12)          /* the platform keystore failed */
#define WAYMARK_ERR_CRYPTO (-13)            /* a cryptographic operation failed */
#define WAYMARK_ERR_TIMEOUT (-14)           /* a deadline passed before the work completed */
#define WAYMARK_ERR_NO_CUSTOMER (-15)       /* shared mode: no customer slot begun */
#define WAYMARK_ERR_QUEUE_FULL (-16)        /* async queue full: event dropped and counted */
#define WAYMARK_ERR_NOT_ALLOWED (-17)       /* e.g. advertising consent in child mode */
#define WAYMARK_ERR_INTERNAL (-18)          /* a bug: please report it */
#define WAYMARK_ERR_NETWORK (-19)           /* no HTTP response, or the collector answered with an error */
#define WAYMARK_ERR_REJECTED (-20)          /* the collector refused a batch for good: see last_rejection */

/** Static, never NULL name of a status code, e.g. "WAYMARK_ERR_CLOSED". Thread-safe. */
WAYMARK_API const char* waymark_status_name(waymark_status_t status);

/**
 * Message describing the last non-OK status returned on the calling thread.
 * Borrowed; valid until the next Waymark call on this thread. Never NULL.
 */
WAYMARK_API const char* waymark_last_error_message(void);

/** Library version, e.g. "0.1.0". Static string. */
WAYMARK_API const char* waymark_version(void);

/* ---------------------------------------------------------------- enumerations */

typedef enum waymark_device_mode_e {
  WAYMARK_DEVICE_PERSONAL = 0, /* one customer's own phone/computer */
  WAYMARK_DEVICE_SHARED = 1    /* kiosk, ATM, POS: many customers, one slot per visit */
} waymark_device_mode_t;

typedef enum waymark_durability_e {
  WAYMARK_DURABILITY_ASYNC = 0,  /* record returns once queued in memory; a writer commits */
  WAYMARK_DURABILITY_DURABLE = 1 /* record returns once the row is committed and synced to disk */
} waymark_durability_t;

typedef enum waymark_event_type_e {
  WAYMARK_EVENT_TRACK = 1,
  WAYMARK_EVENT_SCREEN = 3,   /* screen or page view */
  WAYMARK_EVENT_PURCHASE = 4, /* purchase / conversion */
  WAYMARK_EVENT_CUSTOM = 6
} waymark_event_type_t;

typedef enum waymark_channel_e {
  WAYMARK_CHANNEL_UNKNOWN = 0,
  WAYMARK_CHANNEL_APP = 1,
  WAYMARK_CHANNEL_WEB = 2,
  WAYMARK_CHANNEL_KIOSK = 3,
  WAYMARK_CHANNEL_ATM = 4,
  WAYMARK_CHANNEL_POS = 5,
  WAYMARK_CHANNEL_CALL_CENTRE = 6,
  WAYMARK_CHANNEL_EMAIL = 7,
  WAYMARK_CHANNEL_SMS = 8,
  WAYMARK_CHANNEL_PUSH = 9,
  WAYMARK_CHANNEL_OTHER = 10,
  /* Appended in 0.2; the values never change. */
  WAYMARK_CHANNEL_IVR = 11,     /* interactive voice response (VRU), beside the call centre */
  WAYMARK_CHANNEL_DISPLAY = 12, /* display advertising */
  WAYMARK_CHANNEL_VIDEO = 13,   /* video advertising */
  WAYMARK_CHANNEL_SOCIAL = 14,  /* social networks */
  WAYMARK_CHANNEL_TV = 15,
  WAYMARK_CHANNEL_RADIO = 16,
  WAYMARK_CHANNEL_PRINT = 17 /* print, direct mail, outdoor: offline media reached through a campaign code */
} waymark_channel_t;

typedef enum waymark_purpose_e {
  WAYMARK_PURPOSE_ANALYTICS = 1,
  WAYMARK_PURPOSE_PERSONALISATION = 2,
  WAYMARK_PURPOSE_ADVERTISING = 3
} waymark_purpose_t;

typedef enum waymark_id_kind_e {
  WAYMARK_ID_EMAIL = 1,
  WAYMARK_ID_PHONE = 2,
  WAYMARK_ID_FIRST_NAME = 3,
  WAYMARK_ID_LAST_NAME = 4,
  WAYMARK_ID_POSTCODE = 5,
  WAYMARK_ID_ADDRESS = 6,
  WAYMARK_ID_LOYALTY_ID = 7,
  WAYMARK_ID_ACCOUNT_ID = 8,
  WAYMARK_ID_DEVICE_ID = 9,
  WAYMARK_ID_COOKIE_ID = 10,
  WAYMARK_ID_CUSTOM = 11
} waymark_id_kind_t;

typedef enum waymark_stat_e {
  WAYMARK_STAT_QUEUED = 1,        /* events waiting in the outbox (committed + in memory) */
  WAYMARK_STAT_BYTES = 2,         /* sealed bytes in the outbox */
  WAYMARK_STAT_DROPPED = 3,       /* events lost to a full queue or store (persisted) */
  WAYMARK_STAT_REFUSED = 4,       /* events refused for lack of consent (persisted) */
  WAYMARK_STAT_EVICTED = 5,       /* events evicted by the caps (persisted) */
  WAYMARK_STAT_UNREADABLE = 6,    /* events in rows that failed authentication when read (persisted) */
  WAYMARK_STAT_PURGED = 7,        /* queued events deleted by consent withdrawal or forget (persisted) */
  WAYMARK_STAT_UPLOADED = 8,      /* events the collector acknowledged with a valid receipt (persisted) */
  WAYMARK_STAT_DEAD_LETTERED = 9, /* events of batches the collector refused 4 times (persisted) */
  WAYMARK_STAT_REJECTED = 10      /* times the collector refused a batch, resends included (persisted) */
} waymark_stat_t;

/** Host lifecycle and connectivity changes that affect uploading. */
typedef enum waymark_lifecycle_e {
  WAYMARK_LIFECYCLE_BACKGROUND = 1, /* the app is going to the background: upload now */
  WAYMARK_LIFECYCLE_FOREGROUND = 2,
  WAYMARK_LIFECYCLE_NETWORK_CHANGED = 3 /* connectivity changed: retry now instead of after the backoff */
} waymark_lifecycle_t;

/**
 * A host-supplied HTTP transport (e.g. OkHttp or URLSession through a binding). Called on the
 * SDK's upload thread, one request at a time; it may block up to its own timeouts. It must POST
 * `body` (borrowed, `body_len` bytes, content type application/vnd.waymark.envelope) to `url`
 * (NUL-terminated) and, when an HTTP response arrives, return WAYMARK_OK with `*out_http_status`,
 * the response body copied into `out_body` (at most `out_capacity` bytes, length in
 * `*out_body_len`) and `*out_retry_after_ms` (Retry-After in ms, or -1). When no response was
 * obtained (DNS, connect, timeout) it returns WAYMARK_ERR_NETWORK.
 */
typedef waymark_status_t (*waymark_transport_fn)(const char* url, const uint8_t* body, size_t body_len,
                                                 int32_t* out_http_status, uint8_t* out_body, size_t out_capacity,
                                                 size_t* out_body_len, int64_t* out_retry_after_ms, void* user_data);

/** Export formats of waymark_client_export_hashed (plain SHA-256, ad-platform specs). */
typedef enum waymark_export_format_e {
  WAYMARK_EXPORT_UID2 = 1,  /* UID2: normalised, SHA-256, standard base64 */
  WAYMARK_EXPORT_META = 2,  /* Meta CAPI: normalised, SHA-256, lowercase hex */
  WAYMARK_EXPORT_GOOGLE = 3 /* Google Customer Match / Enhanced Conversions: SHA-256 hex */
} waymark_export_format_t;

/* ---------------------------------------------------------------- limits */

#define WAYMARK_MAX_NAME_BYTES 256       /* event name, property key */
#define WAYMARK_MAX_STRING_BYTES 4096    /* a string property or campaign field */
#define WAYMARK_MAX_PROPERTIES 64        /* properties per event */
#define WAYMARK_MAX_IDENTIFIER_BYTES 512 /* raw identifier input */
#define WAYMARK_MAX_EVENT_BYTES 65536    /* encoded event */
#define WAYMARK_MAX_BATCH_EVENTS 1000    /* events per waymark_client_record_batch call */

/* ---------------------------------------------------------------- options */

typedef struct waymark_options_s waymark_options_t;

/**
 * Creates an options object with defaults: personal mode, async durability, caps of
 * 64 MiB / 1,000,000 events / 30 days, queue of 10,000 events, idle timeout 120 s
 * (shared mode), default phone region "US", gmail rules off, child mode off, POSIX
 * platform. `*out_options` is owned by the caller until passed to
 * waymark_client_open (which takes it) or freed with waymark_options_free.
 * Statuses: OK, INVALID_ARGUMENT, NO_MEMORY.
 */
WAYMARK_API waymark_status_t waymark_options_new(waymark_options_t** out_options);

/** Frees options not passed to waymark_client_open. NULL is a no-op. */
WAYMARK_API void waymark_options_free(waymark_options_t* options);

/**
 * Directory holding the outbox database and (POSIX platform) the keys. Created with
 * mode 0700 if missing (the parent must exist). Required. Statuses: OK,
 * INVALID_ARGUMENT, INVALID_UTF8, TOO_LARGE.
 */
WAYMARK_API waymark_status_t waymark_options_set_store_path(waymark_options_t* options, const char* path,
                                                            size_t path_len);

/** Application identifier carried by every batch (1..256 bytes). Required. */
WAYMARK_API waymark_status_t waymark_options_set_app_id(waymark_options_t* options, const char* app_id,
                                                        size_t app_id_len);

/**
 * The brand identity key (32 bytes, shared by the brand's apps and collector) and
 * its epoch. Pseudonyms are BLAKE2b-256 keyed with a per-kind subkey derived from it.
 * The bytes are copied into protected memory. Required.
 * Statuses: OK, INVALID_ARGUMENT (len != 32), NO_MEMORY.
 */
WAYMARK_API waymark_status_t waymark_options_set_brand_key(waymark_options_t* options, const uint8_t* key,
                                                           size_t key_len, uint32_t epoch);

/**
 * Adds a collector public key (Ed25519, 32 bytes) with its key id. Batches are sealed to its
 * X25519 form and receipts must be signed by it. May be called several times during a key
 * rotation: the highest key id seals new batches, receipts from any listed key id are accepted.
 * INVALID_ARGUMENT when it is not 32 bytes or not a usable Ed25519 public key.
 */
WAYMARK_API waymark_status_t waymark_options_add_collector_key(waymark_options_t* options, const uint8_t* public_key,
                                                               size_t key_len, uint32_t key_id);

WAYMARK_API waymark_status_t waymark_options_set_device_mode(waymark_options_t* options, waymark_device_mode_t mode);
WAYMARK_API waymark_status_t waymark_options_set_durability(waymark_options_t* options,
                                                            waymark_durability_t durability);

/**
 * Outbox caps: total sealed bytes, number of events, age in milliseconds. 0 means
 * "no cap" for that dimension. When a cap is exceeded the lowest-priority events go
 * first (conversions and consent records are highest), oldest first; counted as evicted.
 */
WAYMARK_API waymark_status_t waymark_options_set_caps(waymark_options_t* options, int64_t max_bytes, int64_t max_events,
                                                      int64_t max_age_ms);

/** Capacity of the async in-memory queue (1..1,000,000 events). */
WAYMARK_API waymark_status_t waymark_options_set_queue_capacity(waymark_options_t* options, int64_t capacity);

/**
 * Collector endpoint, e.g. "https://collector.example.com/v1/batches" or, on a trusted network,
 * "http://127.0.0.1:8080/v1/batches"; an IPv6 address goes in brackets ("https://[fd00::7]:8443/v1/batches").
 * https verifies the certificate against the system trust store (plus waymark_options_set_tls_ca_file)
 * and the host name or address. Without a URL or transport the SDK only queues. Statuses: OK,
 * INVALID_ARGUMENT (not http(s)://host[:port]/path), INVALID_UTF8.
 */
WAYMARK_API waymark_status_t waymark_options_set_collector_url(waymark_options_t* options, const char* url,
                                                               size_t url_len);

/** Trusts the CA certificates in this PEM file too (a brand's private PKI). Read at open. */
WAYMARK_API waymark_status_t waymark_options_set_tls_ca_file(waymark_options_t* options, const char* path,
                                                             size_t path_len);

/**
 * Pins the collector's key: SHA-256 (32 bytes) of the leaf certificate's SubjectPublicKeyInfo,
 * e.g. `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256`.
 * May be called several times (rotation); with pins set, any other key is refused.
 */
WAYMARK_API waymark_status_t waymark_options_add_tls_pin(waymark_options_t* options, const uint8_t* sha256, size_t len);

/** Uses the host's HTTP stack instead of the built-in one. `user_data` is borrowed. */
WAYMARK_API waymark_status_t waymark_options_set_transport(waymark_options_t* options, waymark_transport_fn transport,
                                                           void* user_data);

/**
 * Upload policy: at most `batch_max_events` (1..10000, default 500) and `batch_max_bytes`
 * (default 1 MiB) per batch; an upload starts once `flush_at_events` (default 100) are queued,
 * or every `flush_interval_ms` (default 30 s), on flush and on WAYMARK_LIFECYCLE_BACKGROUND.
 */
WAYMARK_API waymark_status_t waymark_options_set_upload_policy(waymark_options_t* options, int64_t batch_max_events,
                                                               int64_t batch_max_bytes, int64_t flush_at_events,
                                                               int64_t flush_interval_ms);

/**
 * Retries: exponential backoff with full jitter from `base_ms` (default 1 s) up to `cap_ms`
 * (default 5 min); Retry-After on 429/503 is honoured (up to the cap). Connect and read deadlines
 * of the built-in transport: `connect_timeout_ms` (default 10 s), `io_timeout_ms` (default 30 s).
 */
WAYMARK_API waymark_status_t waymark_options_set_retry_policy(waymark_options_t* options, int64_t base_ms,
                                                              int64_t cap_ms, int64_t connect_timeout_ms,
                                                              int64_t io_timeout_ms);

/** Shared mode: a customer slot idle for this long is ended automatically (0 = never). */
WAYMARK_API waymark_status_t waymark_options_set_idle_timeout_ms(waymark_options_t* options, int64_t timeout_ms);

/** ISO 3166 region ("GB", "US") used to parse phone numbers written without '+'. */
WAYMARK_API waymark_status_t waymark_options_set_default_region(waymark_options_t* options, const char* region,
                                                                size_t region_len);

/** Applies gmail.com/googlemail.com rules (dots and +tags dropped) to emails when enabled != 0. */
WAYMARK_API waymark_status_t waymark_options_set_gmail_rules(waymark_options_t* options, int enabled);

/**
 * Child mode (COPPA) when enabled != 0: advertising consent can never be granted and no
 * persistent device or cookie identifier is emitted.
 */
WAYMARK_API waymark_status_t waymark_options_set_child_mode(waymark_options_t* options, int enabled);

/**
 * Uses a host-supplied platform table (copied; its user_data is borrowed and must outlive
 * the client). Statuses: OK, INVALID_ARGUMENT (NULL, or unknown version).
 */
WAYMARK_API waymark_status_t waymark_options_set_platform(waymark_options_t* options,
                                                          const waymark_platform_t* platform);

/* ---------------------------------------------------------------- client */

typedef struct waymark_client_s waymark_client_t;

/**
 * Opens a client. Takes ownership of `options` in every case (it is freed even when
 * opening fails). On success `*out_client` must eventually be passed to
 * waymark_client_free; on failure it is set to NULL. Creates the store directory, the device keys and data key in
 * the keystore on first use. A corrupt database is moved aside as
 * `outbox.db.corrupt-<time>` and a fresh one created (returns WAYMARK_STORE_RECOVERED).
 * Statuses: OK, STORE_RECOVERED, INVALID_ARGUMENT (missing store path, app id or brand
 * key), STORE_IO, STORE_FULL, KEYSTORE, CRYPTO, NO_MEMORY.
 */
WAYMARK_API waymark_status_t waymark_client_open(waymark_options_t* options, waymark_client_t** out_client);

/**
 * Stops the client: commits what is queued (bounded: at most 5 s), stops its threads and
 * closes the store. Calls that race with close either complete or return
 * WAYMARK_ERR_CLOSED; every later call returns WAYMARK_ERR_CLOSED. Idempotent.
 * The handle stays valid until waymark_client_free. Statuses: OK, INVALID_ARGUMENT,
 * TIMEOUT (queued events that could not be committed in time are counted as dropped).
 */
WAYMARK_API waymark_status_t waymark_client_close(waymark_client_t* client);

/**
 * Closes the client if needed and releases the handle. The caller guarantees no other
 * thread still uses it. NULL is a no-op.
 */
WAYMARK_API void waymark_client_free(waymark_client_t* client);

/* ---------------------------------------------------------------- events */

typedef struct waymark_event_s waymark_event_t;

/**
 * Creates an event builder of `type` named `name` (1..WAYMARK_MAX_NAME_BYTES bytes).
 * Defaults: channel UNKNOWN, purpose ANALYTICS. Caller frees with waymark_event_free;
 * a builder can be recorded several times. Statuses: OK, INVALID_ARGUMENT,
 * INVALID_UTF8, TOO_LARGE, NO_MEMORY.
 */
WAYMARK_API waymark_status_t waymark_event_new(waymark_event_type_t type, const char* name, size_t name_len,
                                               waymark_event_t** out_event);
WAYMARK_API void waymark_event_free(waymark_event_t* event);

WAYMARK_API waymark_status_t waymark_event_set_channel(waymark_event_t* event, waymark_channel_t channel);

/** The consent purpose the event serves (default ANALYTICS). */
WAYMARK_API waymark_status_t waymark_event_set_purpose(waymark_event_t* event, waymark_purpose_t purpose);

/**
 * Typed properties. Setting an existing key replaces its value. Keys 1..256 bytes,
 * string values up to 4096 bytes, at most 64 properties. Never put identifiers in
 * properties: use waymark_client_identify. Statuses: OK, INVALID_ARGUMENT,
 * INVALID_UTF8, TOO_LARGE, INVALID_VALUE (NaN or infinite double).
 */
WAYMARK_API waymark_status_t waymark_event_set_string(waymark_event_t* event, const char* key, size_t key_len,
                                                      const char* value, size_t value_len);
WAYMARK_API waymark_status_t waymark_event_set_int(waymark_event_t* event, const char* key, size_t key_len,
                                                   int64_t value);
WAYMARK_API waymark_status_t waymark_event_set_double(waymark_event_t* event, const char* key, size_t key_len,
                                                      double value);
WAYMARK_API waymark_status_t waymark_event_set_bool(waymark_event_t* event, const char* key, size_t key_len, int value);

/**
 * Revenue in integer minor units of an ISO 4217 currency ("EUR", "JPY").
 * Statuses: OK, INVALID_ARGUMENT, UNKNOWN_CURRENCY.
 */
WAYMARK_API waymark_status_t waymark_event_set_revenue(waymark_event_t* event, int64_t amount_minor,
                                                       const char* currency, size_t currency_len);

/**
 * Revenue given as a decimal amount (12.34 EUR), converted to minor units with the
 * currency's exponent and rounded half away from zero.
 * Statuses: OK, INVALID_ARGUMENT, UNKNOWN_CURRENCY, INVALID_VALUE (NaN, infinite, overflow).
 */
WAYMARK_API waymark_status_t waymark_event_set_revenue_decimal(waymark_event_t* event, double amount,
                                                               const char* currency, size_t currency_len);

/** Campaign attribution (utm_source/medium/campaign/content). NULL/0 leaves a field empty. */
WAYMARK_API waymark_status_t waymark_event_set_campaign(waymark_event_t* event, const char* source, size_t source_len,
                                                        const char* medium, size_t medium_len, const char* name,
                                                        size_t name_len, const char* content, size_t content_len);

/**
 * Records `event` (borrowed) for the current customer. The event is stamped with a
 * UUIDv7 id, sequence, clocks, consent ledger head and the customer's identifier
 * pseudonyms. Async: returns once queued. Durable: returns once committed to disk.
 * Thread-safe. Statuses: OK, DROPPED_NO_CONSENT (not stored, counted as refused),
 * INVALID_ARGUMENT, CLOSED, NO_CUSTOMER (shared mode), QUEUE_FULL (dropped, counted),
 * TOO_LARGE, STORE_IO, STORE_FULL (durable mode; not stored).
 */
WAYMARK_API waymark_status_t waymark_client_record(waymark_client_t* client, const waymark_event_t* event);

/**
 * Records `count` events (1..WAYMARK_MAX_BATCH_EVENTS, each borrowed) for the current
 * customer as one unit: a basket's line items, a screen's impressions. Durable: they share
 * one commit and one fsync, and the call returns once it is on disk; this is how a durable
 * recorder goes faster than one fsync per call (docs/decisions/0003). Async: one enqueue.
 * `statuses` (optional, `count` entries) receives each event's status: OK (stored) or
 * DROPPED_NO_CONSENT (not stored, counted as refused). Returns OK when every event was
 * stored, DROPPED_NO_CONSENT when some were refused for consent and the others stored;
 * on an error every status is that error and nothing is stored: INVALID_ARGUMENT (a
 * NULL array or event, count 0), TOO_LARGE (count, or an event; the message names it),
 * CLOSED, NO_CUSTOMER, QUEUE_FULL (async: all dropped, counted), STORE_IO, STORE_FULL.
 * The one exception is TIMEOUT (durable: no commit within 30 s, e.g. a stalled disk):
 * the batch is then stored whole or not at all, but the call cannot say which.
 * Thread-safe.
 */
WAYMARK_API waymark_status_t waymark_client_record_batch(waymark_client_t* client, const waymark_event_t* const* events,
                                                         size_t count, waymark_status_t* statuses);

/* ---------------------------------------------------------------- identity */

/**
 * Attaches an identifier to the current customer: normalises it (rules versioned, see
 * docs/identifiers.md), pseudonymises it and forgets the raw value (this library's
 * copies are wiped; the caller's buffer is borrowed and untouched). Later events of this
 * customer carry the pseudonym, and an identify event links it to the customer's other
 * identifiers (recorded only with analytics consent; otherwise DROPPED_NO_CONSENT is
 * returned and the identifier still applies to later consented events).
 * Statuses: OK, DROPPED_NO_CONSENT, INVALID_ARGUMENT, INVALID_UTF8, TOO_LARGE,
 * JUNK_IDENTIFIER, INVALID_IDENTIFIER, CLOSED, NO_CUSTOMER, QUEUE_FULL, STORE_*.
 */
WAYMARK_API waymark_status_t waymark_client_identify(waymark_client_t* client, waymark_id_kind_t kind,
                                                     const char* value, size_t value_len);

/** Largest identity assertion waymark_client_identify_verified accepts, in bytes. */
#define WAYMARK_MAX_ASSERTION_BYTES 1024

/**
 * waymark_client_identify with proof: `assertion` (borrowed, 1..WAYMARK_MAX_ASSERTION_BYTES bytes) is
 * an identity assertion the brand's backend signed, after the customer logged in, for this identifier
 * and this device's key (waymark_client_device_key; `waymark-collector authority identity-assertion`
 * and its format in docs/security.md). It travels once, with the identify event. A collector that lists
 * the kind in `verified-kinds` lets the identifier join profiles only with a valid assertion, and a
 * device's segment pull answers for a customer seen on other devices only through such an identifier.
 * The SDK does not check the assertion; the collector does. Statuses: as waymark_client_identify, and
 * INVALID_ARGUMENT (NULL or empty assertion, or longer than WAYMARK_MAX_ASSERTION_BYTES).
 */
WAYMARK_API waymark_status_t waymark_client_identify_verified(waymark_client_t* client, waymark_id_kind_t kind,
                                                              const char* value, size_t value_len,
                                                              const uint8_t* assertion, size_t assertion_len);

/**
 * Copies this device's Ed25519 public key (32 bytes), which the brand's backend names in an identity
 * assertion, into `out`. It stays the same for the life of the store. Statuses: OK, INVALID_ARGUMENT
 * (NULL or out_len < 32), CLOSED.
 */
WAYMARK_API waymark_status_t waymark_client_device_key(waymark_client_t* client, uint8_t* out, size_t out_len);

/**
 * Computes the pseudonym waymark_client_identify would emit, into `out` (32 bytes), so a
 * brand can look a customer up. Nothing is recorded. Statuses as identify, plus
 * INVALID_ARGUMENT when out_len < 32.
 */
WAYMARK_API waymark_status_t waymark_client_pseudonymize(waymark_client_t* client, waymark_id_kind_t kind,
                                                         const char* value, size_t value_len, uint8_t* out,
                                                         size_t out_len);

/**
 * Export adapter: the ad-platform normalised plain SHA-256 form of an email or phone
 * (UID2 / Meta / Google specs). Allowed only while the current customer has granted
 * ADVERTISING consent (never in child mode). Writes a NUL-terminated string into `out`
 * (at least 65 bytes) and its length to `*out_len`. Nothing is stored.
 * Statuses: OK, NOT_ALLOWED (no advertising consent), INVALID_ARGUMENT, INVALID_UTF8,
 * JUNK_IDENTIFIER, INVALID_IDENTIFIER, TOO_LARGE, CLOSED, NO_CUSTOMER.
 */
WAYMARK_API waymark_status_t waymark_client_export_hashed(waymark_client_t* client, waymark_id_kind_t kind,
                                                          waymark_export_format_t format, const char* value,
                                                          size_t value_len, char* out, size_t out_capacity,
                                                          size_t* out_len);

/* ---------------------------------------------------------------- consent */

/**
 * Grants (granted != 0) or withdraws (granted == 0) a purpose for the current customer
 * under `policy_version` (1..64 bytes, e.g. "2026-01"). Appends a signed, hash-chained
 * record to the consent ledger and queues it as a high-priority event. Withdrawal purges
 * the customer's queued events of that purpose (counted as purged). Thread-safe.
 * Statuses: OK, INVALID_ARGUMENT, NOT_ALLOWED (advertising in child mode), CLOSED,
 * NO_CUSTOMER, STORE_IO, STORE_FULL, CRYPTO.
 */
WAYMARK_API waymark_status_t waymark_client_set_consent(waymark_client_t* client, waymark_purpose_t purpose,
                                                        int granted, const char* policy_version,
                                                        size_t policy_version_len);

/** Sets `*out_granted` to 1 if the current customer granted `purpose`, else 0. */
WAYMARK_API waymark_status_t waymark_client_get_consent(waymark_client_t* client, waymark_purpose_t purpose,
                                                        int* out_granted);

/* ---------------------------------------------------------------- customers */

/**
 * Shared mode: starts a new customer slot (a visit), ending the current one if any.
 * Personal mode: INVALID_ARGUMENT (the device has one customer).
 */
WAYMARK_API waymark_status_t waymark_client_begin_customer(waymark_client_t* client);

/**
 * Shared mode: ends the current slot, wiping its identifiers and consent from memory.
 * Queued events stay queued. OK when no slot is open.
 */
WAYMARK_API waymark_status_t waymark_client_end_customer(waymark_client_t* client);

/**
 * Erasure of what this device recorded for the current customer: deletes the slot's queued
 * events and consent records, wipes its state, and queues an erasure request for the collector,
 * which deletes the events this device's slot sent and the links they made (a device cannot prove
 * the customer's identifiers are its own, so it cannot erase the customer elsewhere: see
 * waymark_client_forget_with_token). Personal mode then starts a fresh identity (new slot and device
 * id); shared mode ends the slot. Statuses: OK, CLOSED, NO_CUSTOMER, STORE_*.
 */
WAYMARK_API waymark_status_t waymark_client_forget(waymark_client_t* client);

/**
 * waymark_client_forget for the whole customer, on every device: `token` (borrowed, 1..8192 bytes) is an
 * erasure token the brand's backend signed after the customer authenticated (`waymark-collector
 * authority erasure-token`, docs/security.md). Without a valid token the collector erases only what this
 * device's slot sent, as waymark_client_forget does. Statuses: as waymark_client_forget, and
 * INVALID_ARGUMENT (NULL or empty token, or longer than 8192 bytes).
 */
WAYMARK_API waymark_status_t waymark_client_forget_with_token(waymark_client_t* client, const uint8_t* token,
                                                              size_t token_len);

/* ---------------------------------------------------------------- flush and stats */

/**
 * Waits until every event recorded before the call is committed to the outbox and, when a
 * collector is configured, uploaded and acknowledged (or dead-lettered), at most `timeout_ms`
 * milliseconds. Statuses: OK, TIMEOUT (the work continues in the background), CLOSED,
 * STORE_IO, STORE_FULL, REJECTED (the collector refused, for good, a batch holding events this call
 * waited for: they were dead-lettered; waymark_client_last_rejection says why, e.g. a wrong
 * collector key id).
 */
WAYMARK_API waymark_status_t waymark_client_flush(waymark_client_t* client, int64_t timeout_ms);

/** Tells the SDK about a lifecycle or connectivity change. Never blocks. */
WAYMARK_API waymark_status_t waymark_client_notify_lifecycle(waymark_client_t* client, waymark_lifecycle_t event);

/** Reads one counter into `*out_value`. Statuses: OK, INVALID_ARGUMENT, CLOSED. */
WAYMARK_API waymark_status_t waymark_client_stat(waymark_client_t* client, waymark_stat_t stat, int64_t* out_value);

/**
 * The collector's last refusal of a batch since the client was opened: its HTTP status in
 * `*out_http_status` (0 when there was none) and its reason (e.g. "unknown_key_id", ASCII, at most
 * 64 bytes, not NUL-terminated) copied into `out_reason` (caller-owned, `reason_capacity` bytes; may be
 * NULL when the capacity is 0), with the reason's full length in `*out_reason_len`. A longer reason
 * than the capacity is cut. Thread-safe. Statuses: OK, INVALID_ARGUMENT (NULL out pointer), CLOSED.
 */
WAYMARK_API waymark_status_t waymark_client_last_rejection(waymark_client_t* client, int32_t* out_http_status,
                                                           char* out_reason, size_t reason_capacity,
                                                           size_t* out_reason_len);

/* ---------------------------------------------------------------- segments for personalisation */

/** The segments one customer belongs to, as the collector signed them. Immutable; any thread. */
typedef struct waymark_segments_s waymark_segments_t;

/**
 * Pulls the current customer's segment list from the collector (GET /v1/devices/segments beside
 * the collector URL's /v1/batches; with a host transport, the transport is called with that URL
 * and an empty body). The request is signed with the device key; the answer is signed by the
 * collector and sealed to this device, and is checked against the request before it is returned.
 * The list is empty when the collector has not yet received events of this customer (flush
 * first) or the customer has not granted personalisation. Blocks the caller up to `timeout_ms`:
 * call it off the UI thread. On OK `*out` is a new list the caller frees with
 * waymark_segments_free. Statuses: OK, INVALID_ARGUMENT (NULL, or no collector configured),
 * CLOSED, NO_CUSTOMER (shared mode), TIMEOUT, NOT_ALLOWED (the customer was also seen on other devices
 * and this device holds no verified identifier of theirs: see waymark_client_identify_verified),
 * NETWORK (no answer, or the collector answered with an error), CRYPTO (the answer is not sealed to this device or not
 * signed by a trusted key).
 */
WAYMARK_API waymark_status_t waymark_client_fetch_segments(waymark_client_t* client, int64_t timeout_ms,
                                                           waymark_segments_t** out);

/** Number of segments (0 for NULL). */
WAYMARK_API size_t waymark_segments_count(const waymark_segments_t* segments);

/** The name of segment `index` (NUL-terminated, owned by the list), or NULL out of range. */
WAYMARK_API const char* waymark_segments_name(const waymark_segments_t* segments, size_t index);

/** When the collector computed the list (collector clock, Unix ms; 0 when it knew nothing). */
WAYMARK_API int64_t waymark_segments_as_of_ms(const waymark_segments_t* segments);

/** Frees a list; NULL is a no-op. */
WAYMARK_API void waymark_segments_free(waymark_segments_t* segments);

#ifdef __cplusplus
}
#endif

#endif /* WAYMARK_H */
