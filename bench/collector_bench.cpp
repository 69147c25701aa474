// Collector ingest on one core with SQLite: 300k events in batches of 500 with 3 identifiers each (long
// enough for checkpoints to reach their steady state), against a same-run floor of open + verify + a
// plain SQLite insert of the same rows, with the store's page size, page cache and checkpoint interval.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <sodium.h>
#include <sqlite3.h>

#include "consent/ledger.hpp"
#include "ingest/ingest.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "waymark/wire/v1/batch_generated.h"
#include "wire/envelope.hpp"
#include "wire/event_codec.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace waymark::detail;
namespace wc = waymark::collector;

namespace {

constexpr int kBatches = 600;
constexpr int kPerBatch = 500;

std::vector<std::vector<uint8_t>> make_envelopes(const uint8_t* device_sk, const uint8_t* device_pk,
                                                 const uint8_t* collector_pk) {
  std::array<uint8_t, 16> slot{};
  randombytes_buf(slot.data(), slot.size());
  ConsentState state;
  const ConsentRecord grant = append_consent(state, slot, WAYMARK_PURPOSE_ANALYTICS, true, 1, "v1", device_sk);
  std::vector<std::vector<uint8_t>> out;
  for (int b = 0; b < kBatches; ++b) {
    std::vector<std::vector<uint8_t>> events;
    for (int i = 0; i < kPerBatch; ++i) {
      EventDraft d;
      EventStamp st;
      randombytes_buf(st.id.data(), 16);
      st.id[0] = static_cast<uint8_t>(b >> 8);  // roughly time-ordered, as UUIDv7 ids are
      st.id[1] = static_cast<uint8_t>(b);
      st.sequence = static_cast<uint64_t>(b * kPerBatch + i + 1);
      st.slot = slot;
      st.consent_head = state.head;
      if (b == 0 && i == 0) {
        d = consent_draft();
        st.consent = &grant;
        st.device_public_key = device_pk;
      } else {
        d.name = "product_view";
        d.channel = WAYMARK_CHANNEL_APP;
        d.properties = {{"sku", Property::Kind::String, "SKU-" + std::to_string(i % 300)}};
        st.identifiers.resize(3);
        for (int k = 0; k < 3; ++k) {
          st.identifiers[static_cast<size_t>(k)].kind = static_cast<uint8_t>(k + 1);
          randombytes_buf(st.identifiers[static_cast<size_t>(k)].pseudonym.data(), 32);
        }
      }
      std::vector<uint8_t> e;
      encode_event(d, st, e);
      events.push_back(std::move(e));
    }
    BatchHeader h;
    randombytes_buf(h.batch_id.data(), 16);
    h.sequence = static_cast<uint64_t>(b + 1);
    h.app_id = "bench";
    out.push_back(seal_envelope(encode_batch(h, events), device_sk, collector_pk, 1).value());
  }
  return out;
}

double floor_rate(const std::vector<std::vector<uint8_t>>& envelopes, const uint8_t* collector_sk,
                  const std::string& path) {
  fs::remove(path);
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, wc::kStoragePragmas, nullptr, nullptr, nullptr);  // the store's own pages, cache, checkpoints
  sqlite3_exec(db, "CREATE TABLE events(event_id BLOB PRIMARY KEY, payload BLOB) WITHOUT ROWID", nullptr, nullptr,
               nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO events VALUES(?1, ?2)", -1, &st, nullptr);
  auto opener = EnvelopeOpener::create(collector_sk);  // as the collector opens them
  const auto t = Clock::now();
  size_t n = 0;
  for (const auto& env : envelopes) {
    auto opened = opener->open(env.data(), env.size());
    const auto* batch = waymark::wire::v1::GetBatch(opened->batch.data());
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (const auto* blob : *batch->events()) {
      const auto* e = blob->bytes_nested_root();
      sqlite3_bind_blob(st, 1, e->id()->data(), 16, SQLITE_STATIC);
      sqlite3_bind_blob(st, 2, blob->bytes()->data(), static_cast<int>(blob->bytes()->size()), SQLITE_STATIC);
      sqlite3_step(st);
      sqlite3_reset(st);
      ++n;
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  }
  const double rate = static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - t).count();
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "bench-work";
  fs::create_directories(dir);
  if (sodium_init() < 0) return 1;
  uint8_t device_pk[32], device_sk[64];
  crypto_sign_keypair(device_pk, device_sk);
  wc::CollectorKey key;
  key.key_id = 1;
  uint8_t collector_pk[32];
  crypto_sign_keypair(collector_pk, key.secret.data());
  const auto envelopes = make_envelopes(device_sk, device_pk, collector_pk);

  const std::string db = dir + "/collector-bench.db";
  fs::remove(db);
  auto store = wc::open_sqlite_store(db);
  if (!store.ok()) return 1;
  uint8_t rekey[32];
  randombytes_buf(rekey, sizeof rekey);
  wc::Metrics metrics;
  wc::Ingest ingest(*store.value(), {key}, rekey, metrics);
  const auto t = Clock::now();
  int ok = 0;
  for (const auto& env : envelopes) ok += ingest.handle(env.data(), env.size(), 1790000000000).http_status == 200;
  const double secs = std::chrono::duration<double>(Clock::now() - t).count();
  const double events = static_cast<double>(store.value()->event_count().value());
  if (ok != kBatches || events != kBatches * kPerBatch) {
    std::fprintf(stderr, "collector bench: %d/%d batches accepted, %.0f events stored\n", ok, kBatches, events);
  }
  const double floor = floor_rate(envelopes, key.secret.data(), dir + "/collector-floor.db");
  std::printf("BENCH collector_ingest_one_core %.0f events/s\n", events / secs);
  std::printf("BENCH open_verify_sqlite_insert_floor %.0f events/s\n", floor);
  std::printf("RATIO collector_ingest_one_core %.3f vs open_verify_sqlite_insert_floor\n", events / secs / floor);
  fs::remove_all(dir);
  return 0;
}
