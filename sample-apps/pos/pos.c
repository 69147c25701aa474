#include "pos.h"

#include <string.h>

waymark_status_t pos_open(const sample_device_config_t* config, waymark_client_t** out_client) {
  waymark_options_t* options = NULL;
  waymark_status_t s = waymark_options_new(&options);
  if (s != WAYMARK_OK) return s;
  s = sample_apply_config(config, options);
  if (s == WAYMARK_OK) s = waymark_options_set_device_mode(options, WAYMARK_DEVICE_SHARED);
  if (s == WAYMARK_OK) s = waymark_options_set_durability(options, WAYMARK_DURABILITY_DURABLE);
  if (s != WAYMARK_OK) {
    waymark_options_free(options);
    return s;
  }
  return waymark_client_open(options, out_client); /* takes the options in every case */
}

static waymark_status_t record_sale(waymark_client_t* client, int64_t amount_minor, const char* currency) {
  waymark_event_t* sale = NULL;
  waymark_status_t s = waymark_event_new(WAYMARK_EVENT_PURCHASE, "sale", 4, &sale);
  if (s != WAYMARK_OK) return s;
  s = waymark_event_set_channel(sale, WAYMARK_CHANNEL_POS);
  if (s == WAYMARK_OK) s = waymark_event_set_revenue(sale, amount_minor, currency, strlen(currency));
  if (s == WAYMARK_OK) s = waymark_client_record(client, sale);
  waymark_event_free(sale);
  return s;
}

waymark_status_t pos_sale(waymark_client_t* client, const char* loyalty_card, int64_t amount_minor,
                          const char* currency) {
  waymark_status_t s = waymark_client_begin_customer(client);
  if (s != WAYMARK_OK) return s;
  if (loyalty_card != NULL) {
    s = waymark_client_set_consent(client, WAYMARK_PURPOSE_ANALYTICS, 1, POS_LOYALTY_POLICY,
                                   strlen(POS_LOYALTY_POLICY));
    if (s == WAYMARK_OK) s = waymark_client_identify(client, WAYMARK_ID_LOYALTY_ID, loyalty_card, strlen(loyalty_card));
  }
  if (s == WAYMARK_OK) s = record_sale(client, amount_minor, currency);
  const waymark_status_t ended = waymark_client_end_customer(client);
  return s != WAYMARK_OK ? s : ended;
}
