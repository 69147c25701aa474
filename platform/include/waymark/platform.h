/*
 * Waymark platform layer: everything OS-specific behind one versioned table of
 * function pointers, in the manner of SQLite's VFS.
 *
 * The SDK never calls the operating system for key storage, clocks, randomness,
 * logging or reachability directly; it calls through a waymark_platform_t. The
 * POSIX table (waymark_platform_posix) is the default. A host application may
 * supply its own table, e.g. to keep keys in the Android Keystore or the iOS
 * Keychain, through waymark_options_set_platform().
 *
 * Versioning: the table only grows. New members are appended and the version
 * number raised; the SDK reads only the members that exist in the version the
 * host declares. A NULL member means "use the POSIX default".
 */
#ifndef WAYMARK_PLATFORM_H
#define WAYMARK_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include "waymark/waymark_export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Current version of waymark_platform_t. */
#define WAYMARK_PLATFORM_VERSION 2

/** Result codes of platform callbacks (0 = success). */
#define WAYMARK_PLATFORM_OK 0
#define WAYMARK_PLATFORM_NOT_FOUND 1 /* keystore: no such key */
#define WAYMARK_PLATFORM_ERROR (-1)

/** Log levels passed to the log callback. */
#define WAYMARK_LOG_DEBUG 0
#define WAYMARK_LOG_INFO 1
#define WAYMARK_LOG_WARNING 2
#define WAYMARK_LOG_ERROR 3

/** What device_info (version 2) describes. Never anything about the person using the device. */
#define WAYMARK_DEVICE_OS_NAME 1    /* e.g. "linux", "android" */
#define WAYMARK_DEVICE_OS_VERSION 2 /* e.g. "6.1.0-13-arm64", "14" */
#define WAYMARK_DEVICE_MODEL 3      /* e.g. "Raspberry Pi 4 Model B Rev 1.4", "x86_64" */

/**
 * The platform table (version 2). Every callback receives `user_data` last.
 * Callbacks may be called from any SDK thread, concurrently: they must be
 * thread-safe. They must not call back into the SDK.
 */
typedef struct waymark_platform_s {
  /** Must be WAYMARK_PLATFORM_VERSION (or an older version this SDK knows). */
  int32_t version;

  /**
   * Key storage. `scope` is the client's store directory (UTF-8, NUL-terminated),
   * so one process can hold several clients; `name` is a short ASCII key name.
   * get: copies at most `capacity` bytes into `out`, sets `*out_len` to the key's
   * length; returns WAYMARK_PLATFORM_NOT_FOUND if absent. put: stores atomically
   * (replaces). delete: NOT_FOUND is not an error. Keys are secrets: never log them.
   */
  int32_t (*keystore_get)(const char* scope, const char* name, uint8_t* out, size_t capacity, size_t* out_len,
                          void* user_data);
  int32_t (*keystore_put)(const char* scope, const char* name, const uint8_t* key, size_t len, void* user_data);
  int32_t (*keystore_delete)(const char* scope, const char* name, void* user_data);

  /** Wall clock, Unix milliseconds (may jump). */
  int64_t (*clock_wall_ms)(void* user_data);
  /** Monotonic clock in milliseconds since an arbitrary origin (never goes back). */
  int64_t (*clock_monotonic_ms)(void* user_data);

  /** Fills `out` with `len` cryptographically secure random bytes. */
  int32_t (*random_bytes)(uint8_t* out, size_t len, void* user_data);

  /** Receives SDK log lines. Never contain user data. `message` is not NUL-terminated. */
  void (*log)(int32_t level, const char* message, size_t len, void* user_data);

  /** 1 when the network is believed reachable, 0 when not, -1 when unknown. */
  int32_t (*network_reachable)(void* user_data);

  /** Opaque pointer handed back as `user_data` to every callback. Borrowed. */
  void* user_data;

  /* ---- version 2 ---- */

  /**
   * Describes the device (`what`: WAYMARK_DEVICE_*): copies at most `capacity` bytes of UTF-8 (no NUL
   * needed) to `out` and the full length to `*out_len`. Returns WAYMARK_PLATFORM_OK, or
   * WAYMARK_PLATFORM_NOT_FOUND when unknown. Sent with every batch (model and OS, at most 256 bytes
   * each), so it must never identify a person. NULL: the POSIX default (uname, the device tree or DMI).
   */
  int32_t (*device_info)(int32_t what, char* out, size_t capacity, size_t* out_len, void* user_data);
} waymark_platform_t;

/**
 * Fills `out` with the POSIX implementation: keys in 0600 files under
 * `<scope>/keys/` written atomically (temp file + fsync + rename), clocks from
 * clock_gettime, randomness from libsodium, logs to stderr at WARNING and above
 * (override with WAYMARK_LOG_LEVEL=debug|info|warning|error), reachability unknown.
 * Thread-safe. Returns 0, or -1 if `out` is NULL.
 */
WAYMARK_API int32_t waymark_platform_posix(waymark_platform_t* out);

/**
 * Fills `out` with the test implementation: keys held in process memory (lost at
 * exit), real clocks and randomness, logs discarded, network reachable. Meant for
 * tests and for hosts with no persistent key storage. Returns 0, or -1 if NULL.
 */
WAYMARK_API int32_t waymark_platform_null(waymark_platform_t* out);

#ifdef __cplusplus
}
#endif

#endif /* WAYMARK_PLATFORM_H */
