#include "collector/ingest/queued_batch.hpp"

#include <cstring>

namespace waymark::collector {

namespace {

constexpr uint8_t kMagic[4] = {'W', 'M', 'Q', '1'};
constexpr size_t kHeaderBytes = 4 + 4 + 8 + 32 + 4;

void put_le(Bytes& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint64_t get_le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

}  // namespace

Bytes encode_queued_batch(const QueuedBatch& q) {
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

std::optional<QueuedBatch> decode_queued_batch(std::span<const uint8_t> m) {
  if (m.size() < kHeaderBytes || std::memcmp(m.data(), kMagic, 4) != 0) return std::nullopt;
  QueuedBatch q;
  q.key_id = static_cast<uint32_t>(get_le(m.data() + 4, 4));
  q.received_ms = static_cast<int64_t>(get_le(m.data() + 8, 8));
  std::memcpy(q.device_key.data(), m.data() + 16, 32);
  const uint64_t n = get_le(m.data() + 48, 4);
  if (n > (m.size() - kHeaderBytes) / 8) return std::nullopt;
  q.asserted.resize(n);
  for (uint64_t i = 0; i < n; ++i) q.asserted[i] = get_le(m.data() + kHeaderBytes + 8 * i, 8);
  q.batch = m.subspan(kHeaderBytes + 8 * n);
  return q;
}

}  // namespace waymark::collector
