// The demo's results, printed as a summary and written as a self-contained HTML report (inline SVG).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace demo {

struct Check {
  std::string name, value;
  bool ok;
};

struct AttributionTable {
  std::vector<std::string> models, channels;
  std::vector<std::vector<double>> conversions;  // [model][channel]
  double total_conversions = 0;
  std::string window;  // the days and the goal the report covers
};

struct Results {
  std::vector<std::string> facts;  // "name: value" lines of the run
  std::vector<Check> checks;
  AttributionTable attribution;
  std::string planted;
  std::vector<std::pair<std::string, int64_t>> segments;
  std::vector<std::vector<std::string>> clv_rows;          // header first
  std::vector<std::vector<std::string>> romi_rows;         // spend and return by channel group, header first
  std::vector<std::vector<std::string>> acquisition_rows;  // CLV by acquisition channel group, header first
  std::vector<std::vector<std::string>> funnel_rows;       // the funnel by entry channel group, header first
};

std::string attribution_text(const AttributionTable& t);
// `v` with `digits` decimals.
std::string fixed(double v, int digits);
void write_html(const std::string& path, const Results& r);

}  // namespace demo
