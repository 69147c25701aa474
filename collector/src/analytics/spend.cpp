#include "analytics/spend.hpp"

#include <csv.h>

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "analytics/channel_groups.hpp"

namespace waymark::collector::analytics {

namespace {

// One row as imported, its fields by column name.
using Fields = std::map<std::string, std::string>;

// An amount in major units ("1234.5") as minor units of a currency with `digits` minor digits.
std::optional<int64_t> minor_units(const std::string& amount, int digits) {
  const size_t dot = amount.find('.');
  const std::string whole = amount.substr(0, dot), fraction = dot == std::string::npos ? "" : amount.substr(dot + 1);
  const auto digits_only = [](const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (whole.empty() || whole.size() > 15 || !digits_only(whole) || !digits_only(fraction) ||
      (dot != std::string::npos && fraction.empty()) || static_cast<int>(fraction.size()) > digits) {
    return std::nullopt;
  }
  int64_t v = std::stoll(whole);
  for (int i = 0; i < digits; ++i) v = v * 10 + (i < static_cast<int>(fraction.size()) ? fraction[i] - '0' : 0);
  return v;
}

// The spend row `f` describes, or why it is not one.
Result<SpendRow> spend_row(const Fields& f) {
  const auto get = [&](const char* name) {
    const auto it = f.find(name);
    return it == f.end() ? std::string() : it->second;
  };
  SpendRow r;
  const auto day = Calendar::parse_day(get("day"));
  if (!day) return Error(Errc::invalid, "day must be YYYY-MM-DD (got '" + get("day") + "')");
  r.day = *day;
  const std::string group = get("channel_group"), campaign = get("campaign");
  if (group.empty() == campaign.empty()) return Error(Errc::invalid, "give one of channel_group and campaign");
  if (!group.empty()) {
    const auto names = channel_group_names();
    if (std::find(names.begin(), names.end(), group) == names.end()) {
      std::string list;
      for (std::string_view n : names) list += (list.empty() ? "" : ", ") + std::string(n);
      return Error(Errc::invalid, "unknown channel_group '" + group + "' (one of " + list + ")");
    }
  }
  r.level = group.empty() ? "campaign" : "channel_group";
  r.key = group.empty() ? campaign : group;
  r.currency = get("currency");
  if (r.currency.size() != 3 ||
      !std::all_of(r.currency.begin(), r.currency.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return Error(Errc::invalid, "currency must be an ISO 4217 code such as GBP (got '" + r.currency + "')");
  }
  const Money money(r.currency);
  const auto amount = minor_units(get("amount"), money.digits());
  if (!amount) {
    return Error(Errc::invalid, "amount must be a number >= 0 with at most " + std::to_string(money.digits()) +
                                    " decimals for " + r.currency + " (got '" + get("amount") + "')");
  }
  r.amount_minor = *amount;
  return r;
}

Status too_many(size_t max_rows) {
  return Error(Errc::invalid, "more than " + std::to_string(max_rows) + " rows: import them in parts");
}

// libcsv's callbacks collect records; each is numbered by the line it ends on.
struct CsvReader {
  std::vector<std::string> record;
  std::vector<std::pair<size_t, std::vector<std::string>>> records;
  size_t line = 1;
  static void field(void* data, size_t len, void* self) {
    static_cast<CsvReader*>(self)->record.emplace_back(static_cast<const char*>(data), len);
  }
  static void end(int, void* self) {
    auto* r = static_cast<CsvReader*>(self);
    r->records.emplace_back(r->line, std::move(r->record));
    r->record.clear();
  }
};

Result<std::vector<std::pair<size_t, std::vector<std::string>>>> read_csv(std::string_view text) {
  csv_parser parser;
  if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
    return Error(Errc::internal, "csv parser");
  }
  CsvReader reader;
  std::string error;
  while (!text.empty() && error.empty()) {  // a line at a time, so every record knows its line
    const size_t end = std::min(text.find('\n'), text.size() - 1) + 1;
    if (csv_parse(&parser, text.data(), end, CsvReader::field, CsvReader::end, &reader) != end) {
      error = csv_strerror(csv_error(&parser));
    }
    text.remove_prefix(end);
    ++reader.line;
  }
  if (error.empty() && csv_fini(&parser, CsvReader::field, CsvReader::end, &reader) != 0) {
    error = csv_strerror(csv_error(&parser));
  }
  csv_free(&parser);
  if (!error.empty()) return Error(Errc::invalid, "line " + std::to_string(reader.line) + ": " + error);
  return reader.records;
}

}  // namespace

Result<std::vector<SpendRow>> parse_spend_csv(std::string_view text, size_t max_rows) {
  auto records = read_csv(text);
  if (!records.ok()) return records.status();
  auto& all = records.value();
  if (all.empty()) return Error(Errc::invalid, "no header: day,channel_group,campaign,amount,currency");
  const std::vector<std::string> header = all.front().second;
  std::vector<SpendRow> rows;
  for (size_t i = 1; i < all.size(); ++i) {
    const auto& [line, values] = all[i];
    if (values.size() == 1 && values.front().empty()) continue;  // a blank line
    if (values.size() != header.size()) {
      return Error(Errc::invalid, "line " + std::to_string(line) + ": " + std::to_string(values.size()) +
                                      " fields, the header has " + std::to_string(header.size()));
    }
    if (rows.size() == max_rows) return too_many(max_rows);
    Fields f;
    for (size_t c = 0; c < header.size(); ++c) f[header[c]] = values[c];
    auto row = spend_row(f);
    if (!row.ok()) return Error(Errc::invalid, "line " + std::to_string(line) + ": " + row.status().message);
    rows.push_back(std::move(row.value()));
  }
  return rows;
}

Result<std::vector<SpendRow>> parse_spend_json(std::string_view text, size_t max_rows) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("rows") || !j.at("rows").is_array()) {
    return Error(Errc::invalid,
                 "the body must be {\"rows\": [{\"day\", \"channel_group\" or \"campaign\", "
                 "\"amount\", \"currency\"}, …]}");
  }
  std::vector<SpendRow> rows;
  for (const auto& item : j.at("rows")) {
    const std::string where = "row " + std::to_string(rows.size() + 1) + ": ";
    if (rows.size() == max_rows) return too_many(max_rows);
    if (!item.is_object()) return Error(Errc::invalid, where + "not an object");
    Fields f;
    for (const auto& [name, value] : item.items()) {
      if (!value.is_string() && !(name == "amount" && value.is_number())) {
        return Error(Errc::invalid, where + name + " must be a string" + (name == "amount" ? " or a number" : ""));
      }
      f[name] = value.is_string() ? value.get<std::string>() : value.dump();
    }
    auto row = spend_row(f);
    if (!row.ok()) return Error(Errc::invalid, where + row.status().message);
    rows.push_back(std::move(row.value()));
  }
  return rows;
}

