// Scale-out (issue 21): stateless ingest nodes publish verified batches to NATS JetStream, one merger
// commits them. These tests start a real nats-server (JetStream, a temp store, loopback) and check what
// the design rests on: JetStream drops a resend of one batch id, a message the merger never acked comes
// back, a device is answered only once its batch is queued, and a merger that stops and another that
// takes over store every event exactly once, in order.
#include <catch2/catch.hpp>

#include <libpq-fe.h>

#include <chrono>
#include <csignal>
#include <regex>
#include <thread>

#include "cluster/lag_watch.hpp"
#include "cluster/merger.hpp"
#include "ingest/queued_batch.hpp"
#include "queue/jetstream.hpp"
#include "nats_process.hpp"
#include "support/raw_device.hpp"

using namespace waymark::test;
using demo::NatsCluster;
using demo::NatsServer;
namespace wc = waymark::collector;
namespace q = waymark::collector::queue;

namespace {

std::vector<uint8_t> bytes(const std::string& s) {
  return {s.begin(), s.end()};
}

std::string text(std::span<const uint8_t> b) {
  return {b.begin(), b.end()};
}

q::StreamConfig stream_config(const NatsServer& nats) {
  q::StreamConfig c;
  c.servers = nats.url();
  c.publish_wait_ms = 1000;
  return c;
}

template <class Done>
bool eventually(Done done, int seconds = 20) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

int64_t rejected(const wc::Metrics& metrics, const std::string& reason) {
  std::smatch m;
  const std::string text = metrics.prometheus();
  const std::regex line("waymark_rejected_total\\{reason=\"" + reason + "\"\\} ([0-9]+)");
  return std::regex_search(text, m, line) ? std::stoll(m[1]) : 0;
}

// The merger's queue lag as /metrics shows it; -1 when the gauge is absent (unknown).
int64_t queue_lag(const wc::Metrics& metrics) {
  std::smatch m;
  const std::string text = metrics.prometheus();
  return std::regex_search(text, m, std::regex("\nwaymark_queue_lag_messages ([0-9]+)\n")) ? std::stoll(m[1]) : -1;
}

// An ingest node in front of `collector`'s keys: verifies, publishes, answers "queued".
struct IngestNode {
  wc::Metrics metrics;
  wc::Ingest ingest;
  wc::Server server;
  IngestNode(q::JetStream& js, const Collector& c)
      : ingest(js, {c.key}, c.rekey.data(), metrics), server(port_zero(), ingest, metrics) {
    REQUIRE(server.start().ok());
  }
  static wc::ServerConfig port_zero() {
    wc::ServerConfig config;
    config.port = 0;
    return config;
  }
};

// What most of these tests stand on: a collector (the merger's store and decide stage, and its query
// side), a private NATS server, the stream on it, and an ingest node in front of the collector's keys.
struct Rig {
  Collector collector;
  NatsServer nats{collector.dir.path() + "/nats"};
  std::unique_ptr<q::JetStream> js = connected(nats);
  IngestNode node{*js, collector};

  static std::unique_ptr<q::JetStream> connected(const NatsServer& nats) {
    auto js = q::JetStream::connect(stream_config(nats));
    INFO(js.status().message);
    REQUIRE(js.ok());
    return std::move(js.value());
  }
};

}  // namespace

TEST_CASE("batch queue: a resent batch id is stored once, an unacked message comes back, an acked one never",
          "[collector][jetstream]") {
  TempDir dir;
  NatsServer nats(dir.path());
  auto js = q::JetStream::connect(stream_config(nats));
  INFO(js.status().message);
  REQUIRE(js.ok());
  auto first = js.value()->publish("batch-a", bytes("one"));
  auto resent = js.value()->publish("batch-a", bytes("one"));
  auto second = js.value()->publish("batch-b", bytes("two"));
  REQUIRE((first.ok() && resent.ok() && second.ok()));
  CHECK_FALSE(first->duplicate);
  CHECK(resent->duplicate);
  CHECK(second->sequence == first->sequence + 1);

  auto consumer = q::Consumer::open(*js.value(), "merger", 300);
  REQUIRE(consumer.ok());
  auto got = consumer.value()->fetch(10, 2000);
  REQUIRE(got.ok());
  REQUIRE(got->size() == 2);  // in order, the resend not among them
  CHECK(text(got->at(0)->data()) == "one");
  CHECK(got->at(0)->msg_id() == "batch-a");
  CHECK(text(got->at(1)->data()) == "two");
  CHECK(got->at(1)->delivered() == 1);
  REQUIRE(consumer.value()->ack(*got->at(0)).ok());  // the second is never acked: the merger "died"

  auto again = consumer.value()->fetch(10, 3000);
  REQUIRE(again.ok());
  REQUIRE(again->size() == 1);
  CHECK(text(again->at(0)->data()) == "two");
  CHECK(again->at(0)->delivered() == 2);
  REQUIRE(consumer.value()->ack(*again->at(0)).ok());
  auto none = consumer.value()->fetch(10, 600);
  REQUIRE(none.ok());
  CHECK(none->empty());
  auto state = consumer.value()->state();
  INFO(state.status().message);
  REQUIRE(state.ok());
  CHECK(state->lag() == 0);
}

