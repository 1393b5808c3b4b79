#pragma once
// Digests the engine computes on its hot path, without OpenSSL's per-call setup.
#include <string>
#include <string_view>

namespace topup::engine {

/// The lower-case hex SHA-1 of `data` (40 characters). Uses the algorithm fetched once per
/// process and a context per thread (EVP_Digest with EVP_sha1() looks the algorithm up and
/// allocates a context on every call: ~4x the hashing itself for an order's few hundred bytes).
/// Throws std::runtime_error if OpenSSL cannot hash (no SHA-1 provider: a setup error).
std::string sha1_hex(std::string_view data);

}  // namespace topup::engine
