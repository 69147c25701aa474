// Marketing spend: read from what the brand imports (CSV or JSON), and set against attribution as
// cost, ROAS, ROMI and cost per acquisition.
#pragma once

#include <string_view>
#include <vector>

#include "analytics/calendar.hpp"
#include "analytics/reports.hpp"
#include "store/store.hpp"

namespace waymark::collector::analytics {

// Rows of `day` (YYYY-MM-DD, a day of the brand's calendar), one of `channel_group` (a group of
// channel_groups.hpp, exactly as spelled there) or `campaign` ("source / medium / name", as attribution
// by=campaign names it), `amount` (major units, a decimal with at most the currency's minor digits,
// >= 0) and `currency` (ISO 4217). CSV: a header naming those columns, in any order. JSON:
// {"rows": [{"day": …, "channel_group": …, "amount": 12.5, "currency": "GBP"}, …]}. A bad row makes the
// whole import fail with Errc::invalid naming the row (CSV: its line) and what is wrong: nothing is
// half imported. At most `max_rows` rows.
Result<std::vector<SpendRow>> parse_spend_csv(std::string_view text, size_t max_rows);
Result<std::vector<SpendRow>> parse_spend_json(std::string_view text, size_t max_rows);

// The spend level a breakdown is costed at ("channel_group", "campaign"), or "" when spend does not
// apply to it.
std::string_view spend_level(AttributeBy by);

// Sets each row's cost from the spend of its key at the report's level, in the report's currency (or,
// for a report without revenue, the spend's only currency): a key merged into "other" costs there, and
// a key with spend but no credit becomes a row of its own (spent, converted nothing).
void add_spend(AttributionReport& report, const std::vector<SpendRow>& spend);

}  // namespace waymark::collector::analytics
