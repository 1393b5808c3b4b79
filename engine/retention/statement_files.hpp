#pragma once
// Where the daily statement files live and how they are stored: one gzip file per merchant and
// business day, and per merchant a manifest of their SHA-256 that `sha256sum -c` checks:
//
//   <dir>/m<merchant_id>/<YYYYMMDD>.csv.gz
//   <dir>/m<merchant_id>/MANIFEST.sha256      "<hex>  <YYYYMMDD>.csv.gz" a line, sorted by name
//
// Writers of one merchant's directory (makers of several instances) take an flock(2) on its
// `.manifest.lock` around writing a file and its manifest line: the manifest is read, changed and
// written whole under it.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/retention/business_day.hpp"
#include "engine/retention/gzip.hpp"
#include "engine/retention/text_result.hpp"

namespace topup::engine {

inline constexpr std::string_view k_manifest_name = "MANIFEST.sha256";
inline constexpr std::string_view k_statement_suffix = ".csv.gz";

/// <dir>/m<merchant_id>
std::filesystem::path merchant_statement_dir(const std::filesystem::path& dir,
                                             std::int64_t merchant_id);
/// <dir>/m<merchant_id>/<YYYYMMDD>.csv.gz
std::filesystem::path statement_path(const std::filesystem::path& dir, std::int64_t merchant_id,
                                     business_day day);

/// What write_statement stored.
struct written_statement {
  std::filesystem::path path;
  std::string sha256_hex;  // of the compressed bytes, as in the manifest
  std::size_t compressed_bytes = 0;
};

/// Stores `csv_text` as the merchant's statement of `day`: gzip-compressed, written durably
/// (durable_file.hpp), then its manifest line added or replaced, the manifest written durably
/// the same way. The manifest is read first, so a manifest that cannot be read or parsed stops
/// the write before anything changes. A crash between the two writes leaves the new file with
/// the old line (or none): verify_manifest reports it, and writing the same day again mends it.
text_result<written_statement> write_statement(const std::filesystem::path& dir,
                                               std::int64_t merchant_id, business_day day,
                                               std::string_view csv_text);

/// The stored (gzip) bytes of the merchant's statement of `day`, to serve as they are with
/// `Content-Encoding: gzip`, or through gunzip (gzip.hpp) to clients that do not accept it.
/// nullopt when that statement is not made (spec §3.7: answer 3001).
text_result<std::optional<std::string>> read_statement(const std::filesystem::path& dir,
                                                       std::int64_t merchant_id, business_day day);

/// What is wrong with a merchant's statement files, a line each (empty: nothing): a file whose
/// SHA-256 is not its manifest line's, a file with no line, a line with no file, a manifest or
/// file that cannot be read. A merchant without a directory has nothing wrong.
std::vector<std::string> verify_manifest(const std::filesystem::path& dir,
                                         std::int64_t merchant_id);

}  // namespace topup::engine
