// Batches, sign-then-seal envelopes and signed receipts (DESIGN.md §4). Both ends use this
// module: the SDK seals and verifies receipts; the collector opens envelopes and signs receipts.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "common/crypto/secure.hpp"

namespace waymark::detail {

inline constexpr size_t kEnvelopeHeaderBytes = 9;  // "WMRK" | version | key id (LE)
inline constexpr uint8_t kProtocolVersion = 1;
inline constexpr size_t kMaxEnvelopeBytes = 16u << 20;  // 16 MiB on the wire
inline constexpr size_t kMaxBatchBytes = 64u << 20;     // decompressed, unless the caller sets less

struct BatchHeader {
  Uuid batch_id{};
  uint64_t sequence = 0;
  std::vector<uint8_t> device_pseudonym;
  std::string app_id;
  std::string platform;  // the OS name, e.g. "linux"
  std::string os_version, device_model;
  int64_t sent_at_ms = 0;
  int64_t sent_monotonic_ms = 0;
  uint64_t dropped = 0, refused = 0, evicted = 0;
};

// FlatBuffers Batch from stored events (each a verified Event buffer).
std::vector<uint8_t> encode_batch(const BatchHeader& header, const std::vector<std::vector<uint8_t>>& events);

// Signs `batch` with the device's Ed25519 key (64-byte secret) and seals it to the collector's
// Ed25519 public key (converted to X25519). zstd is used when it makes the payload smaller.
Result<std::vector<uint8_t>> seal_envelope(const std::vector<uint8_t>& batch, const uint8_t* device_secret_key,
                                           const uint8_t* collector_public_key, uint32_t key_id);

// Reads the key id of an envelope without opening it.
Result<uint32_t> envelope_key_id(const uint8_t* data, size_t len);

struct OpenedEnvelope {
  std::vector<uint8_t> batch;  // verified signature, decompressed, FlatBuffers-verified
  std::array<uint8_t, 32> device_public_key{};
};

// Opens with the collector's Ed25519 keypair (64-byte secret), verifies the device signature
// and the Batch buffer with explicit limits. Errors name what failed (for metrics reasons); their codes
// say what kind of failure it is: WAYMARK_ERR_CRYPTO only for a device signature that does not verify,
// WAYMARK_ERR_TOO_LARGE for a size limit, WAYMARK_ERR_INVALID_VALUE for anything malformed. A zstd
// payload that would inflate beyond `max_batch_bytes` is refused before any of it is decompressed
// ("decompressed_too_large", WAYMARK_ERR_TOO_LARGE).
Result<OpenedEnvelope> open_envelope(const uint8_t* data, size_t len, const uint8_t* collector_secret_key,
                                     size_t max_batch_bytes = kMaxBatchBytes);

// A Batch buffer that passes the FlatBuffers Verifier (the limits open_envelope uses) with a 16-byte
// batch id: what open_envelope checks of what it opened (the collector checks a queued batch again).
bool batch_is_well_formed(const uint8_t* data, size_t len);

// open_envelope for one collector key, many times: the key's X25519 form is derived once (a
// conversion cost as much as the seal itself), zstd reuses a context per thread. Thread-safe.
class EnvelopeOpener {
 public:
  // WAYMARK_ERR_CRYPTO when the key cannot be converted.
  static Result<EnvelopeOpener> create(const uint8_t* collector_secret_key);
  Result<OpenedEnvelope> open(const uint8_t* data, size_t len, size_t max_batch_bytes = kMaxBatchBytes) const;

 private:
  std::shared_ptr<const Secret<32>> x25519_sk_;  // guarded memory, shared by copies
  std::array<uint8_t, 32> x25519_pk_{};
};

struct ReceiptFields {
  Uuid batch_id{};
  uint32_t accepted = 0, duplicates = 0, rejected = 0;
  int64_t received_at_ms = 0;
};

// The collector keys the SDK trusts: key id -> Ed25519 public key.
using TrustedKeys = std::vector<std::pair<uint32_t, std::array<uint8_t, 32>>>;

std::vector<uint8_t> sign_receipt(const ReceiptFields& fields, uint32_t key_id, const uint8_t* collector_secret_key);

// Verifies a receipt against the collector keys the SDK trusts.
Result<ReceiptFields> verify_receipt(const uint8_t* data, size_t len, const TrustedKeys& keys);

// Device segment pull (GET /v1/devices/segments, DESIGN.md §6). The device signs its request with
// its Ed25519 key; the collector answers with a SegmentList signed by the collector's key and sealed
// to the device's key (converted to X25519): a replayed request yields nothing anyone else can read.
struct SegmentRequest {
  std::array<uint8_t, 32> device_public_key{};
  std::array<uint8_t, 16> slot{};
  std::array<uint8_t, 16> nonce{};
};

// The request's query string: "device=<hex>&slot=<hex>&nonce=<hex>&signature=<hex>".
std::string sign_segment_request(const SegmentRequest& request, const uint8_t* device_secret_key);
// From the query parameters. WAYMARK_ERR_INVALID_VALUE when one is malformed, WAYMARK_ERR_CRYPTO when
// the signature does not verify.
Result<SegmentRequest> verify_segment_request(std::string_view device, std::string_view slot, std::string_view nonce,
                                              std::string_view signature);

struct SegmentListFields {
  SegmentRequest request;
  int64_t issued_at_ms = 0, as_of_ms = 0;
  bool personalisation = false;
  std::vector<std::string> segments;
};

// WAYMARK_ERR_CRYPTO when the device key cannot be converted (not a valid Ed25519 point).
Result<std::vector<uint8_t>> seal_segment_list(const SegmentListFields& fields, uint32_t key_id,
                                               const uint8_t* collector_secret_key);
// Opens with the device's keypair, verifies the collector's signature and that the list answers
// `asked` (device, slot, nonce). WAYMARK_ERR_CRYPTO when it cannot be opened or verified,
// WAYMARK_ERR_INVALID_VALUE when malformed.
Result<SegmentListFields> open_segment_list(const uint8_t* data, size_t len, const SegmentRequest& asked,
                                            const uint8_t* device_secret_key, const TrustedKeys& keys);

}  // namespace waymark::detail
