// What the brand's authority signs (erasure tokens, identity assertions) shares one shape: a fixed
// body of little-endian fields, then an Ed25519 signature over a domain line and the body, so a
// signature made for one kind of statement never verifies as another.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace waymark::collector::authority {

inline constexpr size_t kSignatureBytes = 64;

void put_le64(std::vector<uint8_t>& out, int64_t v);
int64_t get_le64(const uint8_t* p);

// Appends the signature by `secret` (64-byte Ed25519) over `domain` and every byte of `body` so far.
void sign_into(std::vector<uint8_t>& body, std::string_view domain, const uint8_t* secret);

// Whether the last 64 bytes of `statement` are a signature, by one of `keys`, over `domain` and the rest.
bool signed_by_any(std::span<const uint8_t> statement, std::string_view domain,
                   const std::vector<std::array<uint8_t, 32>>& keys);

}  // namespace waymark::collector::authority
