// Export adapter against the ad platforms' published normalisation rules. Expected hashes:
// the UID2 vectors are from the UID2 documentation; the others are SHA-256 of the spec's
// normal form, computed independently (Python hashlib).
#include <catch2/catch.hpp>

#include "identity/export_adapter.hpp"

using namespace waymark::detail;

namespace {
std::string hashed(waymark_id_kind_t kind, waymark_export_format_t format, std::string_view raw) {
  NormalizerConfig config;
  config.default_region = "GB";
  char out[128];
  size_t len = 0;
  Status s = export_hashed(kind, format, raw, config, out, sizeof out, &len);
  return s.ok() ? std::string(out, len) : "<" + std::to_string(s.code) + ">";
}
}  // namespace

TEST_CASE("UID2 public vectors", "[export]") {
  CHECK(hashed(WAYMARK_ID_EMAIL, WAYMARK_EXPORT_UID2, "user@example.com") ==
        "tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ=");
  // JANE.SAOIRSE@gmail.com normalises to janesaoirse@gmail.com.
  CHECK(hashed(WAYMARK_ID_EMAIL, WAYMARK_EXPORT_UID2, "JANE.SAOIRSE@gmail.com") ==
        "ku4mBX7Z3qJTXWyLFB1INzkyR2WZGW4ANSJUiW21iI8=");
  CHECK(hashed(WAYMARK_ID_EMAIL, WAYMARK_EXPORT_UID2, " jane.saoirse+news@gmail.com ") ==
        "ku4mBX7Z3qJTXWyLFB1INzkyR2WZGW4ANSJUiW21iI8=");
  CHECK(hashed(WAYMARK_ID_PHONE, WAYMARK_EXPORT_UID2, "+12345678901") ==
        "EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4=");
}

TEST_CASE("Meta and Google forms", "[export]") {
  // Meta: lowercase + trim, no gmail rules; phone as digits with country code, no '+'.
  CHECK(hashed(WAYMARK_ID_EMAIL, WAYMARK_EXPORT_META, " Jane.Saoirse@Gmail.com") ==
        "58bad64ae1c94e2bfdcf592ca545bea6201cbe1a87f8bef0cb88388f88009649");
  CHECK(hashed(WAYMARK_ID_PHONE, WAYMARK_EXPORT_META, "+44 7911 123456") ==
        "40b5c38342a9c584ec707e8679b003f8c779c6aaa138c976ef94e049cc05208f");
  // Google: dots dropped for gmail/googlemail, '+' kept; phone E.164 with '+'.
  CHECK(hashed(WAYMARK_ID_EMAIL, WAYMARK_EXPORT_GOOGLE, "Jane.Saoirse+news@googlemail.com") ==
        "4065fcb1fc9ecf45f6a71ccefcd13e3fc031438c05133a322876a4f474feab07");
  CHECK(hashed(WAYMARK_ID_EMAIL, WAYMARK_EXPORT_GOOGLE, "Jane.Saoirse+news@gmail.com") ==
        "e9775f0f9cee8ea4edf2a8468be4f3ebe772cae27995cb833914c8dcd154c519");
  CHECK(hashed(WAYMARK_ID_PHONE, WAYMARK_EXPORT_GOOGLE, "+44 7911 123456") ==
        "20b18ac9de7b3aad174961827d8e451c410af9aedfd1d699927f4b29b81aa1fa");
}

TEST_CASE("export refuses junk, other kinds and small buffers", "[export]") {
  CHECK(hashed(WAYMARK_ID_EMAIL, WAYMARK_EXPORT_UID2, "test@test.com") ==
        "<" + std::to_string(WAYMARK_ERR_JUNK_IDENTIFIER) + ">");
  CHECK(hashed(WAYMARK_ID_LOYALTY_ID, WAYMARK_EXPORT_UID2, "LC42") ==
        "<" + std::to_string(WAYMARK_ERR_INVALID_ARGUMENT) + ">");
  NormalizerConfig config;
  char small[10];
  size_t len = 0;
  CHECK(export_hashed(WAYMARK_ID_EMAIL, WAYMARK_EXPORT_META, "a@example.com", config, small, sizeof small, &len).code ==
        WAYMARK_ERR_INVALID_ARGUMENT);
}
