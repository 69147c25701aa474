#include <catch2/catch.hpp>

#include "common/identity/normalizer.hpp"
#include "common/identity/pseudonymizer.hpp"

using namespace waymark::detail;

namespace {
std::string norm(waymark_id_kind_t kind, std::string_view raw, bool gmail = false, waymark_status_t* code = nullptr) {
  NormalizerConfig config;
  config.default_region = "GB";
  config.gmail_rules = gmail;
  NormalizedId out;
  Status s = normalize_identifier(kind, raw, config, out);
  if (code != nullptr) *code = s.code;
  return s.ok() ? std::string(out.view()) : std::string("<") + std::to_string(s.code) + ">";
}
waymark_status_t code_of(waymark_id_kind_t kind, std::string_view raw) {
  waymark_status_t c = 0;
  norm(kind, raw, false, &c);
  return c;
}
}  // namespace

TEST_CASE("email: trim, NFC, lowercase - structure checked", "[identity]") {
  CHECK(norm(WAYMARK_ID_EMAIL, "  Jane.Doe@Example.COM \t") == "jane.doe@example.com");
  // "é" as e + combining acute (NFD) and as one code point (NFC) give the same form.
  CHECK(norm(WAYMARK_ID_EMAIL, "Ren\xC3\xA9@example.com") == norm(WAYMARK_ID_EMAIL, "Rene\xCC\x81@example.com"));
  CHECK(norm(WAYMARK_ID_EMAIL, "\xC3\x89LODIE@example.fr") == "\xC3\xA9lodie@example.fr");
  CHECK(code_of(WAYMARK_ID_EMAIL, "no-at-sign.example.com") == WAYMARK_ERR_INVALID_IDENTIFIER);
  CHECK(code_of(WAYMARK_ID_EMAIL, "a@b@example.com") == WAYMARK_ERR_INVALID_IDENTIFIER);
  CHECK(code_of(WAYMARK_ID_EMAIL, "jane@localhost") == WAYMARK_ERR_INVALID_IDENTIFIER);
  CHECK(code_of(WAYMARK_ID_EMAIL, "jane doe@example.com") == WAYMARK_ERR_INVALID_IDENTIFIER);
}

TEST_CASE("email: gmail rules only when enabled", "[identity]") {
  CHECK(norm(WAYMARK_ID_EMAIL, "JANE.SAOIRSE@gmail.com", true) == "janesaoirse@gmail.com");
  CHECK(norm(WAYMARK_ID_EMAIL, "jane.saoirse+promo@googlemail.com", true) == "janesaoirse@gmail.com");
  CHECK(norm(WAYMARK_ID_EMAIL, "jane.saoirse+promo@gmail.com", false) == "jane.saoirse+promo@gmail.com");
  CHECK(norm(WAYMARK_ID_EMAIL, "jane.saoirse+promo@example.com", true) == "jane.saoirse+promo@example.com");
}

TEST_CASE("phone: E.164", "[identity]") {
  CHECK(norm(WAYMARK_ID_PHONE, "+44 7911 123456") == "+447911123456");
#ifdef WAYMARK_WITH_LIBPHONENUMBER
  CHECK(norm(WAYMARK_ID_PHONE, "07911 123456") == "+447911123456");  // default region GB
  CHECK(norm(WAYMARK_ID_PHONE, "+1 (650) 253-0000") == "+16502530000");
  CHECK(code_of(WAYMARK_ID_PHONE, "12") == WAYMARK_ERR_INVALID_IDENTIFIER);
#else
  CHECK(norm(WAYMARK_ID_PHONE, "+447911123456") == "+447911123456");
  CHECK(norm(WAYMARK_ID_PHONE, "+1 (650) 253-0000") == "+16502530000");  // separators people write
  CHECK(code_of(WAYMARK_ID_PHONE, "07911 123456") == WAYMARK_ERR_INVALID_IDENTIFIER);
  CHECK(code_of(WAYMARK_ID_PHONE, "+44 7911 123456 789 012") == WAYMARK_ERR_INVALID_IDENTIFIER);  // > 15 digits
  CHECK(code_of(WAYMARK_ID_PHONE, "+44 7911 12345x") == WAYMARK_ERR_INVALID_IDENTIFIER);
#endif
  CHECK(code_of(WAYMARK_ID_PHONE, "0000000000") == WAYMARK_ERR_JUNK_IDENTIFIER);
}

