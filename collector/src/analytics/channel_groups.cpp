#include "analytics/channel_groups.hpp"

#include <algorithm>
#include <cctype>
#include <string>

#include "waymark/wire/v1/event_generated.h"

namespace waymark::collector::analytics {

namespace w = waymark::wire::v1;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool one_of(const std::string& v, std::initializer_list<std::string_view> list) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

// Social networks, for telling paid and organic social from a source.
bool social_source(const std::string& source) {
  return one_of(source, {"facebook", "instagram", "tiktok", "linkedin", "twitter", "x", "pinterest", "snapchat",
                         "youtube", "reddit", "fb", "ig"});
}

bool search_source(const std::string& source) {
  return one_of(source, {"google", "bing", "yahoo", "duckduckgo", "baidu", "yandex", "ecosia"});
}

// The group a campaign's medium (and source) names, or "" when it names none.
std::string_view campaign_group(const std::string& source, const std::string& medium) {
  if (one_of(medium, {"cpc", "ppc", "paidsearch", "paid_search", "paid-search", "sem"})) {
    return social_source(source) ? "Paid Social" : "Paid Search";
  }
  if (one_of(medium, {"paid_social", "paidsocial", "paid-social", "social_paid", "social-paid"})) return "Paid Social";
  if (one_of(medium, {"display", "banner", "cpm", "programmatic"})) return "Display";
  if (one_of(medium, {"video", "paid_video", "ctv", "preroll"})) return "Video";
  if (one_of(medium, {"tv", "radio", "print", "direct_mail", "directmail", "outdoor", "ooh", "offline"})) {
    return "Offline media";
  }
  if (one_of(medium, {"social", "social-network", "social_network", "social-media", "sm"})) return "Organic Social";
  if (medium == "organic") return "Organic Search";
  if (one_of(medium, {"email", "e-mail", "newsletter"})) return "Email";
  if (medium == "sms") return "SMS";
  if (one_of(medium, {"push", "notification"})) return "Push";
  if (medium == "referral") return social_source(source) ? "Organic Social" : "Referral";
  if (medium.empty() && search_source(source)) return "Organic Search";
  if (medium.empty() && social_source(source)) return "Organic Social";
  return "";
}

}  // namespace

std::string_view channel_group(uint8_t channel, std::string_view source, std::string_view medium) {
  const std::string_view by_campaign = campaign_group(lower(source), lower(medium));
  if (!by_campaign.empty()) return by_campaign;
  switch (static_cast<w::Channel>(channel)) {
    case w::Channel::Email: return "Email";
    case w::Channel::Sms: return "SMS";
    case w::Channel::Push: return "Push";
    case w::Channel::Web: return source.empty() && medium.empty() ? "Direct" : "Referral";
    case w::Channel::App: return "App";
    case w::Channel::Pos:
    case w::Channel::Kiosk: return "In-store";
    case w::Channel::Atm: return "ATM";
    case w::Channel::CallCentre:
    case w::Channel::Ivr: return "Call centre";
    case w::Channel::Display: return "Display";
    case w::Channel::Video: return "Video";
    case w::Channel::Social: return "Organic Social";
    case w::Channel::Tv:
    case w::Channel::Radio:
    case w::Channel::Print: return "Offline media";
    default: return "Other";
  }
}

std::span<const std::string_view> channel_group_names() {
  static constexpr std::string_view kNames[] = {
      "Paid Search", "Organic Search", "Email",    "SMS",    "Push", "Display",  "Video",
      "Paid Social", "Organic Social", "Referral", "Direct", "App",  "In-store", "ATM",
      "Call centre", "Offline media",  "Other"};
  return kNames;
}

}  // namespace waymark::collector::analytics
