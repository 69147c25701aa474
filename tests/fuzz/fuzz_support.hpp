// Shared fixtures of the fuzz targets: a collector store in a temp directory with a fixed key.
#pragma once

#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include <sodium.h>

#include "ingest/ingest.hpp"
#include "store/store.hpp"

namespace waymark::fuzz {

struct CollectorFixture {
  collector::CollectorKey key;
  std::array<uint8_t, 32> public_key{};
  std::array<uint8_t, 32> rekey{};
  std::unique_ptr<collector::Store> store;
  collector::Metrics metrics;

  CollectorFixture() {
    if (sodium_init() < 0) std::abort();
    key.key_id = 1;
    crypto_sign_seed_keypair(public_key.data(), key.secret.data(), rekey.data());  // deterministic: seed 0
    char dir[] = "/tmp/waymark-fuzz-XXXXXX";
    if (mkdtemp(dir) == nullptr) std::abort();
    auto s = collector::open_sqlite_store(std::string(dir) + "/collector.db", 1000);
    if (!s.ok()) std::abort();
    store = std::move(s.value());
  }
};

}  // namespace waymark::fuzz
