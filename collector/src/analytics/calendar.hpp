// The brand's calendar for reports (`report-time-zone`, an IANA name; UTC by default): the local day an
// instant falls on, as days since 1970-01-01, so that "purchases on the same day" and "as of 30
// September" mean the brand's days, not UTC's.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "status.hpp"

namespace waymark::collector::analytics {

class Calendar {
 public:
  Calendar();  // UTC
  // Errc::invalid for a name the time-zone database does not know.
  static Result<Calendar> in_zone(const std::string& iana);

  const std::string& zone() const { return zone_; }
  // The local date of the instant `ms`, in days since 1970-01-01.
  int64_t day_of(int64_t ms) const;
  // The instant local day `day` begins.
  int64_t day_start_ms(int64_t day) const;

  // "YYYY-MM-DD" as days since 1970-01-01 (a date, no zone involved); nothing when it is not one.
  static std::optional<int64_t> parse_day(std::string_view text);
  static std::string format_day(int64_t day);

 private:
  struct Zone;  // ICU's time zone
  int64_t offset_ms(int64_t ms, bool local) const;

  std::string zone_ = "UTC";
  std::shared_ptr<const Zone> tz_;  // null: UTC
};

}  // namespace waymark::collector::analytics
