// The collector's query API (JSON over HTTP): profiles, journeys, explanations, unmerge, erasure,
// export. Every route needs a bearer token from the config: 401 without a valid one, 403 when the
// token lacks the route's scope. Identifiers are looked up by the pseudonym the brand computes with
// its own key (the SDK's pseudonym); the API re-keys it exactly as ingest does.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/secure.hpp"
#include "ingest/ingest.hpp"
#include "store/store.hpp"

namespace waymark::collector {

// Scopes: profiles:read, profiles:export, identity:write, erasure:write.
struct ApiToken {
  std::string name;  // for logs and metrics; never the secret
  std::string secret;
  std::set<std::string> scopes;
};

// "name:secret:scope1,scope2". Empty result and `*error` set when malformed.
std::optional<ApiToken> parse_api_token(std::string_view spec, std::string* error);

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class QueryApi {
 public:
  // `signing_key` signs erasure receipts (the collector's newest key).
  QueryApi(Store& store, std::vector<ApiToken> tokens, const uint8_t* rekey_secret, CollectorKey signing_key,
           Metrics& metrics);
  // Nothing when `target` is not an API route.
  std::optional<ApiResponse> handle(std::string_view method, std::string_view target, std::string_view authorization,
                                    std::string_view body, int64_t now_ms);

 private:
  struct Request;
  ApiResponse route(const Request& r, int64_t now_ms);
  ApiResponse erasure(const Request& r, int64_t now_ms);
  ApiResponse unmerge(const Request& r, int64_t now_ms);
  ApiResponse export_profile(int64_t id);
  std::optional<Key32> rekey(std::string_view hex) const;

  Store& store_;
  std::vector<ApiToken> tokens_;
  detail::Secret<32> rekey_;
  CollectorKey signing_key_;
  Metrics& metrics_;
};

}  // namespace waymark::collector
