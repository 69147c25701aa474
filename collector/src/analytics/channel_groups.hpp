// The default channel grouping: what a marketer reads attribution by. Derived from the event's channel
// and its campaign's medium and source, by the rules in docs/analytics.md ("Channel groups"), first
// match wins.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace waymark::collector::analytics {

// One of: Paid Search, Organic Search, Email, SMS, Push, Display, Video, Paid Social, Organic Social,
// Referral, Direct, App, In-store, ATM, Call centre, Offline media, Other.
std::string_view channel_group(uint8_t channel, std::string_view source, std::string_view medium);
// Every group channel_group returns, in the order above.
std::span<const std::string_view> channel_group_names();

}  // namespace waymark::collector::analytics
