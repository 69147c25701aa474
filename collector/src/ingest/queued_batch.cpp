#include "ingest/queued_batch.hpp"

#include <cstring>

#include <sodium.h>

namespace waymark::collector {

namespace {

constexpr uint8_t kMagic[4] = {'W', 'M', 'Q', '1'};
constexpr size_t kHeaderBytes = 4 + 4 + 8 + 32 + 4;
constexpr size_t kNonceBytes = crypto_secretbox_NONCEBYTES;
constexpr size_t kMacBytes = crypto_secretbox_MACBYTES;

void put_le(Bytes& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint64_t get_le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

Bytes plain_of(const QueuedBatch& q) {
  Bytes out;
  out.reserve(kHeaderBytes + 8 * q.asserted.size() + q.batch.size());
  out.insert(out.end(), kMagic, kMagic + 4);
  put_le(out, q.key_id, 4);
  put_le(out, static_cast<uint64_t>(q.received_ms), 8);
  out.insert(out.end(), q.device_key.begin(), q.device_key.end());
  put_le(out, q.asserted.size(), 4);
  for (uint64_t a : q.asserted) put_le(out, a, 8);
  out.insert(out.end(), q.batch.begin(), q.batch.end());
  return out;
}

std::optional<QueuedBatch> parse_plain(const Bytes& m) {
  if (m.size() < kHeaderBytes || std::memcmp(m.data(), kMagic, 4) != 0) return std::nullopt;
  QueuedBatch q;
  q.key_id = static_cast<uint32_t>(get_le(m.data() + 4, 4));
  q.received_ms = static_cast<int64_t>(get_le(m.data() + 8, 8));
  std::memcpy(q.device_key.data(), m.data() + 16, 32);
  const uint64_t n = get_le(m.data() + 48, 4);
  if (n > (m.size() - kHeaderBytes) / 8) return std::nullopt;
  q.asserted.resize(n);
  for (uint64_t i = 0; i < n; ++i) q.asserted[i] = get_le(m.data() + kHeaderBytes + 8 * i, 8);
  q.batch.assign(m.begin() + static_cast<std::ptrdiff_t>(kHeaderBytes + 8 * n), m.end());
  return q;
}

}  // namespace

void derive_queue_key(const uint8_t* rekey_secret, uint8_t* key) {
  crypto_kdf_derive_from_key(key, 32, 1, "wmqueue1", rekey_secret);
}

Bytes seal_queued_batch(const QueuedBatch& q, const uint8_t* key) {
  const Bytes plain = plain_of(q);
  Bytes out(kNonceBytes + kMacBytes + plain.size());
  randombytes_buf(out.data(), kNonceBytes);
  crypto_secretbox_easy(out.data() + kNonceBytes, plain.data(), plain.size(), out.data(), key);
  return out;
}

std::optional<QueuedBatch> open_queued_batch(std::span<const uint8_t> m, const uint8_t* key) {
  if (m.size() < kNonceBytes + kMacBytes) return std::nullopt;
  Bytes plain(m.size() - kNonceBytes - kMacBytes);
  if (crypto_secretbox_open_easy(plain.data(), m.data() + kNonceBytes, m.size() - kNonceBytes, m.data(), key) != 0) {
    return std::nullopt;
  }
  return parse_plain(plain);
}

}  // namespace waymark::collector
