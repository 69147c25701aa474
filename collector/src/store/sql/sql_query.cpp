// Queries on the reader connection, after everything committed has been resolved.
#include <algorithm>
#include <charconv>

#include "common/crypto/secure.hpp"
#include "store/sql/sql_store.hpp"

namespace waymark::collector {

using sql::Statement;

namespace {

// Journey cursor: "<corrected_ms>.<event id hex>".
bool parse_cursor(const std::string& s, int64_t* ms, Bytes* id) {
  if (s.empty()) return true;
  const size_t dot = s.find('.');
  if (dot == std::string::npos || s.size() - dot - 1 != 32) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + dot, *ms);
  if (ec != std::errc() || end != s.data() + dot) return false;
  id->resize(16);
  return detail::from_hex(std::string_view(s).substr(dot + 1), id->data(), 16);
}

}  // namespace

Result<int64_t> SqlStore::resolve_pending(int64_t max_events) {
  if (read_only_) return int64_t{0};  // the merger resolves; a query node answers from what it has
  // Transactions of a few thousand events: ingest gets the writer lock in between.
  int64_t total = 0;
  while (queued_ && total < max_events) {
    auto r = in_write_txn([&] { return resolve_locked(std::min<int64_t>(max_events - total, 250000)); });
    if (!r.ok()) return r;  // rolled back: the queue is as it was, and still marked
    total += r.value();
  }
  return total;
}

// Counted as transactions commit (a sum over the queue took a twenty-fifth of a busy collector's time).
Result<int64_t> SqlStore::pending_events() {
  return pending_.load();
}

Result<std::optional<Profile>> SqlStore::profile(int64_t profile_id) {
  resolve_for_query();
  std::lock_guard lock(reader_.mu);
  auto current = current_profile(profile_id, reader_);
  if (!current.ok()) return current.status();
  if (current.value() == 0) return std::optional<Profile>{};
  Profile p;
  p.profile_id = current.value();
  auto nodes = nodes_of(p.profile_id, reader_);
  if (!nodes.ok()) return nodes.status();
  p.nodes = std::move(nodes.value());
  Status s;
  Use st = reader_.prepare(
      "SELECT (SELECT created_ms FROM profiles WHERE profile_id = ?1), count(*), min(e.corrected_ms), "
      "max(e.corrected_ms), CAST(coalesce(sum(e.revenue_minor), 0) AS BIGINT) FROM nodes n "
      "JOIN event_anchor a ON a.node_id = n.node_id JOIN events e ON e.event_id = a.event_id WHERE n.profile = ?1",
      &s);
  Use currencies = reader_.prepare(
      "SELECT DISTINCT e.currency FROM nodes n JOIN event_anchor a ON a.node_id = n.node_id JOIN events e ON "
      "e.event_id = a.event_id WHERE n.profile = ?1 AND e.currency IS NOT NULL ORDER BY e.currency",
      &s);
  if (st == nullptr || currencies == nullptr) return s;
  st->bind(1, p.profile_id);
  int rc = st->step();
  if (rc != sql::kRow) return reader_.error(rc, "profiles");
  p.created_ms = st->int64(0);
  p.events = st->int64(1);
  p.first_seen_ms = st->int64(2);
  p.last_seen_ms = st->int64(3);
  p.revenue_minor = st->int64(4);
  currencies->bind(1, p.profile_id);
  while ((rc = currencies->step()) == sql::kRow) p.currencies.emplace_back(currencies->blob(0));
  if (rc != sql::kDone) return reader_.error(rc, "profiles");
  return std::optional<Profile>(std::move(p));
}

Result<std::optional<int64_t>> SqlStore::profile_of(const uint8_t* key, size_t len) {
  resolve_for_query();
  std::lock_guard lock(reader_.mu);
  Status s;
  Use st = reader_.prepare("SELECT profile FROM nodes WHERE key = ?1", &s);
  if (st == nullptr) return s;
  st->bind(1, key, len);
  const int rc = st->step();
  if (rc == sql::kDone) return std::optional<int64_t>{};
  if (rc != sql::kRow) return reader_.error(rc, "nodes");
  const int64_t id = st->int64(0);
  st->reset();
  return std::optional<int64_t>(id);
}

