#include "shop_app.hpp"

namespace shop {

namespace {

waymark::Options options_for(const sample_device_config_t& config) {
  waymark::Options o;
  waymark::check(sample_apply_config(&config, o.get()));
  o.device_mode(WAYMARK_DEVICE_PERSONAL).durability(WAYMARK_DURABILITY_ASYNC).gmail_rules(true);
  return o;
}

}  // namespace

ShopApp::ShopApp(const sample_device_config_t& config, waymark_channel_t channel)
    : client_(options_for(config)), channel_(channel) {}

void ShopApp::consent(waymark_purpose_t purpose, bool granted) {
  client_.set_consent(purpose, granted, kPrivacyPolicy);
}

waymark_status_t ShopApp::view(std::string_view screen) {
  waymark::Event e(WAYMARK_EVENT_SCREEN, screen);
  e.channel(channel_);
  return client_.record(e);
}

waymark_status_t ShopApp::open_link(waymark_channel_t via, std::string_view source, std::string_view medium,
                                    std::string_view campaign) {
  waymark::Event e(WAYMARK_EVENT_TRACK, "link_opened");
  e.channel(via).campaign(source, medium, campaign);
  return client_.record(e);
}

waymark_status_t ShopApp::login(std::string_view email, std::string_view account_id) {
  // Validate the email first so a junk or invalid address attaches nothing.
  uint8_t scratch[32];
  client_.pseudonymize(WAYMARK_ID_EMAIL, email, scratch);
  client_.identify(WAYMARK_ID_ACCOUNT_ID, account_id);
  return client_.identify(WAYMARK_ID_EMAIL, email);
}

waymark_status_t ShopApp::add_loyalty_card(std::string_view card) {
  return client_.identify(WAYMARK_ID_LOYALTY_ID, card);
}

waymark_status_t ShopApp::purchase(int64_t amount_minor, std::string_view currency) {
  waymark::Event e(WAYMARK_EVENT_PURCHASE, "order");
  e.channel(channel_).revenue(amount_minor, currency);
  return client_.record(e);
}

void ShopApp::forget_me(const std::vector<uint8_t>& erasure_token) {
  if (erasure_token.empty()) return client_.forget();
  client_.forget_with_token(erasure_token);
}

void ShopApp::sync(int64_t timeout_ms) {
  client_.notify_lifecycle(WAYMARK_LIFECYCLE_NETWORK_CHANGED);
  client_.flush(timeout_ms);
}

}  // namespace shop
