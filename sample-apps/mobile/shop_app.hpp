// A shop's phone app (or its web front end: same SDK, channel WEB) on the C++ wrapper. The device is
// the customer's own (personal mode): anonymous browsing first, campaign links (utm), login with email
// and account id, a loyalty card in the wallet, push/email/SMS touchpoints, purchases, consent
// changes and "forget me". Each method maps one screen or user action to SDK calls.
#pragma once

#include <cstdint>
#include <string_view>

#include <waymark/waymark.hpp>

#include "../common/device_config.h"

namespace shop {

inline constexpr std::string_view kPrivacyPolicy = "app-privacy-2026-03";

class ShopApp {
 public:
  ShopApp(const sample_device_config_t& config, waymark_channel_t channel);

  void consent(waymark_purpose_t purpose, bool granted);  // the consent screen (also: withdrawing)
  waymark_status_t view(std::string_view screen);         // OK or DROPPED_NO_CONSENT
  // A tracked link opened the app: `via` is EMAIL, SMS, PUSH or the app's own channel (ads, search).
  waymark_status_t open_link(waymark_channel_t via, std::string_view source, std::string_view medium,
                             std::string_view campaign);
  // Login: attaches the email and account id. A junk or invalid email throws waymark::Error with
  // JUNK_IDENTIFIER / INVALID_IDENTIFIER, and nothing is attached: ask the user again. Returns OK, or
  // DROPPED_NO_CONSENT when the identifiers are attached but (no analytics consent) not sent.
  waymark_status_t login(std::string_view email, std::string_view account_id);
  waymark_status_t add_loyalty_card(std::string_view card);
  waymark_status_t purchase(int64_t amount_minor, std::string_view currency);
  // Queued data deleted here, an erasure request sent to the collector. With the token the brand's
  // backend issued once the customer signed in, the collector erases the customer everywhere; without
  // one, what this device sent.
  void forget_me(const std::vector<uint8_t>& erasure_token = {});
  void sync(int64_t timeout_ms);

  waymark::Client& client() { return client_; }

 private:
  waymark::Client client_;
  waymark_channel_t channel_;
};

}  // namespace shop
