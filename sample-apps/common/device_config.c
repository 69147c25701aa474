#include "device_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int parse_hex32(const char* hex, uint8_t out[32]) {
  if (strlen(hex) != 64) return -1;
  for (size_t i = 0; i < 32; ++i) {
    const int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return -1;
    out[i] = (uint8_t)(hi * 16 + lo);
  }
  return 0;
}

static int parse_u32(const char* text, uint32_t* out) {
  char* end = NULL;
  const unsigned long v = strtoul(text, &end, 10);
  if (*text == '\0' || *end != '\0' || v > 0xFFFFFFFFul) return -1;
  *out = (uint32_t)v;
  return 0;
}

static int read_key_file(const char* path, uint8_t out[32]) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) return -1;
  const size_t got = fread(out, 1, 32, f);
  const int extra = fgetc(f);
  fclose(f);
  return got == 32 && extra == EOF ? 0 : -1;
}

int sample_parse_args(int argc, char** argv, sample_device_config_t* out) {
  int have_brand_key = 0;
  for (int i = 1; i < argc; ++i) {
    const char* flag = argv[i];
    if (strncmp(flag, "--", 2) != 0 || i + 1 >= argc) continue;
    const char* value = argv[i + 1];
    int bad = 0;
    if (strcmp(flag, "--store") == 0) {
      out->store_dir = value;
    } else if (strcmp(flag, "--app-id") == 0) {
      out->app_id = value;
    } else if (strcmp(flag, "--collector-url") == 0) {
      out->collector_url = value;
    } else if (strcmp(flag, "--tls-ca-file") == 0) {
      out->tls_ca_file = value;
    } else if (strcmp(flag, "--collector-key") == 0) {
      bad = parse_hex32(value, out->collector_key);
      out->has_collector_key = !bad;
    } else if (strcmp(flag, "--collector-key-id") == 0) {
      bad = parse_u32(value, &out->collector_key_id);
    } else if (strcmp(flag, "--brand-key-file") == 0) {
      bad = read_key_file(value, out->brand_key);
      have_brand_key = !bad;
    } else if (strcmp(flag, "--brand-key-epoch") == 0) {
      bad = parse_u32(value, &out->brand_key_epoch);
    } else {
      continue;
    }
    if (bad) {
      fprintf(stderr, "invalid value for %s: %s\n", flag, value);
      return -1;
    }
    ++i;
  }
  if (out->store_dir == NULL || !have_brand_key) {
    fprintf(stderr, "--store DIR and --brand-key-file FILE (32 bytes) are required\n");
    return -1;
  }
  if (out->collector_url != NULL && !out->has_collector_key) {
    fprintf(stderr, "--collector-url needs --collector-key HEX (the collector's public key)\n");
    return -1;
  }
  return 0;
}

waymark_status_t sample_apply_config(const sample_device_config_t* c, waymark_options_t* o) {
  waymark_status_t s = waymark_options_set_store_path(o, c->store_dir, strlen(c->store_dir));
  if (s == WAYMARK_OK) s = waymark_options_set_app_id(o, c->app_id, strlen(c->app_id));
  if (s == WAYMARK_OK) s = waymark_options_set_brand_key(o, c->brand_key, 32, c->brand_key_epoch);
  if (s == WAYMARK_OK && c->has_collector_key) {
    s = waymark_options_add_collector_key(o, c->collector_key, 32, c->collector_key_id);
  }
  if (s == WAYMARK_OK && c->collector_url != NULL) {
    s = waymark_options_set_collector_url(o, c->collector_url, strlen(c->collector_url));
  }
  if (s == WAYMARK_OK && c->tls_ca_file != NULL) {
    s = waymark_options_set_tls_ca_file(o, c->tls_ca_file, strlen(c->tls_ca_file));
  }
  if (s == WAYMARK_OK && c->platform != NULL) s = waymark_options_set_platform(o, c->platform);
  if (s == WAYMARK_OK && c->max_age_ms > 0) s = waymark_options_set_caps(o, 64LL << 20, 1000000, c->max_age_ms);
  return s;
}
