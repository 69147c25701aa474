/*
 * What every sample device needs to reach the collector, shared by the kiosk, POS and mobile samples:
 * where its store lives, the brand key it pseudonymises with, and the collector it uploads to.
 * Plain C so the C POS sample and the C++ samples use the same code.
 */
#ifndef WAYMARK_SAMPLE_DEVICE_CONFIG_H
#define WAYMARK_SAMPLE_DEVICE_CONFIG_H

#include <stdint.h>

#include <waymark/waymark.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sample_device_config_s {
  const char* store_dir;     /* the SDK's store directory (created 0700) */
  const char* app_id;        /* e.g. "kiosk" */
  const char* collector_url; /* http(s)://host:port/v1/batches; NULL: record and queue only */
  const char* tls_ca_file;   /* PEM CA trusted besides the system store (a private CA); NULL: none */
  uint8_t brand_key[32];     /* the brand's identity key (pseudonyms) */
  uint32_t brand_key_epoch;
  uint8_t collector_key[32]; /* the collector's Ed25519 public key */
  uint32_t collector_key_id;
  int has_collector_key;
  const waymark_platform_t* platform; /* NULL: the SDK's POSIX platform */
  /* How long an event may wait on the device before it is evicted, for a device that may be offline
   * longer than the SDK's default of 30 days (caps then 64 MiB and 1M events); 0: the SDK's caps. */
  int64_t max_age_ms;
} sample_device_config_t;

/*
 * Reads the common flags: --store DIR, --app-id ID, --collector-url URL, --tls-ca-file FILE,
 * --collector-key HEX, --collector-key-id N, --brand-key-file FILE (32 raw bytes), --brand-key-epoch N.
 * Other flags are left alone. Returns 0, or -1 with a message on stderr. Strings point into argv.
 */
int sample_parse_args(int argc, char** argv, sample_device_config_t* out);

/* Copies the configuration into SDK options. Returns the first failing status. */
waymark_status_t sample_apply_config(const sample_device_config_t* config, waymark_options_t* options);

#ifdef __cplusplus
}
#endif

#endif /* WAYMARK_SAMPLE_DEVICE_CONFIG_H */
