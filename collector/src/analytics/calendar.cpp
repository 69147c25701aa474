#include "analytics/calendar.hpp"

#include <unicode/timezone.h>

#include <chrono>
#include <cstdio>

namespace waymark::collector::analytics {

namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

}  // namespace

struct Calendar::Zone {
  std::unique_ptr<icu::TimeZone> tz;
};

Calendar::Calendar() = default;

Result<Calendar> Calendar::in_zone(const std::string& iana) {
  Calendar c;
  c.zone_ = iana;
  auto zone = std::make_shared<Zone>();
  zone->tz.reset(icu::TimeZone::createTimeZone(icu::UnicodeString::fromUTF8(iana)));
  icu::UnicodeString id;
  if (zone->tz == nullptr || zone->tz->getID(id) == icu::UnicodeString(UCAL_UNKNOWN_ZONE_ID, -1, US_INV)) {
    return Error(Errc::invalid, "unknown time zone " + iana + " (an IANA name, such as Europe/London)");
  }
  if (iana != "UTC") c.tz_ = std::move(zone);
  return c;
}

// The zone's offset from UTC at `ms`: an instant, or with `local` a wall-clock time read as UTC.
int64_t Calendar::offset_ms(int64_t ms, bool local) const {
  if (tz_ == nullptr) return 0;
  int32_t raw = 0, dst = 0;
  UErrorCode status = U_ZERO_ERROR;
  tz_->tz->getOffset(static_cast<UDate>(ms), local ? 1 : 0, raw, dst, status);
  return U_SUCCESS(status) ? static_cast<int64_t>(raw) + dst : 0;
}

int64_t Calendar::day_of(int64_t ms) const {
  return floor_div(ms + offset_ms(ms, false), kDayMs);
}

int64_t Calendar::day_start_ms(int64_t day) const {
  const int64_t wall = day * kDayMs;
  return wall - offset_ms(wall, true);
}

std::optional<int64_t> Calendar::parse_day(std::string_view text) {
  unsigned y = 0, m = 0, d = 0;
  int used = 0;
  const std::string s(text);
  if (s.size() != 10 || std::sscanf(s.c_str(), "%4u-%2u-%2u%n", &y, &m, &d, &used) != 3 || used != 10) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(static_cast<int>(y)), std::chrono::month(m),
                                         std::chrono::day(d)};
  if (!date.ok() || y < 1970) return std::nullopt;
  return std::chrono::sys_days(date).time_since_epoch().count();
}

std::string Calendar::format_day(int64_t day) {
  const std::chrono::year_month_day date{std::chrono::sys_days(std::chrono::days(day))};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()));
  return buf;
}

}  // namespace waymark::collector::analytics
