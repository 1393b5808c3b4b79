#pragma once
// Files that must survive a crash whole or not at all: the archive of orders that left Redis and
// the daily statements (issue 16). Blocking POSIX I/O: callers keep the files small and call it
// off the order path (the retention pass on one shard).
#include <optional>
#include <string>
#include <string_view>

namespace topup::engine {

/// Writes `bytes` to `path` atomically: a temporary file in the same directory (created with
/// its parents when missing), written whole, fsync'd, renamed over `path`, then the directory
/// fsync'd. After a crash at any point `path` is either absent, its old content, or `bytes`;
/// a temporary file may be left behind (named `<name>.tmp-<pid>-<n>`; harmless, never read).
/// Answers nullopt on success, else one line naming the path and the failing call.
std::optional<std::string> write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace topup::engine
