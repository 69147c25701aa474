/*
 * pos: a POS terminal driven by lines on stdin, one sale per line:
 *     sale <amount_minor> <currency> [loyalty-card]
 *     sync            upload now and wait up to 10 s for the collector's receipts
 *     stats           print the outbox counters
 * Example:
 *     waymark-sample-pos --store /var/lib/pos --brand-key-file brand.key \
 *       --collector-url http://127.0.0.1:8080/v1/batches --collector-key <hex> --collector-key-id 1
 * Kill it at any moment: every sale it printed "ok" for is on disk and is uploaded after a restart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pos.h"

static void print_stats(waymark_client_t* client) {
  static const struct {
    waymark_stat_t stat;
    const char* name;
  } stats[] = {{WAYMARK_STAT_QUEUED, "queued"},     {WAYMARK_STAT_UPLOADED, "uploaded"},
               {WAYMARK_STAT_REFUSED, "refused"},   {WAYMARK_STAT_DROPPED, "dropped"},
               {WAYMARK_STAT_REJECTED, "rejected"}, {WAYMARK_STAT_DEAD_LETTERED, "dead_lettered"}};
  for (size_t i = 0; i < sizeof stats / sizeof stats[0]; ++i) {
    int64_t v = 0;
    waymark_client_stat(client, stats[i].stat, &v);
    printf("%s%s=%lld", i == 0 ? "" : " ", stats[i].name, (long long)v);
  }
  printf("\n");
}

int main(int argc, char** argv) {
  sample_device_config_t config;
  memset(&config, 0, sizeof config);
  config.app_id = "pos";
  if (sample_parse_args(argc, argv, &config) != 0) return 2;
  waymark_client_t* client = NULL;
  waymark_status_t s = pos_open(&config, &client);
  if (s < 0) {
    fprintf(stderr, "pos: cannot open the store: %s\n", waymark_last_error_message());
    return 1;
  }
  char line[512];
  int rc = 0;
  while (fgets(line, sizeof line, stdin) != NULL) {
    char currency[8] = {0}, card[128] = {0};
    long long amount = 0;
    if (strncmp(line, "sync", 4) == 0) {
      s = waymark_client_flush(client, 10000);
      printf("%s\n", s == WAYMARK_OK ? "synced" : waymark_status_name(s));
      if (s == WAYMARK_ERR_REJECTED) { /* say why: a wrong key id, a retired key, ... */
        int32_t http_status = 0;
        char why[64];
        size_t why_len = 0;
        waymark_client_last_rejection(client, &http_status, why, sizeof why, &why_len);
        fprintf(stderr, "pos: the collector refused the sales (HTTP %d %.*s)\n", (int)http_status,
                (int)(why_len < sizeof why ? why_len : sizeof why), why);
      }
    } else if (strncmp(line, "stats", 5) == 0) {
      print_stats(client);
    } else if (sscanf(line, "sale %lld %7s %127s", &amount, currency, card) >= 2) {
      s = pos_sale(client, card[0] != '\0' ? card : NULL, amount, currency);
      if (s < 0) rc = 1;
      printf("%s\n", s == WAYMARK_OK ? "ok" : waymark_status_name(s));
    } else {
      fprintf(stderr, "pos: cannot read: %s", line);
      rc = 1;
    }
    fflush(stdout);
  }
  waymark_client_close(client);
  waymark_client_free(client);
  return rc;
}
