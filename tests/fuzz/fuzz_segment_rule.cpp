// Rule segment specs from a config file: parsed, and when they parse, evaluated over a small store
// (every metric kind meets a real profile).
#include <string_view>

#include "analytics/segments.hpp"
#include "fuzz_support.hpp"
#include "support/direct_store.hpp"

namespace {

// Two customers (one slot each) with purchases, tracks, names, channels and a campaign.
void seed(waymark::collector::Store& store) {
  std::vector<waymark::collector::StoredEvent> events;
  for (int i = 0; i < 6; ++i) {
    waymark::collector::StoredEvent e;
    e.event_id = waymark::test::ordered_event_id(static_cast<uint64_t>(i + 1));
    e.type = static_cast<uint8_t>(i % 2 == 0 ? 4 : 1);  // purchases and tracks
    e.channel = static_cast<uint8_t>(1 + i);
    e.purpose = 1;
    e.name = i % 2 == 0 ? "sale" : "viewed product";
    e.occurred_ms = e.corrected_ms = 1'775'001'600'000 - i * 86'400'000LL;
    e.slot.assign(16, static_cast<uint8_t>(i % 2));
    if (i % 2 == 0) {
      e.revenue_minor = 1000 * (i + 1);
      e.currency = "EUR";
    }
    e.campaign_source = i == 1 ? "newsletter" : "";
    events.push_back(std::move(e));
  }
  if (!waymark::test::commit_events(store, std::move(events)).ok()) std::abort();
}

waymark::fuzz::CollectorFixture& fixture() {
  static waymark::fuzz::CollectorFixture f;
  static const bool seeded = (seed(*f.store), true);
  (void)seeded;
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto rule =
      waymark::collector::analytics::parse_rule_segment(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!rule.ok()) return 0;
  (void)waymark::collector::analytics::compute_segments(*fixture().store, 1'775'001'600'000, "", {rule.value()});
  return 0;
}