Result<std::optional<DeviceSlot>> SqlStore::device_slot(const Key32& device_key, const Bytes& slot) {
  resolve_for_query();
  std::lock_guard lock(reader_.mu);
  Status s;
  Use st = reader_.prepare(
      "SELECT n.profile, (SELECT granted FROM consent_state c WHERE c.slot = e.slot AND c.purpose = 2) FROM events e "
      "JOIN event_anchor a ON a.event_id = e.event_id JOIN nodes n ON n.node_id = a.node_id "
      "WHERE e.slot = ?1 AND e.device_key = ?2 ORDER BY e.corrected_ms DESC LIMIT 1",
      &s);
  if (st == nullptr) return s;
  st->bind(1, slot.data(), slot.size()).bind(2, device_key.data(), device_key.size());
  const int rc = st->step();
  if (rc == sql::kDone) return std::optional<DeviceSlot>{};
  if (rc != sql::kRow) return reader_.error(rc, "events");
  DeviceSlot d{st->int64(0), st->int64(1) == 1};
  st->reset();
  // Entitled: no other device's event is in the profile, or this device proved one of its identifiers.
  Use check = reader_.prepare(
      "SELECT NOT EXISTS (SELECT 1 FROM nodes n JOIN event_anchor a ON a.node_id = n.node_id JOIN events e ON "
      "e.event_id = a.event_id WHERE n.profile = ?1 AND e.device_key != ?2) OR EXISTS (SELECT 1 FROM nodes n JOIN "
      "verified_claims v ON v.node_id = n.node_id WHERE n.profile = ?1 AND v.device_key = ?2)",
      &s);
  if (check == nullptr) return s;
  check->bind(1, d.profile).bind(2, device_key.data(), device_key.size());
  if (const int c = check->step(); c != sql::kRow) return reader_.error(c, "nodes");
  d.entitled = check->int64(0) != 0;
  check->reset();
  return std::optional<DeviceSlot>(d);
}

Result<ProfilePage> SqlStore::profiles(const std::string& after, int limit) {
  int64_t from = 0;
  if (!after.empty()) {
    const auto [end, ec] = std::from_chars(after.data(), after.data() + after.size(), from);
    if (ec != std::errc() || end != after.data() + after.size()) return Error(Errc::invalid, "bad cursor");
  }
  resolve_for_query();
  std::lock_guard lock(reader_.mu);
  Status s;
  Use st = reader_.prepare(
      "SELECT profile_id FROM profiles WHERE profile_id > ?1 AND merged_into IS NULL ORDER BY profile_id LIMIT ?2", &s);
  if (st == nullptr) return s;
  st->bind(1, from).bind(2, limit + 1);
  ProfilePage page;
  int rc;
  while ((rc = st->step()) == sql::kRow) page.ids.push_back(st->int64(0));
  st->reset();
  if (rc != sql::kDone) return reader_.error(rc, "profiles");
  if (page.ids.size() > static_cast<size_t>(limit)) {
    page.ids.pop_back();
    page.next = std::to_string(page.ids.back());
  }
  return page;
}

Result<JourneyPage> SqlStore::journey(int64_t profile_id, const std::string& after, int limit) {
  int64_t after_ms = INT64_MIN;
  Bytes after_id(16, 0);
  if (!parse_cursor(after, &after_ms, &after_id)) return Error(Errc::invalid, "bad cursor");
  resolve_for_query();
  std::lock_guard lock(reader_.mu);
  auto current = current_profile(profile_id, reader_);
  if (!current.ok()) return current.status();
  Status s;
  Use st = reader_.prepare(
      "SELECT e.event_id, e.batch_id, e.type, e.channel, e.purpose, e.name, e.occurred_ms, e.corrected_ms, "
      "e.revenue_minor, e.currency, e.campaign_source, e.campaign_medium, e.campaign_name, a.node_id, "
      "e.campaign_content, e.properties, b.app_id, b.platform, b.sdk_version, b.device_model, b.os_version FROM nodes "
      "n "
      "JOIN event_anchor a ON a.node_id = n.node_id JOIN events e ON e.event_id = a.event_id "
      "LEFT JOIN batches b ON b.batch_id = e.batch_id WHERE n.profile = ?1 "
      "AND (e.corrected_ms > ?2 OR (e.corrected_ms = ?2 AND e.event_id > ?3)) ORDER BY e.corrected_ms, e.event_id "
      "LIMIT ?4",
      &s);
  if (st == nullptr) return s;
  st->bind(1, current.value()).bind(2, after_ms).bind(3, after_id.data(), after_id.size()).bind(4, limit + 1);
  JourneyPage page;
  int rc;
  while ((rc = st->step()) == sql::kRow) {
    Touchpoint t;
    t.event_id = bytes_of(st->blob(0));
    t.batch_id = bytes_of(st->blob(1));
    t.type = static_cast<uint8_t>(st->int64(2));
    t.channel = static_cast<uint8_t>(st->int64(3));
    t.purpose = static_cast<uint8_t>(st->int64(4));
    t.name = std::string(st->blob(5));
    t.occurred_ms = st->int64(6);
    t.corrected_ms = st->int64(7);
    if (!st->is_null(8)) t.revenue_minor = st->int64(8);
    t.currency = std::string(st->blob(9));
    t.campaign_source = std::string(st->blob(10));
    t.campaign_medium = std::string(st->blob(11));
    t.campaign_name = std::string(st->blob(12));
    t.anchor_node = st->int64(13);
    t.campaign_content = std::string(st->blob(14));
    t.properties = std::string(st->blob(15));
    t.source = {std::string(st->blob(16)), std::string(st->blob(17)), std::string(st->blob(18)),
                std::string(st->blob(19)), std::string(st->blob(20))};
    page.items.push_back(std::move(t));
  }
  st->reset();
  if (rc != sql::kDone) return reader_.error(rc, "journey");
  if (page.items.size() > static_cast<size_t>(limit)) {
    page.items.pop_back();
    const Touchpoint& last = page.items.back();
    page.next = std::to_string(last.corrected_ms) + "." + detail::to_hex(last.event_id.data(), last.event_id.size());
  }
  return page;
}

