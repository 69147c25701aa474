#include "report.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace demo {

namespace {

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

const char* kColours[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
                          "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#86bcb6"};

// Grouped horizontal bars: one group per channel, one bar per model (share of conversions).
std::string attribution_svg(const AttributionTable& t) {
  const int bar = 9, gap = 10, left = 120, width = 420;
  const int group = static_cast<int>(t.models.size()) * bar + gap;
  const int height = static_cast<int>(t.channels.size()) * group + 30 + 16 * static_cast<int>(t.models.size());
  std::ostringstream s;
  s << "<svg xmlns='http://www.w3.org/2000/svg' width='" << left + width + 80 << "' height='" << height
    << "' font-family='sans-serif' font-size='11'>";
  for (size_t c = 0; c < t.channels.size(); ++c) {
    const int y0 = static_cast<int>(c) * group;
    s << "<text x='" << left - 6 << "' y='" << y0 + group / 2 << "' text-anchor='end'>" << esc(t.channels[c])
      << "</text>";
    for (size_t m = 0; m < t.models.size(); ++m) {
      const double share = t.total_conversions > 0 ? t.conversions[m][c] / t.total_conversions : 0;
      const int y = y0 + static_cast<int>(m) * bar;
      s << "<rect x='" << left << "' y='" << y << "' width='" << std::max(1.0, share * width) << "' height='" << bar - 1
        << "' fill='" << kColours[m % 11] << "'><title>" << esc(t.models[m]) << ": " << fixed(100 * share, 1)
        << "%</title></rect>";
    }
  }
  int y = static_cast<int>(t.channels.size()) * group + 12;
  for (size_t m = 0; m < t.models.size(); ++m, y += 16) {
    s << "<rect x='" << left << "' y='" << y - 9 << "' width='10' height='10' fill='" << kColours[m % 11]
      << "'/><text x='" << left + 16 << "' y='" << y << "'>" << esc(t.models[m]) << "</text>";
  }
  s << "</svg>";
  return s.str();
}

std::string bars_svg(const std::vector<std::pair<std::string, int64_t>>& rows) {
  int64_t top = 1;
  for (const auto& r : rows) top = std::max(top, r.second);
  const int left = 120, width = 360, row = 22;
  std::ostringstream s;
  s << "<svg xmlns='http://www.w3.org/2000/svg' width='" << left + width + 60 << "' height='"
    << row * static_cast<int>(rows.size()) + 4 << "' font-family='sans-serif' font-size='12'>";
  for (size_t i = 0; i < rows.size(); ++i) {
    const int y = static_cast<int>(i) * row;
    const double w = static_cast<double>(rows[i].second) / static_cast<double>(top) * width;
    s << "<text x='" << left - 6 << "' y='" << y + 15 << "' text-anchor='end'>" << esc(rows[i].first)
      << "</text><rect x='" << left << "' y='" << y + 4 << "' width='" << std::max(1.0, w)
      << "' height='14' fill='#4e79a7'/><text x='" << left + w + 4 << "' y='" << y + 15 << "'>" << rows[i].second
      << "</text>";
  }
  s << "</svg>";
  return s.str();
}

}  // namespace

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string attribution_text(const AttributionTable& t) {
  std::ostringstream s;
  char buf[64];
  std::snprintf(buf, sizeof buf, "  %-14s", "channel");
  s << buf;
  for (const auto& m : t.models) {
    std::snprintf(buf, sizeof buf, "%15s", m.c_str());
    s << buf;
  }
  s << "\n";
  for (size_t c = 0; c < t.channels.size(); ++c) {
    std::snprintf(buf, sizeof buf, "  %-14s", t.channels[c].c_str());
    s << buf;
    for (size_t m = 0; m < t.models.size(); ++m) {
      std::snprintf(buf, sizeof buf, "%15.1f", t.conversions[m][c]);
      s << buf;
    }
    s << "\n";
  }
  return s.str();
}

namespace {

// Rows as an HTML table, the first as its header.
std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::string t = "<table>";
  for (size_t i = 0; i < rows.size(); ++i) {
    t += "<tr>";
    for (const auto& cell : rows[i]) t += (i == 0 ? "<th>" : "<td>") + esc(cell) + (i == 0 ? "</th>" : "</td>");
    t += "</tr>";
  }
  return t + "</table>";
}

}  // namespace

void write_html(const std::string& path, const Results& r) {
  std::ofstream f(path);
  f << "<!doctype html><html><head><meta charset='utf-8'><title>Waymark demo</title><style>"
       "body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}table{border-collapse:collapse}"
       "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}"
       "td:first-child{text-align:left}.ok{color:#1a7f37}.fail{color:#cf222e;font-weight:bold}</style></head><body>"
       "<h1>Waymark demo</h1><ul>";
  for (const auto& fact : r.facts) f << "<li>" << esc(fact) << "</li>";
  f << "</ul><h2>Checks</h2><table><tr><th>check</th><th>result</th><th></th></tr>";
  for (const auto& c : r.checks) {
    f << "<tr><td>" << esc(c.name) << "</td><td>" << esc(c.value) << "</td><td class='"
      << (c.ok ? "ok'>pass" : "fail'>FAIL") << "</td></tr>";
  }
  f << "</table><h2>Attribution by channel (conversions credited)</h2><p>" << esc(r.attribution.window) << "</p><p>"
    << esc(r.planted) << "</p><table><tr><th>channel</th>";
  for (const auto& m : r.attribution.models) f << "<th>" << esc(m) << "</th>";
  f << "</tr>";
  for (size_t c = 0; c < r.attribution.channels.size(); ++c) {
    f << "<tr><td>" << esc(r.attribution.channels[c]) << "</td>";
    for (size_t m = 0; m < r.attribution.models.size(); ++m)
      f << "<td>" << fixed(r.attribution.conversions[m][c], 1) << "</td>";
    f << "</tr>";
  }
  f << "</table><p>Share of conversions by model:</p>" << attribution_svg(r.attribution)
    << "<h2>Spend and return by channel group</h2>" << table(r.romi_rows)
    << "<h2>Funnel: link opened, product page, purchase within 7 days</h2>" << table(r.funnel_rows)
    << "<h2>Segments (RFM)</h2>" << bars_svg(r.segments) << "<h2>Top customers by predicted lifetime value</h2>"
    << table(r.clv_rows) << "<h2>Lifetime value by acquisition channel</h2>" << table(r.acquisition_rows)
    << "</body></html>\n";
}

}  // namespace demo
