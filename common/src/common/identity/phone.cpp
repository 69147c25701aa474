#include "common/identity/phone.hpp"

#include <sodium.h>

#ifdef WAYMARK_WITH_LIBPHONENUMBER
#include <phonenumbers/phonenumberutil.h>
#endif

namespace waymark::detail {

namespace {
// Strict E.164: '+', a non-zero country code digit, 8..15 digits in all.
bool is_e164(std::string_view v) {
  if (v.size() < 9 || v.size() > 16 || v[0] != '+' || v[1] < '1' || v[1] > '9') return false;
  for (char c : v.substr(1)) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}
}  // namespace

#ifdef WAYMARK_WITH_LIBPHONENUMBER

Status normalize_phone(NormalizedId& id, const std::string& default_region) {
  using i18n::phonenumbers::PhoneNumber;
  using i18n::phonenumbers::PhoneNumberUtil;
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  PhoneNumber number;
  // libphonenumber takes std::string: the copies are wiped below.
  std::string input(id.view());
  const auto parsed = util.Parse(input, default_region, &number);
  sodium_memzero(input.data(), input.size());
  if (parsed != PhoneNumberUtil::NO_PARSING_ERROR || !util.IsValidNumber(number)) {
    return Error(WAYMARK_ERR_INVALID_IDENTIFIER, "not a valid phone number for its region");
  }
  std::string e164;
  util.Format(number, PhoneNumberUtil::E164, &e164);
  const bool ok = is_e164(e164) && id.assign(e164);
  sodium_memzero(e164.data(), e164.size());
  number.Clear();
  return ok ? Status::Ok() : Error(WAYMARK_ERR_TOO_LARGE, "phone number too long");
}

#else

// E.164 as people write it: '+' and digits, with spaces, '-', '.', '(' and ')' between them dropped.
Status normalize_phone(NormalizedId& id, const std::string&) {
  char compact[17];
  size_t n = 0;
  bool fits = true;
  for (const char c : id.view()) {
    if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') continue;
    if (n == sizeof compact) {
      fits = false;
      break;
    }
    compact[n++] = c;
  }
  const bool ok = fits && is_e164(std::string_view(compact, n)) && id.assign(std::string_view(compact, n));
  sodium_memzero(compact, sizeof compact);
  if (!ok) {
    return Error(WAYMARK_ERR_INVALID_IDENTIFIER,
                 "phone number must be in E.164 form (+<country><number>): built without libphonenumber");
  }
  return Status::Ok();
}

#endif

}  // namespace waymark::detail