Result<std::optional<Explanation>> SqlStore::explain(int64_t profile_id) {
  auto p = profile(profile_id);
  if (!p.ok() || !p.value())
    return p.ok() ? std::optional<Explanation>{} : Result<std::optional<Explanation>>(p.status());
  Explanation x;
  x.profile = std::move(*p.value());
  std::lock_guard lock(reader_.mu);
  Status s;
  std::set<int64_t> seen;
  for (const ProfileNode& n : x.profile.nodes) {
    for (const char* sql : {"SELECT link_id, a, b, event_id, batch_id, time_ms, rule, outcome, revoked_ms FROM "
                            "link_log WHERE a = ?1",
                            "SELECT link_id, a, b, event_id, batch_id, time_ms, rule, outcome, revoked_ms FROM "
                            "link_log WHERE b = ?1",
                            "SELECT link_id, a, b, event_id, batch_id, time_ms, rule, outcome, revoked_ms FROM "
                            "node_links WHERE node_id = ?1"}) {
      Use st = reader_.prepare(sql, &s);
      if (st == nullptr) return s;
      st->bind(1, n.node_id);
      int rc;
      while ((rc = st->step()) == sql::kRow) {
        if (!seen.insert(st->int64(0)).second) continue;
        LinkRecord l;
        l.link_id = st->int64(0);
        if (!st->is_null(1)) l.a = st->int64(1);
        l.b = st->int64(2);
        l.event_id = bytes_of(st->blob(3));
        l.batch_id = bytes_of(st->blob(4));
        l.time_ms = st->int64(5);
        l.rule = std::string(st->blob(6));
        l.outcome = std::string(st->blob(7));
        if (!st->is_null(8)) l.revoked_ms = st->int64(8);
        x.links.push_back(std::move(l));
      }
      st->reset();
      if (rc != sql::kDone) return reader_.error(rc, "link log");
    }
  }
  std::sort(x.links.begin(), x.links.end(),
            [](const LinkRecord& a, const LinkRecord& b) { return a.link_id < b.link_id; });
  return std::optional<Explanation>(std::move(x));
}

Status SqlStore::for_each_profile(int64_t from_ms, int64_t to_ms,
                                  const std::function<bool(int64_t, const std::vector<AnalyticsEvent>&)>& fn) {
  resolve_for_query();
  std::lock_guard lock(reader_.mu);
  Status s;
  Use st = reader_.prepare_scan(
      "SELECT n.profile, e.corrected_ms, e.type, e.channel, e.revenue_minor, e.currency, e.campaign_source, "
      "e.campaign_medium, e.campaign_name, e.name, e.properties, b.platform FROM events e "
      "JOIN event_anchor a ON a.event_id = e.event_id LEFT JOIN batches b ON b.batch_id = e.batch_id "
      "JOIN nodes n ON n.node_id = a.node_id WHERE e.corrected_ms >= ?1 AND e.corrected_ms < ?2 AND NOT EXISTS "
      "(SELECT 1 FROM consent_state c WHERE c.slot = e.slot AND c.purpose = 1 AND c.granted = 0) "
      "ORDER BY n.profile, e.corrected_ms, e.event_id",
      &s);
  if (st == nullptr) return s;
  st->bind(1, from_ms).bind(2, to_ms);
  std::vector<AnalyticsEvent> events;
  int64_t current = 0;
  int rc;
  while ((rc = st->step()) == sql::kRow) {
    const int64_t profile = st->int64(0);
    if (profile != current && !events.empty()) {
      if (!fn(current, events)) return Status::Ok();
      events.clear();
    }
    current = profile;
    AnalyticsEvent e;
    e.time_ms = st->int64(1);
    e.type = static_cast<uint8_t>(st->int64(2));
    e.channel = static_cast<uint8_t>(st->int64(3));
    if (!st->is_null(4)) e.revenue_minor = st->int64(4);
    e.currency = std::string(st->blob(5));
    e.campaign_source = std::string(st->blob(6));
    e.campaign_medium = std::string(st->blob(7));
    const std::string name(st->blob(8));
    if (!e.campaign_source.empty() || !e.campaign_medium.empty() || !name.empty()) {
      e.campaign = e.campaign_source + " / " + e.campaign_medium + " / " + name;
    }
    e.name = std::string(st->blob(9));
    e.properties = std::string(st->blob(10));
    e.platform = std::string(st->blob(11));
    events.push_back(std::move(e));
  }
  if (rc != sql::kDone) return reader_.error(rc, "events");
  if (!events.empty()) fn(current, events);
  return Status::Ok();
}

}  // namespace waymark::collector
