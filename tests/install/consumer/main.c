/* A firmware team's first program, built only against the installed package. */
#include <stdio.h>
#include <string.h>

#include <waymark/waymark.h>

int main(int argc, char** argv) {
  static const uint8_t brand_key[32] = {1};
  waymark_options_t* options = NULL;
  waymark_client_t* client = NULL;
  waymark_event_t* event = NULL;
  if (argc < 2 || waymark_options_new(&options) != WAYMARK_OK) return 2;
  waymark_options_set_store_path(options, argv[1], strlen(argv[1]));
  waymark_options_set_app_id(options, "consumer", 8);
  waymark_options_set_brand_key(options, brand_key, sizeof brand_key, 1);
  waymark_options_set_device_mode(options, WAYMARK_DEVICE_SHARED);
  if (waymark_client_open(options, &client) < 0) {
    fprintf(stderr, "open: %s\n", waymark_last_error_message());
    return 1;
  }
  waymark_client_begin_customer(client);
  waymark_client_set_consent(client, WAYMARK_PURPOSE_ANALYTICS, 1, "v1", 2);
  waymark_event_new(WAYMARK_EVENT_PURCHASE, "sale", 4, &event);
  waymark_event_set_revenue(event, 1299, "EUR", 3);
  int rc = waymark_client_record(client, event) == WAYMARK_OK ? 0 : 1;
  waymark_event_free(event);
  waymark_client_end_customer(client);
  if (waymark_client_close(client) != WAYMARK_OK) rc = 1;
  waymark_client_free(client);
  printf("consumer: %s\n", rc == 0 ? "ok" : waymark_last_error_message());
  return rc;
}
