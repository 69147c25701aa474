// The simulated brand: customers, their devices and every visit to the brand's shared devices over
// the simulated days, with the ground truth the demo scores the collector against. Deterministic for
// a seed (std::mt19937_64 and our own distributions, so the same on every machine).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <waymark/waymark.h>

namespace demo {

inline constexpr int64_t kMinute = 60'000;
inline constexpr int64_t kHour = 60 * kMinute;
inline constexpr int64_t kDay = 24 * kHour;

enum class DeviceKind { App, Web, Kiosk, Pos, Atm, CallCentre };
const char* device_kind_name(DeviceKind kind);

enum class Op {
  Consent,  // personal: purpose a, granted flag
  View,     // personal: screen a
  Link,     // personal: via channel, campaign source a / medium b / name c
  Login,    // personal: email a (as typed), account b
  Card,     // personal: loyalty card a
  Buy,      // personal: amount
  Forget,   // personal: the customer asks to be forgotten
  Kiosk,    // shared visit: card a (may be empty), consent flag, views, walk_away
  Sale,     // POS: card a (may be empty), amount
  Atm,      // ATM: account a
  Call,     // call centre: phone a (as typed), account b, email c typed by the agent (may be empty)
};

struct Step {
  int64_t t = 0;  // ms since the start of the simulation
  Op op = Op::View;
  int customer = -1;
  std::string a, b, c;
  waymark_purpose_t purpose = WAYMARK_PURPOSE_ANALYTICS;
  waymark_channel_t via = WAYMARK_CHANNEL_UNKNOWN;
  bool flag = true;
  bool walk_away = false;
  int views = 0;
  int64_t amount = 0;
};

struct Device {
  DeviceKind kind = DeviceKind::App;
  int owner = -1;             // the customer of a personal device, -1 for shared devices
  int64_t clock_skew_ms = 0;  // how wrong the device's wall clock is
  std::vector<Step> steps;    // in time order
  int64_t last_t() const { return steps.empty() ? 0 : steps.back().t; }
};

// A raw identifier a customer gave (or the demo generated), as the scanner and the lookups need it.
struct Identifier {
  waymark_id_kind_t kind;
  std::string value;      // as typed
  std::string canonical;  // the normalised form the SDK would pseudonymise (for the raw scan)
};

struct Customer {
  std::string email, account, phone_typed, phone_e164, card;  // card: own loyalty card or empty
  std::string borrowed_card;      // a family member's card used on purpose (the hard case), or empty
  std::vector<int> devices;       // personal devices
  std::vector<Identifier> extra;  // typo'd emails also given
  bool forgotten = false, withdrew = false;
  double spend_mean_minor = 0;
  int64_t active_until = 0;  // when they stopped coming (churned); the end of the period if they did not
  // The ad that brought them (their first touch), "" for everyone else: planted quality, Paid Search
  // customers spend more and buy more often, Paid Social ones less.
  std::string acquired_via;
};

struct Planted {
  int email_clicks = 0, email_caused_sales = 0;     // email → POS purchase two days later
  int search_clicks = 0, search_caused_orders = 0;  // paid search → web order in the same session
  int sms_clicks = 0, push_opens = 0;               // no effect: the control
};

// What the brand paid for marketing on a simulated day, per channel group (GBP, minor units): per click
// for ads and texts, per send for the newsletter, and Display every day for nothing (planted waste).
struct Spend {
  int64_t day = 0;
  std::string channel_group;
  int64_t amount_minor = 0;
};

struct Plan {
  int days = 0;
  std::vector<Spend> spend;  // by day, then group
  std::vector<Customer> customers;
  std::vector<Device> devices;
  std::vector<std::string> junk;  // values the SDK or the brand's blocklist must refuse
  std::string brand_junk_email;   // what call-centre agents type when there is no email
  Planted planted;
  int households = 0;  // customers using a family member's loyalty card
};

Plan simulate(uint64_t seed, int customers, int days);

}  // namespace demo