TEST_CASE("batch queue: without a server nothing is queued (queue_unavailable), after its restart it is again",
          "[collector][jetstream]") {
  TempDir dir;
  NatsServer nats(dir.path());
  auto js = q::JetStream::connect(stream_config(nats));
  REQUIRE(js.ok());
  REQUIRE(js.value()->publish("before", bytes("kept")).ok());
  nats.stop();
  auto lost = js.value()->publish("during", bytes("refused"));
  REQUIRE_FALSE(lost.ok());
  CHECK(lost.status().code == wc::Errc::queue_unavailable);
  nats.start();  // same store: the stream and its first message survive
  CHECK(eventually([&] { return js.value()->publish("after", bytes("queued")).ok(); }));
  auto consumer = q::Consumer::open(*js.value(), "merger", 30000);
  REQUIRE(consumer.ok());
  auto got = consumer.value()->fetch(10, 2000);
  REQUIRE(got.ok());
  REQUIRE(got->size() == 2);
  CHECK(text(got->at(0)->data()) == "kept");
  CHECK(text(got->at(1)->data()) == "queued");
}

TEST_CASE(
    "ingest node and merger: devices are answered once their batch is queued, a merger that stops and one "
    "that takes over store every event once, in order",
    "[collector][jetstream][store]") {
  Rig rig;
  auto& [collector, nats, js, node] = rig;
  auto merger = std::make_unique<wc::Merger>(*js, *collector.ingest, collector.metrics);
  REQUIRE(merger->start().ok());

  constexpr int kDevices = 6, kBatches = 8, kEvents = 20;
  std::vector<RawDevice> devices(kDevices);
  std::vector<std::vector<uint8_t>> sent;  // every sealed batch, to resend later
  const waymark::detail::TrustedKeys trusted = {{collector.key.key_id, collector.public_key}};
  const auto send = [&](RawDevice& d, const std::vector<std::vector<uint8_t>>& events) {
    std::array<uint8_t, 16> batch_id{};
    sent.push_back(d.seal(collector, events, &batch_id));
    const Reply r = request(node.server.port(), http::verb::post, "/v1/batches", sent.back());
    REQUIRE(r.status == 200);
    auto receipt =
        waymark::detail::verify_receipt(reinterpret_cast<const uint8_t*>(r.body.data()), r.body.size(), trusted);
    REQUIRE(receipt.ok());  // signed by the collector's key, for this batch, counting what was queued
    CHECK(receipt->batch_id == batch_id);
    CHECK(receipt->accepted == events.size());
  };
  for (auto& d : devices) send(d, {d.grant()});
  for (int b = 0; b < kBatches; ++b) {
    if (b == kBatches / 2) merger->stop();  // batches keep being queued while no merger runs
    for (auto& d : devices) {
      std::vector<std::vector<uint8_t>> events;
      for (int e = 0; e < kEvents; ++e) events.push_back(d.event("view"));
      send(d, events);
    }
  }
  const int64_t expected = kDevices * (1 + kBatches * kEvents);
  CHECK(collector.events() < expected);  // half of them wait on the stream
  merger = std::make_unique<wc::Merger>(*js, *collector.ingest, collector.metrics);
  REQUIRE(merger->start().ok());
  CHECK(eventually([&] { return collector.events() == expected; }));

  // Everything again: resends inside JetStream's window are dropped by the server; the same messages
  // committed a second time (a merger that died after its commit, before its acks) add nothing.
  for (const auto& sealed : sent)
    CHECK(request(node.server.port(), http::verb::post, "/v1/batches", sealed).status == 200);
  auto replay = q::Consumer::open(*js, "replay-from-start", 30000);
  REQUIRE(replay.ok());
  size_t replayed = 0;
  for (;;) {
    auto got = replay.value()->fetch(64, 1000);
    REQUIRE(got.ok());
    if (got->empty()) break;
    std::vector<std::span<const uint8_t>> messages;
    for (const auto& d : got.value()) messages.push_back(d->data());
    auto fresh = collector.ingest->commit_queued(messages);
    REQUIRE(fresh.ok());
    CHECK(fresh.value() == 0);
    replayed += got->size();
  }
  CHECK(replayed == sent.size());  // the stream holds each batch once
  CHECK(collector.events() == expected);
  merger->stop();
  CHECK(merger->committed() > 0);
}

