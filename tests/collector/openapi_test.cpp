// The API spec is the server's contract (issue 27): every operation docs/api/openapi.yaml lists is
// answered by the real collector (never 404 or 405), and every status an answer carries is one the spec
// lists for that operation.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "analytics/segments.hpp"
#include "support/collector_fixture.hpp"
#include "support/http_client.hpp"

using namespace waymark::test;

namespace {

struct Operation {
  std::string path, method;
  std::set<int> statuses;  // the responses the spec lists
};

// The paths, their methods and their response codes, read from the spec's indentation (paths at two
// spaces, methods at four, responses' codes at eight).
std::vector<Operation> operations() {
  std::ifstream in(std::string(WAYMARK_SOURCE_DIR) + "/docs/api/openapi.yaml");
  REQUIRE(in);
  std::vector<Operation> out;
  std::string line, path;
  bool in_paths = false;
  const std::regex path_re("^  (/[^:]*):\\s*$"), method_re("^    (get|post|put|delete|patch):\\s*$"),
      status_re("^        '([0-9]{3})':");
  std::smatch m;
  while (std::getline(in, line)) {
    if (line == "paths:") in_paths = true;
    if (!in_paths) continue;
    if (!line.empty() && line[0] != ' ' && line != "paths:") break;
    if (std::regex_match(line, m, path_re)) path = m[1];
    if (std::regex_match(line, m, method_re)) out.push_back({path, m[1], {}});
    if (std::regex_search(line, m, status_re) && !out.empty()) out.back().statuses.insert(std::stoi(m[1]));
  }
  return out;
}

}  // namespace

TEST_CASE("every operation in the API spec is answered, with a status the spec lists", "[collector][api]") {
  Collector collector;
  auto rule = waymark::collector::analytics::parse_rule_segment("app_fans: channel.app >= 1");
  REQUIRE(rule.ok());
  waymark::collector::ReportSettings settings;
  settings.segments = {rule.value()};
  collector.api->set_reports(settings);
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), collector.client(), &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(track(c, "open") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
  waymark_client_free(c);
  const uint16_t port = collector.server->port();
  const std::string list = api_get(port, "/v1/profiles", Collector::kAdminToken).body;
  std::smatch id;
  REQUIRE(std::regex_search(list, id, std::regex("\\[([0-9]+)")));

  const auto ops = operations();
  REQUIRE(ops.size() >= 15);
  for (const Operation& op : ops) {
    std::string target = std::regex_replace(op.path, std::regex("\\{id\\}"), id[1].str());
    target = std::regex_replace(target, std::regex("\\{name\\}"), "app_fans");
    INFO(op.method << " " << target);
    const Reply r = op.method == "get" ? api_get(port, target, Collector::kAdminToken)
                                       : api_post(port, target, "{}", Collector::kAdminToken);
    CHECK(r.status != 404);
    CHECK(r.status != 405);
    CHECK(op.statuses.count(r.status) == 1);
  }
}