TEST_CASE("names, postcodes, addresses, ids", "[identity]") {
  CHECK(norm(WAYMARK_ID_FIRST_NAME, "  Mary   Ann ") == "mary ann");
  CHECK(norm(WAYMARK_ID_LAST_NAME, "O'BRIEN") == "o'brien");
  CHECK(code_of(WAYMARK_ID_FIRST_NAME, "R2D2") == WAYMARK_ERR_INVALID_IDENTIFIER);
  CHECK(norm(WAYMARK_ID_POSTCODE, " sw1a 1aa ") == "SW1A1AA");
  CHECK(norm(WAYMARK_ID_POSTCODE, "10115") == "10115");
  CHECK(code_of(WAYMARK_ID_POSTCODE, "SW1A#1AA") == WAYMARK_ERR_INVALID_IDENTIFIER);
  CHECK(norm(WAYMARK_ID_ADDRESS, " 10  Downing\tStreet ") == "10 downing street");
  CHECK(norm(WAYMARK_ID_LOYALTY_ID, "  LC-00042 ") == "LC-00042");  // case kept for ids
}

TEST_CASE("junk values are refused with their own status", "[identity]") {
  for (const char* junk : {"", "   ", "null", "NULL", "undefined", "anonymous", "0", "-1", "0000", "n/a"}) {
    CAPTURE(junk);
    CHECK(code_of(WAYMARK_ID_ACCOUNT_ID, junk) == WAYMARK_ERR_JUNK_IDENTIFIER);
  }
  CHECK(code_of(WAYMARK_ID_EMAIL, "Test@Test.com") == WAYMARK_ERR_JUNK_IDENTIFIER);
  CHECK(code_of(WAYMARK_ID_DEVICE_ID, "00000000-0000-0000-0000-000000000000") == WAYMARK_ERR_JUNK_IDENTIFIER);
  CHECK(code_of(WAYMARK_ID_LOYALTY_ID, "11111111") == WAYMARK_ERR_JUNK_IDENTIFIER);
  CHECK(code_of(WAYMARK_ID_LOYALTY_ID, "10000001") == WAYMARK_OK);
}

TEST_CASE("invalid UTF-8, control characters and oversize input are refused", "[identity]") {
  CHECK(code_of(WAYMARK_ID_EMAIL, "jane\xC3@example.com") == WAYMARK_ERR_INVALID_UTF8);
  CHECK(code_of(WAYMARK_ID_EMAIL, "\xED\xA0\x80@example.com") == WAYMARK_ERR_INVALID_UTF8);  // surrogate
  CHECK(code_of(WAYMARK_ID_CUSTOM, std::string("a\0b", 3)) == WAYMARK_ERR_INVALID_IDENTIFIER);
  CHECK(code_of(WAYMARK_ID_CUSTOM, std::string(513, 'x')) == WAYMARK_ERR_TOO_LARGE);
  CHECK(code_of(static_cast<waymark_id_kind_t>(99), "x") == WAYMARK_ERR_INVALID_ARGUMENT);
}

TEST_CASE("pseudonyms: keyed per kind and epoch, stable for equal normal forms", "[identity]") {
  uint8_t key[32] = {7};
  auto p1 = Pseudonymizer::create(key, 1);
  auto p2 = Pseudonymizer::create(key, 2);
  REQUIRE(p1.ok());
  REQUIRE(p2.ok());
  NormalizerConfig config;
  NormalizedId a, b;
  REQUIRE(normalize_identifier(WAYMARK_ID_EMAIL, "Jane@Example.com", config, a).ok());
  REQUIRE(normalize_identifier(WAYMARK_ID_EMAIL, " jane@example.com", config, b).ok());
  CHECK(p1.value()->pseudonymize(WAYMARK_ID_EMAIL, a) == p1.value()->pseudonymize(WAYMARK_ID_EMAIL, b));
  CHECK(p1.value()->pseudonymize(WAYMARK_ID_EMAIL, a) != p2.value()->pseudonymize(WAYMARK_ID_EMAIL, a));
  CHECK(p1.value()->pseudonymize(WAYMARK_ID_EMAIL, a) != p1.value()->pseudonymize(WAYMARK_ID_CUSTOM, a));
  // Not plain SHA-256 / unkeyed BLAKE2b of the value.
  Pseudonym unkeyed{};
  crypto_generichash(unkeyed.data(), 32, a.data(), a.size(), nullptr, 0);
  CHECK(p1.value()->pseudonymize(WAYMARK_ID_EMAIL, a) != unkeyed);
}
