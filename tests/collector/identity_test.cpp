// Identity resolution on the real SQLite store, fed events directly (no envelopes): links,
// protections, explanations, unmerge with exact recompute, erasure.
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <sodium.h>
#include <sqlite3.h>

#include "identity/rules.hpp"
#include "store/store.hpp"
#include "support/direct_store.hpp"
#include "support/postgres_support.hpp"
#include "support/test_support.hpp"

using namespace waymark::collector;
using waymark::test::TempDir;

namespace {

constexpr uint8_t kEmail = 1, kPhone = 2, kFirstName = 3, kLoyalty = 7, kAccount = 8, kDevice = 9;

Key32 key_of(const std::string& name) {
  Key32 k;
  crypto_generichash(k.data(), k.size(), reinterpret_cast<const uint8_t*>(name.data()), name.size(), nullptr, 0);
  return k;
}

struct Id {
  uint8_t kind;
  std::string name;
  bool linking = true;
};

struct Graph {
  TempDir dir;
  std::unique_ptr<Store> store;
  int64_t clock = 1'700'000'000'000;
  uint64_t counter = 0;

  std::string postgres = waymark::test::postgres_test_database().value_or("");  // else SQLite in `dir`

  explicit Graph(IdentityRules rules = {}) {
    REQUIRE(sodium_init() >= 0);
    reopen(std::move(rules));
  }
  // Closes the store (if open) and opens it again.
  void reopen(IdentityRules rules = {}) {
    store.reset();
    auto s = postgres.empty() ? open_sqlite_store(dir.path() + "/graph.db", 1000, std::move(rules))
                              : waymark::collector::open_postgres_store(postgres, std::move(rules));
    INFO(s.status().message);
    REQUIRE(s.ok());
    store = std::move(s.value());
  }

  // One batch; each inner vector is one event's identifiers. Returns the event ids.
  std::vector<Bytes> batch(const std::vector<std::vector<Id>>& events, const std::string& slot,
                           Bytes* batch_id = nullptr) {
    std::vector<Bytes> ids;
    std::vector<StoredEvent> stored;
    for (const auto& identifiers : events) {
      StoredEvent e;
      e.event_id = waymark::test::ordered_event_id(++counter);
      e.name = "view";
      e.purpose = 1;
      e.occurred_ms = e.corrected_ms = ++clock;
      const Key32 s = key_of("slot:" + slot);
      e.slot.assign(s.begin(), s.begin() + 16);
      for (const Id& id : identifiers) e.identifiers.push_back({id.kind, key_of(id.name), id.linking});
      ids.push_back(e.event_id);
      stored.push_back(std::move(e));
    }
    const auto st = waymark::test::commit_events(*store, std::move(stored), {}, batch_id, clock);
    INFO(st.message);
    REQUIRE(st.ok());
    return ids;
  }

  std::optional<int64_t> profile_of(const std::string& name) {
    const Key32 k = key_of(name);
    auto r = store->profile_of(k.data(), k.size());
    REQUIRE(r.ok());
    return r.value();
  }
  std::optional<int64_t> profile_of_slot(const std::string& slot) {
    const Key32 k = key_of("slot:" + slot);
    auto r = store->profile_of(k.data(), 16);
    REQUIRE(r.ok());
    return r.value();
  }
  bool together(const std::string& a, const std::string& b) { return profile_of(a) == profile_of(b); }

  Explanation explain(const std::string& name) {
    auto x = store->explain(*profile_of(name));
    REQUIRE(x.ok());
    REQUIRE(x.value());
    return *x.value();
  }

