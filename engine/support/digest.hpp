#pragma once
// Digests the engine computes, without OpenSSL's per-call setup (the hot path hashes per order).
#include <string>
#include <string_view>

namespace topup::engine {

/// The lower-case hex SHA-1 of `data` (40 characters). Uses the algorithm fetched once per
/// process and a context per thread (EVP_Digest with EVP_sha1() looks the algorithm up and
/// allocates a context on every call: ~4x the hashing itself for an order's few hundred bytes).
/// Throws std::runtime_error if OpenSSL cannot hash (no SHA-1 provider: a setup error).
std::string sha1_hex(std::string_view data);

/// The lower-case hex SHA-256 of `data` (64 characters), the same way: the daily statement
/// files' manifest (`sha256sum -c` checks it). Throws std::runtime_error like sha1_hex.
std::string sha256_hex(std::string_view data);

}  // namespace topup::engine
