// The default channel grouping: what a marketer reads attribution by. Derived from the event's channel
// and its campaign's medium and source, by the rules in docs/analytics.md ("Channel groups"), first
// match wins.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "store/store.hpp"

namespace waymark::collector::analytics {

// One of: Paid Search, Organic Search, Email, SMS, Push, Display, Video, Paid Social, Organic Social,
// Referral, Direct, App, In-store, ATM, Call centre, Offline media, Other.
std::string_view channel_group(uint8_t channel, std::string_view source, std::string_view medium);
// Every group channel_group returns, in the order above.
std::span<const std::string_view> channel_group_names();

// A campaign lasts its session, as web analytics count a visit's traffic source: an event without one,
// on the channel of the customer's previous action and less than `gap_ms` after it, is in the campaign
// that action was in (the pages viewed after arriving from an ad are the ad's). Fed one customer's
// actions in time order; the events must outlive it.
class SessionCampaign {
 public:
  explicit SessionCampaign(int64_t gap_ms) : gap_ms_(gap_ms) {}
  // The event whose campaign `e` is in: `e` itself, or the first event of its session.
  const AnalyticsEvent& of(const AnalyticsEvent& e) {
    const bool same_session = last_ != nullptr && e.channel == last_->channel && e.time_ms - last_->time_ms < gap_ms_;
    if (!e.campaign.empty() || !same_session) landing_ = &e;
    last_ = &e;
    return *landing_;
  }

 private:
  int64_t gap_ms_;
  const AnalyticsEvent *last_ = nullptr, *landing_ = nullptr;
};

}  // namespace waymark::collector::analytics
