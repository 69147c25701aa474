#include "common/identity/normalizer.hpp"

#include <algorithm>
#include <cstring>

#include <sodium.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "common/identity/phone.hpp"

namespace waymark::detail {
namespace {

constexpr size_t kUnits = 3 * WAYMARK_MAX_IDENTIFIER_BYTES;  // case mapping may expand up to 3x

// UTF-16 working buffer wiped on destruction.
struct Utf16 {
  std::array<UChar, kUnits> units{};
  int32_t len = 0;
  Utf16() = default;
  ~Utf16() { sodium_memzero(units.data(), sizeof(units)); }
  Utf16(const Utf16&) = delete;
  Utf16& operator=(const Utf16&) = delete;
};

enum class CaseRule { Keep, Lower, Upper };

Status to_utf16(std::string_view raw, Utf16& out) {
  UErrorCode ec = U_ZERO_ERROR;
  u_strFromUTF8(out.units.data(), static_cast<int32_t>(out.units.size()), &out.len, raw.data(),
                static_cast<int32_t>(raw.size()), &ec);
  if (ec == U_INVALID_CHAR_FOUND || ec == U_ILLEGAL_CHAR_FOUND) {
    return Error(WAYMARK_ERR_INVALID_UTF8, "identifier is not valid UTF-8");
  }
  if (U_FAILURE(ec)) return Error(WAYMARK_ERR_TOO_LARGE, "identifier too long");
  for (int32_t i = 0; i < out.len; ++i) {
    if (u_iscntrl(out.units[static_cast<size_t>(i)]) != 0 && !u_isUWhiteSpace(out.units[static_cast<size_t>(i)])) {
      return Error(WAYMARK_ERR_INVALID_IDENTIFIER, "identifier contains control characters");
    }
  }
  return Status::Ok();
}

// Trims Unicode whitespace at both ends; with `collapse_inner`, inner runs become one space.
void trim(Utf16& s, bool collapse_inner) {
  auto space = [&](int32_t i) { return u_isUWhiteSpace(s.units[static_cast<size_t>(i)]) != 0; };
  int32_t begin = 0;
  int32_t end = s.len;
  while (begin < end && space(begin)) ++begin;
  while (end > begin && space(end - 1)) --end;
  int32_t w = 0;
  bool in_space = false;
  for (int32_t r = begin; r < end; ++r) {
    const bool is_space = space(r);
    if (collapse_inner && is_space) {
      if (!in_space) s.units[static_cast<size_t>(w++)] = u' ';
      in_space = true;
      continue;
    }
    in_space = false;
    s.units[static_cast<size_t>(w++)] = s.units[static_cast<size_t>(r)];
  }
  std::fill(s.units.begin() + w, s.units.begin() + s.len, UChar{0});
  s.len = w;
}

Status nfc_and_case(Utf16& s, CaseRule rule) {
  UErrorCode ec = U_ZERO_ERROR;
  const UNormalizer2* nfc = unorm2_getNFCInstance(&ec);
  if (U_FAILURE(ec)) return Error(WAYMARK_ERR_INTERNAL, "ICU NFC data unavailable");
  Utf16 tmp;
  tmp.len = unorm2_normalize(nfc, s.units.data(), s.len, tmp.units.data(), static_cast<int32_t>(tmp.units.size()), &ec);
  if (U_FAILURE(ec)) return Error(WAYMARK_ERR_TOO_LARGE, "identifier too long after normalisation");
  if (rule == CaseRule::Keep) {
    std::copy_n(tmp.units.begin(), tmp.len, s.units.begin());
    s.len = tmp.len;
    return Status::Ok();
  }
  // Root locale: results must not depend on the device's language setting.
  s.len = rule == CaseRule::Lower
              ? u_strToLower(s.units.data(), static_cast<int32_t>(s.units.size()), tmp.units.data(), tmp.len, "", &ec)
              : u_strToUpper(s.units.data(), static_cast<int32_t>(s.units.size()), tmp.units.data(), tmp.len, "", &ec);
  if (U_FAILURE(ec)) return Error(WAYMARK_ERR_TOO_LARGE, "identifier too long after case mapping");
  return Status::Ok();
}

Status to_utf8(const Utf16& s, NormalizedId& out) {
  std::array<char, NormalizedId::kCapacity> buf{};
  int32_t len = 0;
  UErrorCode ec = U_ZERO_ERROR;
  u_strToUTF8(buf.data(), static_cast<int32_t>(buf.size()), &len, s.units.data(), s.len, &ec);
  const bool fits = U_SUCCESS(ec) && static_cast<size_t>(len) <= WAYMARK_MAX_IDENTIFIER_BYTES * 2 &&
                    out.assign({buf.data(), static_cast<size_t>(len)});
  sodium_memzero(buf.data(), buf.size());
  return fits ? Status::Ok() : Error(WAYMARK_ERR_TOO_LARGE, "identifier too long");
}

bool is_ascii_alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Structure check of an already-lowercased email; applies the gmail rules when asked.
Status email_rules(NormalizedId& id, bool gmail_rules) {
  const std::string_view v = id.view();
  const size_t at = v.find('@');
  if (at == std::string_view::npos || at == 0 || v.find('@', at + 1) != std::string_view::npos) {
    return Error(WAYMARK_ERR_INVALID_IDENTIFIER, "email must have one '@' with a local part");
  }
  const std::string_view domain = v.substr(at + 1);
  const size_t dot = domain.find('.');
  if (domain.empty() || dot == std::string_view::npos || dot == 0 || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos || v.find(' ') != std::string_view::npos) {
    return Error(WAYMARK_ERR_INVALID_IDENTIFIER, "email domain is not valid");
  }
  if (!gmail_rules || (domain != "gmail.com" && domain != "googlemail.com")) return Status::Ok();
  std::array<char, NormalizedId::kCapacity> buf{};
  size_t n = 0;
  for (char c : v.substr(0, at)) {
    if (c == '+') break;
    if (c != '.') buf[n++] = c;
  }
  if (n == 0) {
    sodium_memzero(buf.data(), buf.size());
    return Error(WAYMARK_ERR_INVALID_IDENTIFIER, "email local part is empty under gmail rules");
  }
  constexpr std::string_view kGmail = "@gmail.com";
  std::memcpy(buf.data() + n, kGmail.data(), kGmail.size());
  const bool ok = id.assign({buf.data(), n + kGmail.size()});
  sodium_memzero(buf.data(), buf.size());
  return ok ? Status::Ok() : Error(WAYMARK_ERR_TOO_LARGE, "email too long");
}

Status name_rules(const NormalizedId& id) {
  // At least one letter; digits are refused (a name with digits is usually a field mix-up).
  bool letter = false;
  for (unsigned char c : id.view()) {
    if (c >= '0' && c <= '9') return Error(WAYMARK_ERR_INVALID_IDENTIFIER, "names may not contain digits");
    if (c >= 0x80 || (c >= 'a' && c <= 'z')) letter = true;
  }
  return letter ? Status::Ok() : Error(WAYMARK_ERR_INVALID_IDENTIFIER, "name has no letters");
}

Status postcode_rules(NormalizedId& id) {
  std::array<char, NormalizedId::kCapacity> buf{};
  size_t n = 0;
  for (char c : id.view()) {
    if (c == ' ' || c == '-') continue;
    if (!is_ascii_alnum(c)) {
      sodium_memzero(buf.data(), buf.size());
      return Error(WAYMARK_ERR_INVALID_IDENTIFIER, "postcode may hold only letters, digits, spaces and '-'");
    }
    buf[n++] = c;
  }
  const bool ok = n >= 2 && n <= 10 && id.assign({buf.data(), n});
  sodium_memzero(buf.data(), buf.size());
  return ok ? Status::Ok() : Error(WAYMARK_ERR_INVALID_IDENTIFIER, "postcode must have 2..10 letters or digits");
}

constexpr std::string_view kJunkWords[] = {
    "",      "null", "nil", "none",  "undefined", "anonymous",       "unknown", "n/a", "na", "test",
    "guest", "user", "nan", "false", "true",      "[object object]", "-",       ".",   "?"};

constexpr std::string_view kJunkEmails[] = {"test@test.com",     "test@example.com",    "example@example.com",
                                            "email@example.com", "noemail@noemail.com", "none@none.com",
                                            "no@email.com",      "noreply@noreply.com", "a@a.com",
                                            "email@email.com",   "null@null.com",       "anonymous@anonymous.com",
                                            "nobody@nowhere.com"};

}  // namespace

NormalizedId::~NormalizedId() {
  sodium_memzero(bytes_.data(), bytes_.size());
}

bool NormalizedId::assign(std::string_view value) noexcept {
  if (value.size() > bytes_.size()) return false;
  std::memmove(bytes_.data(), value.data(), value.size());  // value may point into bytes_
  if (len_ > value.size()) sodium_memzero(bytes_.data() + value.size(), len_ - value.size());
  len_ = value.size();
  return true;
}

bool is_valid_kind(int kind) noexcept {
  return kind >= WAYMARK_ID_EMAIL && kind <= WAYMARK_ID_CUSTOM;
}

bool is_junk(waymark_id_kind_t kind, std::string_view v) noexcept {
  // Case-insensitive comparison with the word list (ids keep their case).
  auto equals_ci = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return (x >= 'A' && x <= 'Z' ? static_cast<char>(x + 32) : x) == y;
           });
  };
  for (std::string_view w : kJunkWords) {
    if (equals_ci(v, w)) return true;
  }
  if (kind == WAYMARK_ID_EMAIL) {
    for (std::string_view e : kJunkEmails) {
      if (v == e) return true;
    }
    return false;
  }
  // "-1", and values made only of one repeated digit or of zeros and separators
  // ("0", "0000", "9999999999", "00000000-0000-0000-0000-000000000000", "+10000000000").
  if (v == "-1") return true;
  const std::string_view digits = (kind == WAYMARK_ID_PHONE && !v.empty() && v[0] == '+') ? v.substr(1) : v;
  bool all_zero_or_sep = !digits.empty();
  for (char c : digits) all_zero_or_sep = all_zero_or_sep && (c == '0' || c == '-' || c == ':' || c == ' ');
  if (all_zero_or_sep) return true;
  const bool repeated = digits.size() >= 3 && digits.find_first_not_of(digits[0]) == std::string_view::npos &&
                        digits[0] >= '0' && digits[0] <= '9';
  return repeated;
}

