// The query API's request handling (path and query parsing, bearer tokens, JSON bodies of erasure
// and unmerge, report parameters, device segment requests) on arbitrary requests. Input: method
// byte, then target, token and body separated by newlines.
#include <string_view>

#include "api/query_api.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static waymark::fuzz::CollectorFixture f;
  static waymark::collector::QueryApi api(
      *f.store,
      {{"admin",
        "admin-token-0123456789",
        {"profiles:read", "profiles:export", "identity:write", "erasure:write", "reports:read"}}},
      f.rekey.data(), f.key, f.metrics);
  if (size == 0) return 0;
  static const char* const kMethods[] = {"GET", "POST", "DELETE", "PUT"};
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto field = [&rest] {
    const size_t nl = rest.find('\n');
    const std::string_view out = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    return out;
  };
  const std::string_view target = field();
  const std::string_view token = field();
  (void)api.handle(kMethods[data[0] % 4], target, token, rest, 1'775'001'600'000);
  return 0;
}