  // Which named identifiers share a profile: a set of sets of names.
  std::set<std::set<std::string>> partition(const std::vector<std::string>& names) {
    std::map<int64_t, std::set<std::string>> by;
    for (const auto& n : names) {
      if (auto p = profile_of(n)) by[*p].insert(n);
    }
    std::set<std::set<std::string>> out;
    for (auto& [p, s] : by) out.insert(s);
    return out;
  }
};

bool has_link(const Explanation& x, const std::string& rule, const std::string& outcome) {
  for (const auto& l : x.links) {
    if (l.rule == rule && l.outcome == outcome && !l.revoked_ms) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("identity rules: limits, strong ids, attribute kinds, config specs", "[identity]") {
  IdentityRules rules;
  CHECK(merge_refusal({{kEmail, 2}}, {{kEmail, 3}}, rules) == std::nullopt);
  CHECK(merge_refusal({{kEmail, 3}}, {{kEmail, 3}}, rules) == std::optional<std::string>("kind_limit:email"));
  CHECK(merge_refusal({{kAccount, 1}}, {{kAccount, 1}}, rules) ==
        std::optional<std::string>("strong_id_conflict:account_id"));
  CHECK(merge_refusal({{kAccount, 1}, {kEmail, 1}}, {{kEmail, 1}, {kLoyalty, 1}}, rules) == std::nullopt);
  CHECK_FALSE(IdentityRules::links(kFirstName));
  CHECK(IdentityRules::links(kEmail));
  CHECK(IdentityRules::links(kSlotKind));
  CHECK(rules.set_limit("email=2"));
  CHECK(merge_refusal({{kEmail, 2}}, {{kEmail, 1}}, rules) == std::optional<std::string>("kind_limit:email"));
  CHECK_FALSE(rules.set_limit("email=two"));
  CHECK_FALSE(rules.set_limit("shoe_size=2"));
  CHECK_FALSE(rules.set_limit("first_name=2"));  // never links, so a limit means nothing
  CHECK_FALSE(rules.set_limit("email"));

  Components c(rules);
  const size_t a = c.add(kAccount), b = c.add(kEmail), d = c.add(kAccount);
  std::string why;
  CHECK(c.link(a, b, &why) == LinkOutcome::Merged);
  CHECK(c.link(b, a, &why) == LinkOutcome::Same);
  CHECK(c.link(d, b, &why) == LinkOutcome::Refused);
  CHECK(why == "strong_id_conflict:account_id");
}

TEST_CASE("events carrying several identifiers link them into one profile, explained by the link log",
          "[identity][store]") {
  Graph g;
  g.batch({{{kDevice, "phone-1"}}}, "s1");  // anonymous browsing on a phone
  CHECK_FALSE(g.together("phone-1", "ann@example.com"));
  g.batch({{{kEmail, "ann@example.com"}, {kDevice, "phone-1"}}}, "s1");   // she logs in
  g.batch({{{kEmail, "ann@example.com"}, {kDevice, "laptop-1"}}}, "s2");  // and on her laptop
  CHECK(g.together("phone-1", "laptop-1"));
  CHECK(g.profile_of_slot("s1") == g.profile_of("laptop-1"));
  const Explanation x = g.explain("ann@example.com");
  CHECK(x.profile.nodes.size() == 5);  // email, two devices, two slots
  CHECK(x.profile.events == 3);
  CHECK(has_link(x, "co_occurrence", "merged"));
  // The merged-away profile id still answers, with the survivor.
  std::set<int64_t> seen;
  for (const auto& l : x.links) seen.insert(l.b);
  auto old = g.store->profile(1);
  REQUIRE(old.ok());
  REQUIRE(old.value());
  CHECK(old.value()->profile_id == x.profile.profile_id);
  CHECK(g.store->pending_events().value() == 0);
}

TEST_CASE("protections: strong id conflicts, per-kind limits, shared devices and blocked pseudonyms never merge",
          "[identity][store]") {
  IdentityRules rules;
  REQUIRE(rules.set_limit("email=2"));
  Graph g(rules);
  // Two accounts that share an email (a family address) stay two customers.
  g.batch({{{kAccount, "acct-1"}, {kEmail, "family@example.com"}}}, "a");
  g.batch({{{kAccount, "acct-2"}, {kEmail, "family@example.com"}}}, "b");
  CHECK_FALSE(g.together("acct-1", "acct-2"));
  CHECK(has_link(g.explain("acct-2"), "strong_id_conflict:account_id", "refused"));

  // A third email is over the (configured) limit of two.
  g.batch({{{kPhone, "+447700900001"}, {kEmail, "e1@example.com"}}}, "c");
  g.batch({{{kPhone, "+447700900001"}, {kEmail, "e2@example.com"}}}, "d");
  g.batch({{{kPhone, "+447700900001"}, {kEmail, "e3@example.com"}}}, "e");
  CHECK(g.together("e1@example.com", "e2@example.com"));
  CHECK_FALSE(g.together("e1@example.com", "e3@example.com"));
  CHECK(has_link(g.explain("e1@example.com"), "kind_limit:email", "refused"));

  // A shared kiosk's device id joins nobody; its visits stay apart.
  g.batch({{{kLoyalty, "card-1"}, {kDevice, "kiosk-7", false}}}, "visit-1");
  g.batch({{{kLoyalty, "card-2"}, {kDevice, "kiosk-7", false}}}, "visit-2");
  CHECK_FALSE(g.together("card-1", "card-2"));
  CHECK_FALSE(g.profile_of("kiosk-7"));
  CHECK(has_link(g.explain("card-1"), "shared_device", "refused"));

  // Names never link (many people are called Ann).
  g.batch({{{kFirstName, "ann"}, {kEmail, "x@example.com"}}}, "f");
  g.batch({{{kFirstName, "ann"}, {kEmail, "y@example.com"}}}, "g");
  CHECK_FALSE(g.together("x@example.com", "y@example.com"));

  // A blocked pseudonym (the brand's junk list) is never a node.
  REQUIRE(g.store->set_blocked({key_of("noemail@brand.example")}).ok());
  g.batch({{{kEmail, "noemail@brand.example"}, {kAccount, "acct-3"}}}, "h");
  g.batch({{{kEmail, "noemail@brand.example"}, {kAccount, "acct-4"}}}, "i");
  CHECK_FALSE(g.profile_of("noemail@brand.example"));
  CHECK(has_link(g.explain("acct-3"), "blocked_pseudonym", "refused"));
}

TEST_CASE("unmerge by event, batch or identifier splits the profile again, and the result is exact",
          "[identity][store]") {
  SECTION("by event") {
    Graph g;
    g.batch({{{kEmail, "a@example.com"}, {kPhone, "+447700900100"}}}, "s1");
    const auto bad = g.batch({{{kPhone, "+447700900100"}, {kEmail, "b@example.com"}}}, "s2");
    REQUIRE(g.together("a@example.com", "b@example.com"));
    auto r = g.store->unmerge({UnmergeTarget::By::Event, bad[0]}, 1);
    REQUIRE(r.ok());
    CHECK(r.value().links_revoked >= 1);
    CHECK_FALSE(g.together("a@example.com", "b@example.com"));
    CHECK(g.together("a@example.com", "+447700900100"));
    CHECK(g.together("b@example.com", "s2") == false);
    const Explanation x = g.explain("b@example.com");
    CHECK_FALSE(has_link(x, "co_occurrence", "merged"));  // the revoked link no longer explains anything
  }
  SECTION("by identifier: a shared email detached and blocked from linking again") {
    Graph g;
    g.batch({{{kDevice, "d1"}, {kEmail, "shared@example.com"}}}, "s1");
    g.batch({{{kDevice, "d2"}, {kEmail, "shared@example.com"}}}, "s2");
    REQUIRE(g.together("d1", "d2"));
    const Key32 k = key_of("shared@example.com");
    REQUIRE(g.store->unmerge({UnmergeTarget::By::Identifier, Bytes(k.begin(), k.end())}, 1).ok());
    CHECK_FALSE(g.together("d1", "d2"));
    g.batch({{{kDevice, "d3"}, {kEmail, "shared@example.com"}}}, "s3");
    CHECK_FALSE(g.together("d1", "d3"));
    CHECK_FALSE(g.together("d2", "d3"));
    auto missing = g.store->unmerge({UnmergeTarget::By::Identifier, Bytes(32, 7)}, 1);
    CHECK(missing.status().code == Errc::invalid);
  }
  SECTION("by batch, compared with a store that never saw the batch") {
    // Random graphs: unmerging a batch must give exactly the profiles of a store that never
    // received it (limits off, so the order of links cannot matter).
    IdentityRules open;
    open.limit.fill(0);
    open.strong.fill(false);
    std::mt19937 rng(42);
    for (int round = 0; round < 5; ++round) {
      Graph with(open), without(open);
      std::vector<std::string> names;
      for (int i = 0; i < 40; ++i) names.push_back("id-" + std::to_string(i));
      std::uniform_int_distribution<size_t> pick(0, names.size() - 1);
      std::vector<std::vector<std::vector<Id>>> batches;
      for (int b = 0; b < 12; ++b) {
        std::vector<std::vector<Id>> events;
        for (int e = 0; e < 2; ++e) events.push_back({{kEmail, names[pick(rng)]}, {kPhone, names[pick(rng)]}});
        batches.push_back(events);
      }
      const size_t revoked = round % batches.size();
      Bytes revoked_id;
      for (size_t b = 0; b < batches.size(); ++b) {
        const std::string slot = "slot-" + std::to_string(round) + "-" + std::to_string(b);
        if (b == revoked) {
          with.batch(batches[b], slot, &revoked_id);
        } else {
          with.batch(batches[b], slot);
          without.batch(batches[b], slot);
        }
      }
      const auto unmerged = with.store->unmerge({UnmergeTarget::By::Batch, revoked_id}, 1);
      INFO(unmerged.status().message);
      REQUIRE(unmerged.ok());
      std::vector<std::string> present;
      for (const auto& n : names) {
        if (without.profile_of(n)) present.push_back(n);
      }
      CHECK(with.partition(present) == without.partition(present));
    }
  }
}

TEST_CASE("a new identifier's link, kept in its node's row, is explained, revoked and numbered like any other",
          "[identity][store]") {
  Graph g;
  const auto browse = g.batch({{{kDevice, "phone-1"}}}, "s1");                              // s1 joins phone-1
  const auto login = g.batch({{{kEmail, "ann@example.com"}, {kDevice, "phone-1"}}}, "s1");  // ann joins phone-1
  const auto node_of = [&](const Explanation& x, const std::string& name, size_t len = 32) {
    const Key32 k = key_of(name);
    for (const auto& n : x.profile.nodes) {
      if (n.key == Bytes(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(len))) return n.node_id;
    }
    FAIL("no node " << name);
    return int64_t{0};
  };
  Explanation x = g.explain("ann@example.com");
  REQUIRE(x.links.size() == 2);
  const int64_t phone = node_of(x, "phone-1"), ann = node_of(x, "ann@example.com"), s1 = node_of(x, "slot:s1", 16);
  CHECK(x.links[0].a == s1);  // the new node is `a` when it joins the anchor...
  CHECK(x.links[0].b == phone);
  CHECK(x.links[0].event_id == browse[0]);
  CHECK(x.links[1].a == phone);  // ...and `b` when it is the anchor joining a known node
  CHECK(x.links[1].b == ann);
  CHECK(x.links[1].event_id == login[0]);
  for (const auto& l : x.links) {
    CHECK(l.rule == "co_occurrence");
    CHECK(l.outcome == "merged");
    CHECK(l.time_ms > 0);
    CHECK(l.batch_id.size() == 16);
    CHECK_FALSE(l.revoked_ms);
  }
  CHECK(x.links[0].link_id < x.links[1].link_id);
  const int64_t login_link = x.links[1].link_id;

  // A reopened store numbers new links after every id so far, also those kept in node rows.
  g.reopen();
  g.batch({{{kDevice, "tablet-1"}}}, "s3");
  CHECK(g.explain("tablet-1").links.at(0).link_id == login_link + 1);

  // Unmerging the login revokes its link where the store keeps revoked links, under the same id.
  auto r = g.store->unmerge({UnmergeTarget::By::Event, login[0]}, 77);
  REQUIRE(r.ok());
  CHECK(r.value().links_revoked == 1);
  CHECK_FALSE(g.together("ann@example.com", "phone-1"));
  x = g.explain("phone-1");
  std::set<int64_t> ids;
  bool revoked = false, browse_stands = false;
  for (const auto& l : x.links) {
    CHECK(ids.insert(l.link_id).second);
    if (l.link_id == login_link) revoked = l.revoked_ms == 77 && l.a == phone && l.b == ann;
    if (l.event_id == browse[0] && !l.revoked_ms) browse_stands = l.a == s1 && l.b == phone;
  }
  CHECK(revoked);
  CHECK(browse_stands);  // the recompute linked s1 again
}

TEST_CASE("erasure deletes the profile, its events and links, and tombstones its keys", "[identity][store]") {
  Graph g;
  g.batch({{{kEmail, "gone@example.com"}, {kDevice, "g-phone"}}, {{kDevice, "g-phone"}}}, "g1");
  g.batch({{{kEmail, "stays@example.com"}}}, "g2");
  const int64_t before = g.store->event_count().value();
  const auto p = *g.profile_of("gone@example.com");
  auto r = g.store->erase(p, 5);
  REQUIRE(r.ok());
  CHECK(r.value().profiles == 1);
  CHECK(r.value().events == 2);
  CHECK(g.store->event_count().value() == before - 2);
  CHECK_FALSE(g.profile_of("gone@example.com"));
  CHECK_FALSE(g.profile_of("g-phone"));
  CHECK(g.profile_of("stays@example.com"));
  auto again = g.store->profile(p);
  REQUIRE(again.ok());
  CHECK_FALSE(again.value());
  CHECK(g.store->erase(p, 6).value().profiles == 0);
}

TEST_CASE("a store queued before resolve inputs existed converts its queue and resolves it in order", "[identity]") {
  Graph g;
  g.batch({{{kDevice, "phone-1"}}}, "s1");
  g.batch({{{kDevice, "phone-1"}, {kEmail, "ann@example.com"}}}, "s1");
  g.batch({{{kDevice, "phone-2"}, {kEmail, "ann@example.com"}}}, "s2");
  g.batch({{{kDevice, "phone-3"}}}, "s3");
  const std::string path = g.dir.path() + "/graph.db";
  g.store.reset();
  // The queue as schema 4 wrote it: event ids only, one batch per row (here one event each).
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db,
                       "CREATE TABLE resolve_queue(seq INTEGER PRIMARY KEY, event_ids BLOB NOT NULL);"
                       "INSERT INTO resolve_queue(event_ids) SELECT event_id FROM events ORDER BY corrected_ms;"
                       "DELETE FROM resolve_inputs",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto reopened = open_sqlite_store(path, 1000, {});
  REQUIRE(reopened.ok());
  g.store = std::move(reopened.value());
  auto pending = g.store->pending_events();
  REQUIRE(pending.ok());
  CHECK(pending.value() == 4);
  CHECK(g.partition({"phone-1", "phone-2", "phone-3", "ann@example.com"}) ==
        std::set<std::set<std::string>>{{"phone-1", "phone-2", "ann@example.com"}, {"phone-3"}});
  CHECK(g.profile_of_slot("s2") == g.profile_of("ann@example.com"));
  pending = g.store->pending_events();
  REQUIRE(pending.ok());
  CHECK(pending.value() == 0);
}

// Resolution also runs on the collector's background thread. A query that finds nothing queued
// must see what that thread resolved: a query racing its commit once saw the newest customers
// missing (the queue was marked empty before the resolution committed).
TEST_CASE("a query right after a commit sees it resolved while resolution runs in the background",
          "[identity][store]") {
  Graph g;
  std::atomic<bool> stop{false};
  std::thread background([&] {
    while (!stop) {
      (void)g.store->resolve_pending(INT64_MAX);
      std::this_thread::yield();
    }
  });
  std::mt19937 rng(7);
  int64_t missing = 0;
  constexpr int kCustomers = 150;
  for (int i = 0; i < kCustomers; ++i) {
    g.batch({{{kEmail, "c" + std::to_string(i) + "@example.com"}}}, "s" + std::to_string(i));
    // Let the background thread take the commit first, at varying depths into its own transaction.
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 400));
    int64_t profiles = 0;
    REQUIRE(
        g.store->for_each_profile(INT64_MIN, INT64_MAX, [&](int64_t, const auto&) { return ++profiles, true; }).ok());
    missing += i + 1 - profiles;
  }
  stop = true;
  background.join();
  CHECK(missing == 0);
}

TEST_CASE("an analytics scan stopped early leaves the store ready for the next query", "[identity][store]") {
  Graph g;
  for (const char* device : {"scan-a", "scan-b", "scan-c"}) g.batch({{{kDevice, device}}}, device);
  int first = 0, all = 0;
  REQUIRE(g.store
              ->for_each_profile(0, INT64_MAX,
                                 [&](int64_t, const std::vector<AnalyticsEvent>&) {
                                   ++first;
                                   return false;
                                 })
              .ok());
  CHECK(first == 1);
  REQUIRE(g.store
              ->for_each_profile(0, INT64_MAX,
                                 [&](int64_t, const std::vector<AnalyticsEvent>&) {
                                   ++all;
                                   return true;
                                 })
              .ok());
  CHECK(all == 3);
  CHECK(g.store->profiles("", 10).value().ids.size() == 3);
}

TEST_CASE("a group commit whose forget resolved the queue still resolves the batches committed after it",
          "[collector][identity][store]") {
  // Found by the cluster demo: a device's forget resolves the whole queue inside the group's transaction;
  // a later batch of the same group queued new events, yet the store marked its queue empty at the
  // commit, and those events waited unresolved until some later batch arrived (on a merger: forever).
  Graph g;
  g.batch({{{kEmail, "ann@x"}}}, "ann");
  const auto batch = [&](std::vector<Bytes> forget, std::vector<Id> ids) {
    return [&g, forget = std::move(forget), ids = std::move(ids)](IngestTxn&, BatchWrite& w) -> Result<bool> {
      w.batch_id = waymark::test::ordered_event_id(++g.counter);
      randombytes_buf(w.device_key.data(), w.device_key.size());
      w.sequence = 1;
      w.received_ms = ++g.clock;
      w.receipt = {1};
      w.forget_slots = forget;
      StoredEvent e;
      e.event_id = waymark::test::ordered_event_id(++g.counter);
      e.name = "view";
      e.purpose = 1;
      e.occurred_ms = e.corrected_ms = g.clock;
      const Key32 s = key_of("slot:bob");
      e.slot.assign(s.begin(), s.begin() + 16);
      for (const Id& id : ids) e.identifiers.push_back({id.kind, key_of(id.name), true});
      w.events.push_back(std::move(e));
      return true;
    };
  };
  const Key32 gone = key_of("slot:someone");
  auto wrote = g.store->ingest_group(
      {batch({Bytes(gone.begin(), gone.begin() + 16)}, {}), batch({}, {{kEmail, "bob@x"}, {kPhone, "+447700900001"}})});
  REQUIRE(wrote.ok());
  CHECK(g.store->pending_events().value() == 1);
  auto resolved = g.store->resolve_pending(INT64_MAX);
  REQUIRE(resolved.ok());
  CHECK(resolved.value() == 1);  // was 0: the queue was marked empty
  CHECK(g.together("bob@x", "+447700900001"));
}
