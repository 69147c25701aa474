// A shared in-store kiosk's use of Waymark (C++ wrapper): each shopper is one customer slot. A
// loyalty-card scan always starts a new customer (the card says who is there); touching the welcome
// screen starts one if none is active; "done" or the idle timeout ends it, wiping the shopper's
// identifiers and consent from the kiosk. The kiosk's own device id never links two shoppers.
#pragma once

#include <string_view>

#include <waymark/waymark.hpp>

#include "../common/device_config.h"

namespace kiosk {

inline constexpr std::string_view kConsentPolicy = "kiosk-privacy-2026-03";

class Kiosk {
 public:
  Kiosk(const sample_device_config_t& config, int64_t idle_timeout_ms);

  void touch();                              // welcome screen: a customer begins unless one is active
  void card_scanned(std::string_view card);  // a new customer, identified by the loyalty card
  void consent_prompt(bool analytics, bool personalisation);
  waymark_status_t product_view(std::string_view sku);  // OK or DROPPED_NO_CONSENT
  void done();                                          // the shopper pressed "done"

  waymark::Client& client() { return client_; }

 private:
  waymark::Client client_;
};

}  // namespace kiosk
