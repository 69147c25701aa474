/* The public header compiles as C11, and the C ABI works from C against libwaymark.so. */
#include <stdio.h>
#include <string.h>

#include "waymark/waymark.h"

#define EXPECT(cond)                                                                                        \
  do {                                                                                                      \
    if (!(cond)) {                                                                                          \
      fprintf(stderr, "%s:%d: failed: %s (%s)\n", __FILE__, __LINE__, #cond, waymark_last_error_message()); \
      return 1;                                                                                             \
    }                                                                                                       \
  } while (0)

int main(int argc, char** argv) {
  static const uint8_t key[32] = {9};
  waymark_options_t* options = NULL;
  waymark_client_t* client = NULL;
  waymark_event_t* event = NULL;
  int64_t queued = 0;
  waymark_segments_t* segments = NULL;
  char header_version[32];
  if (argc < 2) return 2;
  /* The header describes the library it is linked with. */
  snprintf(header_version, sizeof header_version, "%d.%d.%d", WAYMARK_VERSION_MAJOR, WAYMARK_VERSION_MINOR,
           WAYMARK_VERSION_PATCH);
  EXPECT(strcmp(waymark_version(), header_version) == 0);
  EXPECT(waymark_options_new(&options) == WAYMARK_OK);
  EXPECT(waymark_options_set_store_path(options, argv[1], strlen(argv[1])) == WAYMARK_OK);
  EXPECT(waymark_options_set_app_id(options, "c-test", 6) == WAYMARK_OK);
  EXPECT(waymark_options_set_brand_key(options, key, sizeof key, 1) == WAYMARK_OK);
  EXPECT(waymark_client_open(options, &client) >= 0);
  EXPECT(waymark_client_set_consent(client, WAYMARK_PURPOSE_ANALYTICS, 1, "v1", 2) == WAYMARK_OK);
  EXPECT(waymark_event_new(WAYMARK_EVENT_SCREEN, "home", 4, &event) == WAYMARK_OK);
  EXPECT(waymark_event_set_channel(event, WAYMARK_CHANNEL_KIOSK) == WAYMARK_OK);
  EXPECT(waymark_client_record(client, event) == WAYMARK_OK);
  EXPECT(waymark_client_flush(client, 5000) == WAYMARK_OK);
  /* Any integer is a legal enum value in C: out-of-range ones are refused, never undefined. */
  EXPECT(waymark_client_identify(client, (waymark_id_kind_t)99, "x1", 2) == WAYMARK_ERR_INVALID_ARGUMENT);
  EXPECT(waymark_client_set_consent(client, (waymark_purpose_t)99, 1, "v", 1) == WAYMARK_ERR_INVALID_ARGUMENT);
  EXPECT(waymark_client_stat(client, (waymark_stat_t)99, &queued) == WAYMARK_ERR_INVALID_ARGUMENT);
  EXPECT(waymark_event_set_channel(event, (waymark_channel_t)-1) == WAYMARK_ERR_INVALID_ARGUMENT);
  EXPECT(waymark_client_stat(client, WAYMARK_STAT_QUEUED, &queued) == WAYMARK_OK && queued >= 2);
  /* No collector configured: a clear error, and the out pointer is cleared. */
  segments = (waymark_segments_t*)&queued;
  EXPECT(waymark_client_fetch_segments(client, 100, &segments) == WAYMARK_ERR_INVALID_ARGUMENT && segments == NULL);
  EXPECT(waymark_client_fetch_segments(client, 100, NULL) == WAYMARK_ERR_INVALID_ARGUMENT);
  EXPECT(waymark_segments_count(NULL) == 0 && waymark_segments_name(NULL, 0) == NULL);
  waymark_segments_free(NULL);
  EXPECT(waymark_client_close(client) == WAYMARK_OK);
  EXPECT(waymark_client_record(client, event) == WAYMARK_ERR_CLOSED);
  waymark_event_free(event);
  waymark_client_free(client);
  printf("waymark %s: C ABI ok\n", waymark_version());
  return 0;
}
