#include "identity/export_adapter.hpp"

#include <array>
#include <cstring>

#include <sodium.h>

namespace waymark::detail {

namespace {

// Per-spec email rules on top of our normalised form (trimmed, NFC, lowercase):
//  UID2:   gmail.com — drop '.' and anything from '+' in the local part;
//  Google: gmail.com / googlemail.com — drop '.' in the local part;
//  Meta:   nothing further.
Status spec_email(waymark_export_format_t format, NormalizedId& id) {
  const std::string_view v = id.view();
  const size_t at = v.find('@');
  const std::string_view domain = v.substr(at + 1);
  const bool uid2 = format == WAYMARK_EXPORT_UID2 && domain == "gmail.com";
  const bool google = format == WAYMARK_EXPORT_GOOGLE && (domain == "gmail.com" || domain == "googlemail.com");
  if (!uid2 && !google) return Status::Ok();
  std::array<char, NormalizedId::kCapacity> buf{};
  size_t n = 0;
  for (char c : v.substr(0, at)) {
    if (uid2 && c == '+') break;
    if (c != '.') buf[n++] = c;
  }
  std::memcpy(buf.data() + n, domain.data() - 1, domain.size() + 1);
  const bool ok = n > 0 && id.assign({buf.data(), n + domain.size() + 1});
  sodium_memzero(buf.data(), buf.size());
  return ok ? Status::Ok() : Error(WAYMARK_ERR_INVALID_IDENTIFIER, "email local part is empty");
}

}  // namespace

Status export_hashed(waymark_id_kind_t kind, waymark_export_format_t format, std::string_view raw,
                     const NormalizerConfig& config, char* out, size_t capacity, size_t* out_len) {
  if (kind != WAYMARK_ID_EMAIL && kind != WAYMARK_ID_PHONE) {
    return Error(WAYMARK_ERR_INVALID_ARGUMENT, "export supports email and phone only");
  }
  if (format != WAYMARK_EXPORT_UID2 && format != WAYMARK_EXPORT_META && format != WAYMARK_EXPORT_GOOGLE) {
    return Error(WAYMARK_ERR_INVALID_ARGUMENT, "unknown export format");
  }
  if (out == nullptr || out_len == nullptr || capacity < 65) {
    return Error(WAYMARK_ERR_INVALID_ARGUMENT, "output buffer must hold at least 65 bytes");
  }
  NormalizerConfig plain = config;
  plain.gmail_rules = false;
  NormalizedId id;
  if (Status s = normalize_identifier(kind, raw, plain, id); !s.ok()) return s;
  if (kind == WAYMARK_ID_EMAIL) {
    if (Status s = spec_email(format, id); !s.ok()) return s;
  } else if (format == WAYMARK_EXPORT_META) {
    if (!id.assign(id.view().substr(1))) return Error(WAYMARK_ERR_INTERNAL, "phone copy failed");  // digits only
  }
  std::array<uint8_t, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), id.data(), id.size());
  if (format == WAYMARK_EXPORT_UID2) {
    sodium_bin2base64(out, capacity, digest.data(), digest.size(), sodium_base64_VARIANT_ORIGINAL);
  } else {
    sodium_bin2hex(out, capacity, digest.data(), digest.size());
  }
  *out_len = std::strlen(out);
  sodium_memzero(digest.data(), digest.size());
  return Status::Ok();
}

}  // namespace waymark::detail
