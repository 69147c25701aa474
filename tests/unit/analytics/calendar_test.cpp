// The brand's calendar for reports (report-time-zone): local days in an IANA zone, DST included.
#include <catch2/catch.hpp>

#include "analytics/calendar.hpp"

using waymark::collector::analytics::Calendar;

namespace {

constexpr int64_t kHour = 3600 * 1000;

int64_t day(const char* text) {
  const auto d = Calendar::parse_day(text);
  REQUIRE(d);
  return *d;
}

}  // namespace

TEST_CASE("calendar: local days in a zone with summer time, and days written as dates", "[analytics][calendar]") {
  const auto london = Calendar::in_zone("Europe/London");
  REQUIRE(london.ok());
  const Calendar& c = london.value();
  const int64_t summer = day("2026-07-20"), winter = day("2026-01-20");
  // In summer (UTC+1) the day starts at 23:00 UTC the evening before; in winter at midnight UTC.
  CHECK(c.day_start_ms(summer) == summer * 24 * kHour - kHour);
  CHECK(c.day_start_ms(winter) == winter * 24 * kHour);
  CHECK(c.day_of(summer * 24 * kHour - kHour) == summer);  // 23:00 UTC: already the next London day
  CHECK(c.day_of(summer * 24 * kHour - kHour - 1) == summer - 1);
  CHECK(c.day_of(winter * 24 * kHour - 1) == winter - 1);
  // The spring-forward day is 23 hours long.
  const int64_t spring = day("2026-03-29");
  CHECK(c.day_start_ms(spring + 1) - c.day_start_ms(spring) == 23 * kHour);
  // UTC is the default.
  CHECK(Calendar().zone() == "UTC");
  CHECK(Calendar().day_of(summer * 24 * kHour - 1) == summer - 1);
  CHECK(Calendar().day_of(-1) == -1);

  CHECK(Calendar::format_day(summer) == "2026-07-20");
  CHECK(Calendar::format_day(0) == "1970-01-01");
  for (const char* bad : {"2026-13-01", "2026-02-30", "2026-7-20", "20260720", "1969-12-31", "2026-07-20x", ""}) {
    INFO(bad);
    CHECK_FALSE(Calendar::parse_day(bad));
  }
  const auto unknown = Calendar::in_zone("Mars/Olympus_Mons");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().message == "unknown time zone Mars/Olympus_Mons (an IANA name, such as Europe/London)");
}