TEST_CASE("a merger that died with batches taken and unacked: the next one decides them before anything newer",
          "[collector][jetstream][store]") {
  Rig rig;
  auto& [collector, nats, js, node] = rig;
  wc::MergerOptions options;
  options.ack_wait_ms = 800;
  RawDevice device;
  const auto send = [&](const std::vector<std::vector<uint8_t>>& events) {
    REQUIRE(request(node.server.port(), http::verb::post, "/v1/batches", device.seal(collector, events)).status == 200);
  };
  send({device.grant()});  // the consent every later event needs
  send({device.event("first")});
  {  // the dead merger: took both, committed and acked nothing
    auto dead = q::Consumer::open(*js, options.durable, options.ack_wait_ms);
    REQUIRE(dead.ok());
    auto taken = dead.value()->fetch(10, 2000);
    REQUIRE(taken.ok());
    REQUIRE(taken->size() == 2);
  }
  for (int b = 0; b < 5; ++b) send({device.event("later"), device.event("later")});
  wc::Merger next(*js, *collector.ingest, collector.metrics, options);
  const auto started = next.start();
  INFO(started.message);
  REQUIRE(started.ok());
  // While it waits for the redelivery its lag says so (found by `waymark-demo --faults`: it said 0, and
  // whoever waited for lag 0 read a store missing most of the queue).
  const auto lag = [&] { return queue_lag(collector.metrics); };
  const auto waiting_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(400);
  while (lag() != 7 && std::chrono::steady_clock::now() < waiting_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(lag() == 7);  // 2 taken by the dead merger, 5 never delivered
  CHECK(collector.events() == 0);
  CHECK(eventually([&] { return collector.events() == 1 + 1 + 10; }));
  CHECK(rejected(collector.metrics, "no_consent") == 0);  // consent was decided first
  CHECK(rejected(collector.metrics, "sequence_not_increasing") == 0);
}

TEST_CASE("a merger's lag follows the queue while it waits, and is unknown, never a stale 0, while the queue is away",
          "[collector][jetstream][store]") {
  Rig rig;
  auto& [collector, nats, js, node] = rig;
  wc::MergerOptions options;
  options.idle_wait_ms = 4000;  // it waits 4.5 s before its first fetch (a predecessor's last one)
  wc::Merger merger(*js, *collector.ingest, collector.metrics, options);
  CHECK(queue_lag(collector.metrics) == -1);  // unknown before it asked
  REQUIRE(merger.start().ok());
  CHECK(eventually([&] { return queue_lag(collector.metrics) == 0; }, 2));
  // Batches arrive while it waits (found by `waymark-demo --faults`: a merger that took over when the
  // queue was empty said 0 through its whole wait, and the demo read an empty store as caught up).
  RawDevice device;
  for (int b = 0; b < 3; ++b) {
    REQUIRE(request(node.server.port(), http::verb::post, "/v1/batches",
                    device.seal(collector, {device.grant(), device.event("waiting")}))
                .status == 200);
  }
  CHECK(eventually([&] { return queue_lag(collector.metrics) == 3; }, 2));
  CHECK(collector.events() == 0);  // still waiting: the lag is not the commits' doing
  nats.freeze();
  merger.refresh_lag();  // as a scrape does
  CHECK(queue_lag(collector.metrics) == -1);
  CHECK(merger.note() == " (queue lag: unknown)");
  nats.thaw();
  CHECK(eventually([&] { return queue_lag(collector.metrics) == 0 && collector.events() == 6; }));
}

TEST_CASE("the queue's store on disk holds no SDK pseudonym: queued batches are sealed with the collector's key",
          "[collector][jetstream]") {
  Rig rig;
  auto& [collector, nats, js, node] = rig;
  RawDevice device;
  const auto ids = random_identifiers(2, WAYMARK_ID_EMAIL);
  std::array<uint8_t, 16> batch_id{};
  const auto sealed = device.seal(collector, {device.grant(), device.event("login", ids)}, &batch_id);
  REQUIRE(request(node.server.port(), http::verb::post, "/v1/batches", sealed).status == 200);
  nats.stop();  // every write of the stream on disk
  const std::string store = collector.dir.path() + "/nats";
  // The scan sees the stream: the message's id (the batch id in hex, a header) is there in the clear.
  CHECK(any_file_contains(store, waymark::detail::to_hex(batch_id.data(), batch_id.size())));
  for (const auto& id : ids) {
    const std::string pseudonym(id.pseudonym.begin(), id.pseudonym.end());
    CHECK_FALSE(any_file_contains(store, pseudonym));
    CHECK_FALSE(any_file_contains(store, waymark::detail::to_hex(id.pseudonym.data(), id.pseudonym.size())));
  }
  CHECK_FALSE(any_file_contains(store, std::string(device.pk.begin(), device.pk.end())));
}

TEST_CASE(
    "a message on the queue that the collector's roles did not seal is refused, counted and never blocks "
    "the batches behind it",
    "[collector][jetstream]") {
  Rig rig;
  auto& [collector, nats, js, node] = rig;
  RawDevice device;
  // Someone on the NATS network publishes to the subject: junk, then a batch they opened themselves.
  REQUIRE(js->publish("forged-1", bytes("not a queued batch")).ok());
  waymark::collector::QueuedBatch forged;
  forged.key_id = collector.key.key_id;
  waymark::collector::Key32 wrong_key{};
  REQUIRE(js->publish("forged-2", waymark::collector::seal_queued_batch(forged, wrong_key.data())).ok());
  REQUIRE(request(node.server.port(), http::verb::post, "/v1/batches",
                  device.seal(collector, {device.grant(), device.event("real")}))
              .status == 200);
  wc::Merger merger(*js, *collector.ingest, collector.metrics);
  REQUIRE(merger.start().ok());
  CHECK(eventually([&] { return collector.events() == 2; }));
  CHECK(rejected(collector.metrics, "malformed_queued_batch") == 2);
}

TEST_CASE(
    "back-pressure: an ingest node answers 503 while the merger is more than max-queue-lag behind, and "
    "accepts again once it caught up",
    "[collector][jetstream]") {
  Rig rig;
  auto& [collector, nats, js, node] = rig;
  wc::MergerOptions options;
  wc::LagWatch watch(*js, options.durable, 3, node.metrics);
  CHECK(queue_lag(node.metrics) == -1);  // unknown until polled
  CHECK(watch.note() == " (queue lag: unknown)");
  const auto poll = [&] {  // as the ingest node's background tick does
    const bool ok = watch.poll().ok();
    node.ingest.set_queue_lagging(watch.over());
    return ok;
  };
  RawDevice device;
  const auto send = [&] {
    return request(node.server.port(), http::verb::post, "/v1/batches", device.seal(collector, {device.grant()}));
  };
  for (int b = 0; b < 4; ++b) REQUIRE(send().status == 200);  // no merger yet: 4 batches wait
  REQUIRE(poll());
  CHECK(watch.lag() == 4);
  CHECK(queue_lag(node.metrics) == 4);
  CHECK(watch.note() == " (queue lag: 4 batches)");
  nats.freeze();  // the queue does not answer: the lag is unknown, the push-back stays as last known
  CHECK_FALSE(poll());
  CHECK(queue_lag(node.metrics) == -1);
  CHECK(watch.note() == " (queue lag: unknown)");
  CHECK(watch.over());
  nats.thaw();
  const Reply refused = send();
  CHECK(refused.status == 503);
  CHECK(refused.retry_after == "5");
  CHECK(rejected(node.metrics, "queue_lagging") == 1);

  wc::Merger merger(*js, *collector.ingest, collector.metrics, options);
  REQUIRE(merger.start().ok());
  CHECK(eventually([&] { return poll() && watch.lag() == 0; }));
  CHECK(send().status == 200);
  CHECK(eventually([&] { return merger.note() == " (queue lag: 0 batches, 0 s)" && collector.events() == 5; }));
}

TEST_CASE(
    "three NATS nodes, queue-replicas 3: each node in turn killed with -9 while batches are queued, then "
    "brought back, loses none of them",
    "[collector][jetstream]") {
  Collector collector;
  NatsCluster nats(collector.dir.path() + "/nats");
  q::StreamConfig config;
  config.servers = nats.urls();
  config.replicas = 3;
  config.publish_wait_ms = 2000;
  auto connected = q::JetStream::connect(config);  // waits while the nodes elect their leaders
  INFO(connected.status().message);
  REQUIRE(connected.ok());
  auto js = std::move(connected.value());
  IngestNode node(*js, collector);
  wc::Merger merger(*js, *collector.ingest, collector.metrics);
  REQUIRE(merger.start().ok());
  std::vector<RawDevice> devices(4);
  int64_t expected = 0;
  const auto send = [&](RawDevice& d, const std::vector<std::vector<uint8_t>>& events) {
    const auto sealed = d.seal(collector, events);
    // As a device does: a 503 (no JetStream leader for a moment) is sent again, the same bytes.
    CHECK(
        eventually([&] { return request(node.server.port(), http::verb::post, "/v1/batches", sealed).status == 200; }));
    expected += static_cast<int64_t>(events.size());
  };
  for (auto& d : devices) send(d, {d.grant()});
  for (int b = 0; b < 18; ++b) {  // whichever node leads the stream, or holds a connection, dies once
    if (b % 6 == 2) nats.node(b / 6).stop(SIGKILL);
    if (b % 6 == 4) nats.node(b / 6).start();
    for (auto& d : devices) send(d, {d.event("view"), d.event("view"), d.event("view")});
  }
  CHECK(eventually([&] { return collector.events() == expected; }, 60));
  CHECK(rejected(collector.metrics, "sequence_not_increasing") == 0);
  CHECK(rejected(collector.metrics, "no_consent") == 0);
}

// Found by `make soak-cluster`: PostgreSQL restarted, the active merger's session (and with it its
// advisory lock) was cut, and the standby took the lock first. The old merger went on retrying its
// commit ("unreachable") for ever, listening and healthy to every probe. Now its store answers
// store_busy, and the merger stops, acks nothing and says it was deposed (its process exits 1).
TEST_CASE("a merger whose store was taken over while its connection was cut stops, and its batches go to the new one",
          "[.postgres][collector][jetstream]") {
  Rig rig;
  auto& [collector, nats, js, node] = rig;
  REQUIRE_FALSE(collector.postgres.empty());
  wc::MergerOptions options;
  options.ack_wait_ms = 1000;
  wc::Merger old(*js, *collector.ingest, collector.metrics, options);
  REQUIRE(old.start().ok());
  RawDevice device;
  const auto send = [&](const std::vector<std::vector<uint8_t>>& events) {
    REQUIRE(request(node.server.port(), http::verb::post, "/v1/batches", device.seal(collector, events)).status == 200);
  };
  send({device.grant(), device.event("before")});
  REQUIRE(eventually([&] { return collector.events() == 2; }));

  // Its session ends (as in a restart), and the standby's store takes the lock before it reconnects.
  PGconn* admin = PQconnectdb(collector.postgres.c_str());
  PQclear(PQexec(admin,
                 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND "
                 "pid <> pg_backend_pid()"));
  PQfinish(admin);
  auto taken = wc::open_postgres_store(collector.postgres);
  INFO(taken.status().message);
  REQUIRE(taken.ok());
  send({device.event("after")});
  CHECK(eventually([&] { return old.deposed(); }));
  old.stop();

  // The standby decides what the deposed one took and never acked.
  wc::Metrics metrics;
  wc::Ingest decide(*taken.value(), {collector.key}, collector.rekey.data(), metrics);
  wc::Merger next(*js, decide, metrics, options);
  REQUIRE(next.start().ok());
  CHECK(eventually([&] { return taken.value()->event_count().value() == 3; }));
  CHECK(rejected(metrics, "sequence_not_increasing") == 0);
}
