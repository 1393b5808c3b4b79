#pragma once
// gzip (RFC 1952) in memory, with zlib: the statement files are stored compressed and served as
// they are to clients that accept gzip (spec §3.7).
#include <cstddef>
#include <string>
#include <string_view>

#include "engine/retention/text_result.hpp"

namespace topup::engine {

/// The largest text gunzip gives back. A day's statement of a busy merchant is tens of MiB;
/// the bound stops a corrupt or hostile file (a "zip bomb") from taking the process's memory.
inline constexpr std::size_t k_gunzip_max_bytes = 1ULL << 30;

/// `data` as one gzip member. Deterministic (no name, no time in the gzip header, fixed
/// level): the same text always gives the same bytes, so a statement made again has the same
/// SHA-256 in the manifest.
std::string gzip(std::string_view data);

/// The text of gzip `bytes` (exactly one member, nothing after it); an error for anything else:
/// not gzip, truncated, a bad checksum, trailing bytes, more than `max_bytes` of text.
text_result<std::string> gunzip(std::string_view bytes, std::size_t max_bytes = k_gunzip_max_bytes);

}  // namespace topup::engine
