/*
 * A POS terminal's use of Waymark, in C: a shared device in durable mode. Every sale is one customer
 * visit (begin_customer ... end_customer), so two shoppers at the same till are never joined; a sale
 * is on disk when pos_sale returns, so pulling the plug loses nothing; the outbox keeps sales while the
 * store is offline and uploads them when the network is back.
 */
#ifndef WAYMARK_SAMPLE_POS_H
#define WAYMARK_SAMPLE_POS_H

#include <stdint.h>

#include "../common/device_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The loyalty programme's terms, under which members agreed to purchase analytics. */
#define POS_LOYALTY_POLICY "loyalty-terms-v3"

/* Opens the terminal's client (shared device, durable). Returns the SDK status. */
waymark_status_t pos_open(const sample_device_config_t* config, waymark_client_t** out_client);

/*
 * Records one sale of `amount_minor` in `currency` (ISO 4217). `loyalty_card` is the scanned card
 * number or NULL: members consented to analytics under the programme's terms, so a sale with a card
 * is recorded against the card; an anonymous sale has no consent and is not recorded
 * (WAYMARK_DROPPED_NO_CONSENT). Returns OK, DROPPED_NO_CONSENT, or the first error; on an error the
 * visit is ended so the next shopper starts clean.
 */
waymark_status_t pos_sale(waymark_client_t* client, const char* loyalty_card, int64_t amount_minor,
                          const char* currency);

#ifdef __cplusplus
}
#endif

#endif /* WAYMARK_SAMPLE_POS_H */
