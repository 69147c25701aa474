#include "kiosk.hpp"

namespace kiosk {

namespace {

waymark::Options options_for(const sample_device_config_t& config, int64_t idle_timeout_ms) {
  waymark::Options o;
  waymark::check(sample_apply_config(&config, o.get()));
  o.device_mode(WAYMARK_DEVICE_SHARED).durability(WAYMARK_DURABILITY_ASYNC).idle_timeout_ms(idle_timeout_ms);
  return o;
}

}  // namespace

Kiosk::Kiosk(const sample_device_config_t& config, int64_t idle_timeout_ms)
    : client_(options_for(config, idle_timeout_ms)) {}

void Kiosk::touch() {
  // Asking for consent fails with NO_CUSTOMER when nobody is active (never begun, "done" pressed or
  // the idle timeout passed): then a new shopper is at the screen.
  int granted = 0;
  if (waymark_client_get_consent(client_.get(), WAYMARK_PURPOSE_ANALYTICS, &granted) == WAYMARK_ERR_NO_CUSTOMER) {
    client_.begin_customer();
  }
}

void Kiosk::card_scanned(std::string_view card) {
  client_.begin_customer();
  client_.set_consent(WAYMARK_PURPOSE_ANALYTICS, true, "loyalty-terms-v3");  // members agreed when joining
  client_.identify(WAYMARK_ID_LOYALTY_ID, card);
}

void Kiosk::consent_prompt(bool analytics, bool personalisation) {
  touch();
  client_.set_consent(WAYMARK_PURPOSE_ANALYTICS, analytics, kConsentPolicy);
  client_.set_consent(WAYMARK_PURPOSE_PERSONALISATION, personalisation, kConsentPolicy);
}

waymark_status_t Kiosk::product_view(std::string_view sku) {
  touch();
  waymark::Event view(WAYMARK_EVENT_SCREEN, "product_view");
  view.channel(WAYMARK_CHANNEL_KIOSK).property("sku", sku);
  return client_.record(view);
}

void Kiosk::done() {
  client_.end_customer();
}

}  // namespace kiosk