Status normalize_identifier(waymark_id_kind_t kind, std::string_view raw, const NormalizerConfig& config,
                            NormalizedId& out) {
  if (!is_valid_kind(kind)) return Error(WAYMARK_ERR_INVALID_ARGUMENT, "unknown identifier kind");
  if (raw.size() > WAYMARK_MAX_IDENTIFIER_BYTES)
    return Error(WAYMARK_ERR_TOO_LARGE, "identifier longer than 512 bytes");
  Utf16 s;
  if (Status st = to_utf16(raw, s); !st.ok()) return st;

  CaseRule rule = CaseRule::Keep;
  bool collapse = false;
  switch (kind) {
    case WAYMARK_ID_EMAIL: rule = CaseRule::Lower; break;
    case WAYMARK_ID_FIRST_NAME:
    case WAYMARK_ID_LAST_NAME:
    case WAYMARK_ID_ADDRESS:
      rule = CaseRule::Lower;
      collapse = true;
      break;
    case WAYMARK_ID_POSTCODE: rule = CaseRule::Upper; break;
    default: break;  // phone, loyalty/account/device/cookie/custom ids: trim only, case kept
  }
  trim(s, collapse);
  if (Status st = nfc_and_case(s, rule); !st.ok()) return st;
  if (Status st = to_utf8(s, out); !st.ok()) return st;
  if (is_junk(kind, out.view())) return Error(WAYMARK_ERR_JUNK_IDENTIFIER, "identifier is a known junk value");

  Status st = Status::Ok();
  switch (kind) {
    case WAYMARK_ID_EMAIL: st = email_rules(out, config.gmail_rules); break;
    case WAYMARK_ID_PHONE: st = normalize_phone(out, config.default_region); break;
    case WAYMARK_ID_FIRST_NAME:
    case WAYMARK_ID_LAST_NAME: st = name_rules(out); break;
    case WAYMARK_ID_POSTCODE: st = postcode_rules(out); break;
    default: break;
  }
  if (!st.ok()) return st;
  // Rules may have produced a junk value ("0000" postcode, "+1 000…" phone).
  if (is_junk(kind, out.view())) return Error(WAYMARK_ERR_JUNK_IDENTIFIER, "identifier is a known junk value");
  return Status::Ok();
}

}  // namespace waymark::detail
