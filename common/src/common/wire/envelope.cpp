#include "common/wire/envelope.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

#include <sodium.h>
#include <zstd.h>

#include "waymark/wire/v1/batch_generated.h"
#include "waymark/wire/v1/envelope_generated.h"
#include "waymark/wire/v1/receipt_generated.h"
#include "waymark/wire/v1/segments_generated.h"

namespace waymark::detail {

namespace w = waymark::wire::v1;

namespace {

constexpr uint8_t kMagic[4] = {'W', 'M', 'R', 'K'};
constexpr char kBatchDomain[] = "WMBATCH1";
constexpr char kReceiptDomain[] = "WMRCPT1";
constexpr char kSegmentRequestDomain[] = "WMSEGRQ1";
constexpr char kSegmentListDomain[] = "WMSEGL1";
constexpr size_t kMaxSegmentListBytes = 1u << 20;

flatbuffers::Verifier::Options limits() {
  flatbuffers::Verifier::Options o;
  o.max_depth = 16;
  o.max_tables = 1u << 20;
  return o;
}

// Ed25519ph state over domain | extra | message, fed in parts so the message is never copied.
crypto_sign_state prehash(const char* domain, const uint8_t* extra, size_t extra_len, const uint8_t* msg, size_t len) {
  crypto_sign_state st;
  crypto_sign_init(&st);
  crypto_sign_update(&st, reinterpret_cast<const uint8_t*>(domain), std::strlen(domain));
  crypto_sign_update(&st, extra, extra_len);
  crypto_sign_update(&st, msg, len);
  return st;
}

void sign_parts(uint8_t* sig, const char* domain, const uint8_t* extra, size_t extra_len, const uint8_t* msg,
                size_t len, const uint8_t* sk) {
  crypto_sign_state st = prehash(domain, extra, extra_len, msg, len);
  crypto_sign_final_create(&st, sig, nullptr, sk);
}

bool verify_parts(const uint8_t* sig, const char* domain, const uint8_t* extra, size_t extra_len, const uint8_t* msg,
                  size_t len, const uint8_t* pk) {
  crypto_sign_state st = prehash(domain, extra, extra_len, msg, len);
  return crypto_sign_final_verify(&st, sig, pk) == 0;
}

// The collector-signed wrapper receipts and segment lists share: `body` signed under `domain` by the
// trusted key `key_id`, and itself a valid `Body` FlatBuffer. `what` names the message in errors.
template <class Body>
Result<const Body*> verify_signed_body(const flatbuffers::Vector<uint8_t>* body, uint32_t key_id,
                                       const flatbuffers::Vector<uint8_t>* signature, const char* domain,
                                       const std::string& what, const TrustedKeys& keys) {
  if (body == nullptr || signature == nullptr || signature->size() != crypto_sign_BYTES) {
    return Error(WAYMARK_ERR_INVALID_VALUE, what + " lacks body or signature");
  }
  const uint8_t* pk = nullptr;
  for (const auto& [id, key] : keys) {
    if (id == key_id) pk = key.data();
  }
  if (pk == nullptr) return Error(WAYMARK_ERR_CRYPTO, what + " signed with an unknown collector key id");
  if (!verify_parts(signature->data(), domain, nullptr, 0, body->data(), body->size(), pk)) {
    return Error(WAYMARK_ERR_CRYPTO, what + " signature does not verify");
  }
  flatbuffers::Verifier v(body->data(), body->size(), limits());
  if (!v.VerifyBuffer<Body>(nullptr)) return Error(WAYMARK_ERR_INVALID_VALUE, what + " body malformed");
  return flatbuffers::GetRoot<Body>(body->data());
}

}  // namespace

std::vector<uint8_t> encode_batch(const BatchHeader& h, const std::vector<std::vector<uint8_t>>& events) {
  flatbuffers::FlatBufferBuilder fbb(1024 + events.size() * 256);
  std::vector<flatbuffers::Offset<w::EventBlob>> blobs;
  blobs.reserve(events.size());
  for (const auto& e : events) blobs.push_back(w::CreateEventBlob(fbb, fbb.CreateVector(e)));
  const auto batch = w::CreateBatch(
      fbb, fbb.CreateVector(h.batch_id.data(), h.batch_id.size()), h.sequence, fbb.CreateVector(h.device_pseudonym),
      fbb.CreateString(h.app_id), fbb.CreateString(WAYMARK_VERSION_STRING), fbb.CreateString(h.platform), h.sent_at_ms,
      h.sent_monotonic_ms, h.dropped, h.refused, h.evicted, fbb.CreateVector(blobs), fbb.CreateString(h.device_model),
      fbb.CreateString(h.os_version));
  w::FinishBatchBuffer(fbb, batch);
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

Result<std::vector<uint8_t>> seal_envelope(const std::vector<uint8_t>& batch, const uint8_t* device_secret_key,
                                           const uint8_t* collector_public_key, uint32_t key_id) {
  uint8_t x25519[crypto_box_PUBLICKEYBYTES];
  if (crypto_sign_ed25519_pk_to_curve25519(x25519, collector_public_key) != 0) {
    return Error(WAYMARK_ERR_CRYPTO, "collector public key is not a valid Ed25519 key");
  }
  // zstd only when it helps: small batches of high-entropy pseudonyms often do not shrink.
  std::vector<uint8_t> compressed(ZSTD_compressBound(batch.size()));
  const size_t n = ZSTD_compress(compressed.data(), compressed.size(), batch.data(), batch.size(), 3);
  const bool use_zstd = !ZSTD_isError(n) && n < batch.size();
  if (use_zstd) compressed.resize(n);
  const std::vector<uint8_t>& payload = use_zstd ? compressed : batch;
  const uint8_t compression = use_zstd ? 1 : 0;

  std::array<uint8_t, crypto_sign_BYTES> sig{};
  sign_parts(sig.data(), kBatchDomain, &compression, 1, payload.data(), payload.size(), device_secret_key);
  std::array<uint8_t, crypto_sign_PUBLICKEYBYTES> device_pk{};
  crypto_sign_ed25519_sk_to_pk(device_pk.data(), device_secret_key);

  flatbuffers::FlatBufferBuilder fbb(payload.size() + 256);
  const auto env =
      w::CreateEnvelope(fbb, static_cast<w::Compression>(compression), fbb.CreateVector(payload),
                        fbb.CreateVector(sig.data(), sig.size()), fbb.CreateVector(device_pk.data(), device_pk.size()));
  w::FinishEnvelopeBuffer(fbb, env);

  std::vector<uint8_t> out(kEnvelopeHeaderBytes + crypto_box_SEALBYTES + fbb.GetSize());
  std::memcpy(out.data(), kMagic, 4);
  out[4] = kProtocolVersion;
  for (int i = 0; i < 4; ++i) out[static_cast<size_t>(5 + i)] = static_cast<uint8_t>(key_id >> (8 * i));
  if (crypto_box_seal(out.data() + kEnvelopeHeaderBytes, fbb.GetBufferPointer(), fbb.GetSize(), x25519) != 0) {
    return Error(WAYMARK_ERR_CRYPTO, "sealing the envelope failed");
  }
  return out;
}

Result<uint32_t> envelope_key_id(const uint8_t* data, size_t len) {
  if (data == nullptr || len < kEnvelopeHeaderBytes + crypto_box_SEALBYTES) {
    return Error(WAYMARK_ERR_INVALID_VALUE, "truncated");
  }
  if (std::memcmp(data, kMagic, 4) != 0) return Error(WAYMARK_ERR_INVALID_VALUE, "bad_magic");
  if (data[4] != kProtocolVersion) return Error(WAYMARK_ERR_INVALID_VALUE, "unknown_version");
  uint32_t key_id = 0;
  for (int i = 0; i < 4; ++i) key_id |= static_cast<uint32_t>(data[5 + i]) << (8 * i);
  return key_id;
}

Result<EnvelopeOpener> EnvelopeOpener::create(const uint8_t* collector_secret_key) {
  EnvelopeOpener o;
  auto sk = std::make_shared<Secret<32>>();
  if (!sk->valid()) return Error(WAYMARK_ERR_NO_MEMORY, "no guarded memory for the collector key");
  uint8_t ed_pk[crypto_sign_PUBLICKEYBYTES];
  crypto_sign_ed25519_sk_to_pk(ed_pk, collector_secret_key);
  if (crypto_sign_ed25519_pk_to_curve25519(o.x25519_pk_.data(), ed_pk) != 0 ||
      crypto_sign_ed25519_sk_to_curve25519(sk->data(), collector_secret_key) != 0) {
    return Error(WAYMARK_ERR_CRYPTO, "bad_collector_key");
  }
  o.x25519_sk_ = std::move(sk);
  return o;
}

Result<OpenedEnvelope> open_envelope(const uint8_t* data, size_t len, const uint8_t* collector_secret_key,
                                     size_t max_batch_bytes) {
  auto opener = EnvelopeOpener::create(collector_secret_key);
  if (!opener.ok()) return opener.status();
  return opener->open(data, len, max_batch_bytes);
}

namespace {

// One decompression context per thread, reused: ZSTD_decompress would allocate one per call.
ZSTD_DCtx* thread_dctx() {
  thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  return ctx.get();
}

}  // namespace

Result<OpenedEnvelope> EnvelopeOpener::open(const uint8_t* data, size_t len, size_t max_batch_bytes) const {
  if (len > kMaxEnvelopeBytes) return Error(WAYMARK_ERR_TOO_LARGE, "oversized");
  auto key_id = envelope_key_id(data, len);
  if (!key_id.ok()) return key_id.status();
  const size_t sealed_len = len - kEnvelopeHeaderBytes;
  std::vector<uint8_t> inner(sealed_len - crypto_box_SEALBYTES);
  if (crypto_box_seal_open(inner.data(), data + kEnvelopeHeaderBytes, sealed_len, x25519_pk_.data(),
                           x25519_sk_->data()) != 0) {
    return Error(WAYMARK_ERR_INVALID_VALUE, "unsealable");  // not sealed to this key: malformed, not forged
  }
  flatbuffers::Verifier ev(inner.data(), inner.size(), limits());
  if (!w::VerifyEnvelopeBuffer(ev)) return Error(WAYMARK_ERR_INVALID_VALUE, "malformed_envelope");
  const w::Envelope* env = w::GetEnvelope(inner.data());
  if (env->payload() == nullptr || env->signature() == nullptr || env->signature()->size() != crypto_sign_BYTES ||
      env->device_public_key() == nullptr || env->device_public_key()->size() != crypto_sign_PUBLICKEYBYTES) {
    return Error(WAYMARK_ERR_INVALID_VALUE, "malformed_envelope");
  }
  const auto compression = static_cast<uint8_t>(env->compression());
  if (compression > 1) return Error(WAYMARK_ERR_INVALID_VALUE, "unknown_compression");
  OpenedEnvelope out;
  std::memcpy(out.device_public_key.data(), env->device_public_key()->data(), 32);
  if (!verify_parts(env->signature()->data(), kBatchDomain, &compression, 1, env->payload()->data(),
                    env->payload()->size(), out.device_public_key.data())) {
    return Error(WAYMARK_ERR_CRYPTO, "bad_signature");
  }
  if (compression == 1) {
    const unsigned long long size = ZSTD_getFrameContentSize(env->payload()->data(), env->payload()->size());
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
      return Error(WAYMARK_ERR_INVALID_VALUE, "bad_compression");
    }
    if (size > std::min(max_batch_bytes, kMaxBatchBytes)) return Error(WAYMARK_ERR_TOO_LARGE, "decompressed_too_large");
    out.batch.resize(size);
    ZSTD_DCtx* dctx = thread_dctx();
    if (dctx == nullptr) return Error(WAYMARK_ERR_NO_MEMORY, "no zstd context");
    const size_t n =
        ZSTD_decompressDCtx(dctx, out.batch.data(), out.batch.size(), env->payload()->data(), env->payload()->size());
    if (ZSTD_isError(n) || n != size) return Error(WAYMARK_ERR_INVALID_VALUE, "bad_compression");
  } else {
    out.batch.assign(env->payload()->begin(), env->payload()->end());
  }
  if (!batch_is_well_formed(out.batch.data(), out.batch.size()))
    return Error(WAYMARK_ERR_INVALID_VALUE, "malformed_batch");
  return out;
}

bool batch_is_well_formed(const uint8_t* data, size_t len) {
  flatbuffers::Verifier bv(data, len, limits());
  if (!w::VerifyBatchBuffer(bv)) return false;
  const w::Batch* b = w::GetBatch(data);
  return b->batch_id() != nullptr && b->batch_id()->size() == 16;
}

std::vector<uint8_t> sign_receipt(const ReceiptFields& f, uint32_t key_id, const uint8_t* collector_secret_key) {
  flatbuffers::FlatBufferBuilder body(128);
  body.Finish(w::CreateReceiptBody(body, body.CreateVector(f.batch_id.data(), f.batch_id.size()), f.accepted,
                                   f.duplicates, f.rejected, f.received_at_ms));
  std::array<uint8_t, crypto_sign_BYTES> sig{};
  sign_parts(sig.data(), kReceiptDomain, nullptr, 0, body.GetBufferPointer(), body.GetSize(), collector_secret_key);
  flatbuffers::FlatBufferBuilder fbb(256);
  const auto r = w::CreateReceipt(fbb, fbb.CreateVector(body.GetBufferPointer(), body.GetSize()), key_id,
                                  fbb.CreateVector(sig.data(), sig.size()));
  w::FinishReceiptBuffer(fbb, r);
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

Result<ReceiptFields> verify_receipt(const uint8_t* data, size_t len, const TrustedKeys& keys) {
  if (data == nullptr || len > 4096) return Error(WAYMARK_ERR_INVALID_VALUE, "receipt missing or oversized");
  flatbuffers::Verifier v(data, len, limits());
  if (!w::VerifyReceiptBuffer(v)) return Error(WAYMARK_ERR_INVALID_VALUE, "receipt is not a valid Receipt");
  const w::Receipt* r = w::GetReceipt(data);
  auto verified =
      verify_signed_body<w::ReceiptBody>(r->body(), r->key_id(), r->signature(), kReceiptDomain, "receipt", keys);
  if (!verified.ok()) return verified.status();
  const w::ReceiptBody* body = verified.value();
  if (body->batch_id() == nullptr || body->batch_id()->size() != 16) {
    return Error(WAYMARK_ERR_INVALID_VALUE, "receipt body malformed");
  }
  ReceiptFields f;
  std::memcpy(f.batch_id.data(), body->batch_id()->data(), 16);
  f.accepted = body->accepted();
  f.duplicates = body->duplicates();
  f.rejected = body->rejected();
  f.received_at_ms = body->received_at_ms();
  return f;
}

namespace {

// device | slot | nonce, the signed part of a segment request.
std::array<uint8_t, 64> segment_request_bytes(const SegmentRequest& r) {
  std::array<uint8_t, 64> out{};
  std::memcpy(out.data(), r.device_public_key.data(), 32);
  std::memcpy(out.data() + 32, r.slot.data(), 16);
  std::memcpy(out.data() + 48, r.nonce.data(), 16);
  return out;
}

template <size_t N>
bool equal_bytes(const flatbuffers::Vector<uint8_t>* v, const std::array<uint8_t, N>& want) {
  return v != nullptr && v->size() == N && std::memcmp(v->data(), want.data(), N) == 0;
}

}  // namespace

std::string sign_segment_request(const SegmentRequest& r, const uint8_t* device_secret_key) {
  const auto bytes = segment_request_bytes(r);
  uint8_t sig[crypto_sign_BYTES];
  sign_parts(sig, kSegmentRequestDomain, nullptr, 0, bytes.data(), bytes.size(), device_secret_key);
  return "device=" + to_hex(r.device_public_key.data(), 32) + "&slot=" + to_hex(r.slot.data(), 16) +
         "&nonce=" + to_hex(r.nonce.data(), 16) + "&signature=" + to_hex(sig, sizeof sig);
}

Result<SegmentRequest> verify_segment_request(std::string_view device, std::string_view slot, std::string_view nonce,
                                              std::string_view signature) {
  SegmentRequest r;
  uint8_t sig[crypto_sign_BYTES];
  if (!from_hex(device, r.device_public_key.data(), 32) || !from_hex(slot, r.slot.data(), 16) ||
      !from_hex(nonce, r.nonce.data(), 16) || !from_hex(signature, sig, sizeof sig)) {
    return Error(WAYMARK_ERR_INVALID_VALUE,
                 "device (64 hex), slot (32 hex), nonce (32 hex) and signature (128 hex) are required");
  }
  const auto bytes = segment_request_bytes(r);
  if (!verify_parts(sig, kSegmentRequestDomain, nullptr, 0, bytes.data(), bytes.size(), r.device_public_key.data())) {
    return Error(WAYMARK_ERR_CRYPTO, "the request signature does not verify with the device key");
  }
  return r;
}

Result<std::vector<uint8_t>> seal_segment_list(const SegmentListFields& f, uint32_t key_id,
                                               const uint8_t* collector_secret_key) {
  flatbuffers::FlatBufferBuilder body(256);
  const auto& q = f.request;
  body.Finish(w::CreateSegmentListBody(body, body.CreateVector(q.device_public_key.data(), 32),
                                       body.CreateVector(q.slot.data(), 16), body.CreateVector(q.nonce.data(), 16),
                                       f.issued_at_ms, f.as_of_ms, f.personalisation,
                                       body.CreateVectorOfStrings(f.segments)));
  std::array<uint8_t, crypto_sign_BYTES> sig{};
  sign_parts(sig.data(), kSegmentListDomain, nullptr, 0, body.GetBufferPointer(), body.GetSize(), collector_secret_key);
  flatbuffers::FlatBufferBuilder fbb(512);
  const auto list = w::CreateSegmentList(fbb, fbb.CreateVector(body.GetBufferPointer(), body.GetSize()), key_id,
                                         fbb.CreateVector(sig.data(), sig.size()));
  w::FinishSegmentListBuffer(fbb, list);
  uint8_t x25519[crypto_box_PUBLICKEYBYTES];
  if (crypto_sign_ed25519_pk_to_curve25519(x25519, q.device_public_key.data()) != 0) {
    return Error(WAYMARK_ERR_CRYPTO, "the device key is not a valid Ed25519 public key");
  }
  std::vector<uint8_t> sealed(fbb.GetSize() + crypto_box_SEALBYTES);
  crypto_box_seal(sealed.data(), fbb.GetBufferPointer(), fbb.GetSize(), x25519);
  return sealed;
}

Result<SegmentListFields> open_segment_list(const uint8_t* data, size_t len, const SegmentRequest& asked,
                                            const uint8_t* device_secret_key, const TrustedKeys& keys) {
  if (data == nullptr || len < crypto_box_SEALBYTES || len > kMaxSegmentListBytes) {
    return Error(WAYMARK_ERR_INVALID_VALUE, "segment list missing or oversized");
  }
  Secret<crypto_box_SECRETKEYBYTES> x25519_secret;
  uint8_t x25519_public[crypto_box_PUBLICKEYBYTES];
  if (crypto_sign_ed25519_sk_to_curve25519(x25519_secret.data(), device_secret_key) != 0 ||
      crypto_sign_ed25519_pk_to_curve25519(x25519_public, asked.device_public_key.data()) != 0) {
    return Error(WAYMARK_ERR_CRYPTO, "cannot convert the device key");
  }
  std::vector<uint8_t> plain(len - crypto_box_SEALBYTES);
  if (crypto_box_seal_open(plain.data(), data, len, x25519_public, x25519_secret.data()) != 0) {
    return Error(WAYMARK_ERR_CRYPTO, "the segment list is not sealed to this device");
  }
  flatbuffers::Verifier v(plain.data(), plain.size(), limits());
  if (!w::VerifySegmentListBuffer(v)) return Error(WAYMARK_ERR_INVALID_VALUE, "not a valid SegmentList");
  const w::SegmentList* list = w::GetSegmentList(plain.data());
  auto verified = verify_signed_body<w::SegmentListBody>(list->body(), list->key_id(), list->signature(),
                                                         kSegmentListDomain, "segment list", keys);
  if (!verified.ok()) return verified.status();
  const w::SegmentListBody* b = verified.value();
  if (!equal_bytes(b->device_key(), asked.device_public_key) || !equal_bytes(b->slot(), asked.slot) ||
      !equal_bytes(b->nonce(), asked.nonce)) {
    return Error(WAYMARK_ERR_CRYPTO, "segment list answers another request");
  }
  SegmentListFields f;
  f.request = asked;
  f.issued_at_ms = b->issued_at_ms();
  f.as_of_ms = b->as_of_ms();
  f.personalisation = b->personalisation();
  if (b->segments() != nullptr) {
    for (const auto* name : *b->segments()) f.segments.push_back(name->str());
  }
  return f;
}

}  // namespace waymark::detail
