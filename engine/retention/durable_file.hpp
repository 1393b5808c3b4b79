#pragma once
// Whole files written so that a crash leaves either the old file or the new one, never a torn
// one, and a power loss right after the call returns keeps the new one.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "engine/retention/text_result.hpp"

namespace topup::engine {

/// Replaces (or creates) `path` with `bytes`: a temp file in the same directory (rename is
/// atomic only within one file system), written, fsync'd, renamed over `path`, then the
/// directory fsync'd (the rename itself is only durable once the directory is). On failure the
/// temp file is removed and `path` is as it was. Temp names start with `.` and end in `.tmp`
/// (k_temp_suffix), so listings of the real files skip them. Creates missing directories.
text_result<void> write_file_durably(const std::filesystem::path& path, std::string_view bytes);

/// The whole content of `path`; nullopt when there is no such file.
text_result<std::optional<std::string>> read_whole_file(const std::filesystem::path& path);

inline constexpr std::string_view k_temp_suffix = ".tmp";

}  // namespace topup::engine
