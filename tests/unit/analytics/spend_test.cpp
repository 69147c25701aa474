// Marketing spend as the brand imports it: every bad row refused with where and why, amounts exact in
// minor units, and spend set against attribution rows.
#include <catch2/catch.hpp>

#include "analytics/spend.hpp"

using namespace waymark::collector;
using namespace waymark::collector::analytics;

namespace {

std::string error_of(const Result<std::vector<SpendRow>>& r) {
  return r.ok() ? "" : r.status().message;
}

}  // namespace

TEST_CASE("spend CSV: columns in any order, quoted campaigns, exact minor units", "[analytics][spend]") {
  const auto rows = parse_spend_csv(
      "currency,amount,day,channel_group,campaign\r\n"
      "GBP,1234.5,2026-03-01,Paid Search,\r\n"
      "GBP,0.07,2026-03-01,,\"google / cpc / spring, \"\"wide\"\"\"\r\n"
      "\r\n"
      "JPY,1500,2026-03-02,Display,\r\n"
      "BHD,1.125,2026-03-02,Email,\n",
      100);
  REQUIRE(rows.ok());
  REQUIRE(rows.value().size() == 4);
  const SpendRow& search = rows.value()[0];
  CHECK(search.day == *Calendar::parse_day("2026-03-01"));
  CHECK(search.level == "channel_group");
  CHECK(search.key == "Paid Search");
  CHECK(search.amount_minor == 123450);
  CHECK(rows.value()[1].level == "campaign");
  CHECK(rows.value()[1].key == "google / cpc / spring, \"wide\"");
  CHECK(rows.value()[1].amount_minor == 7);
  CHECK(rows.value()[2].amount_minor == 1500);  // yen have no minor unit
  CHECK(rows.value()[3].amount_minor == 1125);  // dinars have three
}

// Found (issue 22): spend could not be imported at all. A bad row must fail the whole import with its line,
// never be skipped or half applied.
TEST_CASE("spend CSV and JSON: a bad row fails the import and says where and why", "[analytics][spend]") {
  const std::string header = "day,channel_group,campaign,amount,currency\n";
  const auto csv_error = [&](const std::string& rows) { return error_of(parse_spend_csv(header + rows, 100)); };
  CHECK(csv_error("2026-03-01,Email,,10,GBP\n2026-02-30,Email,,10,GBP\n").rfind("line 3: day must be", 0) == 0);
  CHECK(csv_error("2026-03-01,Paid search,,10,GBP\n").find("unknown channel_group 'Paid search'") != std::string::npos);
  CHECK(csv_error("2026-03-01,Email,x / y / z,10,GBP\n").find("one of channel_group and campaign") !=
        std::string::npos);
  CHECK(csv_error("2026-03-01,,,10,GBP\n").find("one of channel_group and campaign") != std::string::npos);
  CHECK(csv_error("2026-03-01,Email,,-10,GBP\n").find("amount must be a number >= 0") != std::string::npos);
  CHECK(csv_error("2026-03-01,Email,,10.5,JPY\n").find("at most 0 decimals for JPY") != std::string::npos);
  CHECK(csv_error("2026-03-01,Email,,10.555,GBP\n").find("at most 2 decimals") != std::string::npos);
  CHECK(csv_error("2026-03-01,Email,,1e3,GBP\n").find("amount must be") != std::string::npos);
  CHECK(csv_error("2026-03-01,Email,,10,gbp\n").find("currency must be an ISO 4217 code") != std::string::npos);
  CHECK(csv_error("2026-03-01,Email,10,GBP\n") == "line 2: 4 fields, the header has 5");
  CHECK(csv_error("2026-03-01,\"Email,,10,GBP\n").rfind("line ", 0) == 0);  // an unterminated quote
  CHECK(error_of(parse_spend_csv("", 100)).find("no header") != std::string::npos);
  CHECK(error_of(parse_spend_csv(header + "2026-03-01,Email,,1,GBP\n2026-03-02,Email,,1,GBP\n", 1))
            .find("more than 1 rows") != std::string::npos);

  const auto json = parse_spend_json(
      R"({"rows": [{"day": "2026-03-01", "campaign": "bing / cpc / x", "amount": 12.34, "currency": "GBP"},
                   {"day": "2026-03-01", "channel_group": "SMS", "amount": "5", "currency": "GBP"}]})",
      100);
  REQUIRE(json.ok());
  CHECK(json.value()[0].amount_minor == 1234);
  CHECK(json.value()[1].amount_minor == 500);
  CHECK(error_of(parse_spend_json(R"({"rows": [{"day": "2026-03-01", "channel_group": "SMS", "amount": 5,
                                                "currency": "GBP"}, {"day": 1}]})",
                                  100))
            .rfind("row 2: day must be", 0) == 0);
  CHECK(error_of(parse_spend_json("[1, 2]", 100)).find("the body must be") != std::string::npos);
  CHECK(error_of(parse_spend_json(R"({"rows": [7]})", 100)) == "row 1: not an object");
}

TEST_CASE("spend against attribution: cost per row, merged keys cost in other, spend without credit shows",
          "[analytics][spend]") {
  AttributionReport report;
  report.query.by = AttributeBy::ChannelGroup;
  report.currency = "GBP";
  report.rows = {{"Email", 10, 50000, 40, 0}, {"Paid Search", 5, 20000, 30, 0}, {"other", 1, 900, 12, 0}};
  report.suppressed = 1;
  report.merged = {"SMS"};
  const int64_t day = 20000;
  add_spend(report, {{day, "channel_group", "Email", "GBP", 10000},
                     {day + 1, "channel_group", "Email", "GBP", 2500},
                     {day, "channel_group", "SMS", "GBP", 300},
                     {day, "channel_group", "Display", "GBP", 7000},
                     {day, "channel_group", "Paid Search", "USD", 99999},  // another currency: not counted
                     {day, "campaign", "x / y / z", "GBP", 123}});         // another level
  CHECK(report.costed);
  CHECK(report.cost_currency == "GBP");
  CHECK(report.cost_minor == 19800);
  REQUIRE(report.rows.size() == 4);
  CHECK(report.rows[0].cost_minor == 12500);
  CHECK(report.rows[1].cost_minor == 0);
  CHECK(report.rows[2].key == "Display");  // spent on, credited nothing: before "other"
  CHECK(report.rows[2].conversions == 0);
  CHECK(report.rows[2].cost_minor == 7000);
  CHECK(report.rows[3].key == "other");
  CHECK(report.rows[3].cost_minor == 300);

  AttributionReport by_channel;
  by_channel.query.by = AttributeBy::Channel;
  add_spend(by_channel, {{day, "channel_group", "Email", "GBP", 1}});
  CHECK_FALSE(by_channel.costed);  // spend is by channel group or campaign, not by channel
}