std::string_view spend_level(AttributeBy by) {
  if (by == AttributeBy::ChannelGroup) return "channel_group";
  if (by == AttributeBy::Campaign) return "campaign";
  return "";
}

void add_spend(AttributionReport& report, const std::vector<SpendRow>& spend) {
  const std::string_view level = spend_level(report.query.by);
  if (level.empty()) return;
  report.costed = true;
  report.cost_currency = report.currency;
  if (report.cost_currency.empty()) {  // no revenue to compare with: the spend's currency, if it has one
    std::set<std::string> currencies;
    for (const SpendRow& s : spend) {
      if (s.level == level) currencies.insert(s.currency);
    }
    if (currencies.size() == 1) report.cost_currency = *currencies.begin();
  }
  std::map<std::string, double> cost;
  for (const SpendRow& s : spend) {
    if (s.level != level || s.currency != report.cost_currency) continue;
    cost[report.merged.count(s.key) ? "other" : s.key] += static_cast<double>(s.amount_minor);
    report.cost_minor += static_cast<double>(s.amount_minor);
  }
  for (AttributionRow& row : report.rows) {
    if (const auto it = cost.find(row.key); it != cost.end()) {
      row.cost_minor = it->second;
      cost.erase(it);
    }
  }
  // Spent on, and credited nothing: rows of their own, before "other" (which spend only joins when it
  // already exists, since its keys were credited something).
  const bool has_other = !report.rows.empty() && report.rows.back().key == "other" && report.suppressed > 0;
  const auto at = has_other ? report.rows.end() - 1 : report.rows.end();
  std::vector<AttributionRow> spent_only;
  for (const auto& [key, minor] : cost) spent_only.push_back({key, 0, 0, 0, minor});
  report.rows.insert(at, spent_only.begin(), spent_only.end());
}

}  // namespace waymark::collector::analytics
