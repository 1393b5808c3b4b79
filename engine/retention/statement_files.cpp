#include "engine/retention/statement_files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <system_error>

#include "engine/retention/durable_file.hpp"
#include "engine/support/digest.hpp"

namespace topup::engine {
namespace {

namespace fs = std::filesystem;

/// The manifest: file name -> lower-case hex SHA-256. A map, so it is written sorted by name
/// and a file written again replaces its line.
using manifest = std::map<std::string, std::string>;

inline constexpr std::size_t k_sha256_hex_chars = 64;

bool is_lower_hex(std::string_view text) {
  return text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

/// One manifest line, "<hex>  <name>" (`sha256sum`'s text mode; its binary mode " *<name>" is
/// read too, as `sha256sum -c` does). nullopt when it is neither.
std::optional<std::pair<std::string, std::string>> parse_manifest_line(std::string_view line) {
  if (line.size() <= k_sha256_hex_chars + 2) return std::nullopt;
  const std::string_view hex = line.substr(0, k_sha256_hex_chars);
  const std::string_view mode = line.substr(k_sha256_hex_chars, 2);
  if (!is_lower_hex(hex) || (mode != "  " && mode != " *")) return std::nullopt;
  return std::pair{std::string(line.substr(k_sha256_hex_chars + 2)), std::string(hex)};
}

text_result<manifest> parse_manifest(std::string_view text) {
  manifest out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t end = text.find('\n');
    if (end == std::string_view::npos) {
      return fail(std::string(k_manifest_name) + " line " + std::to_string(line_no) +
                  ": not ended by LF");
    }
    const auto entry = parse_manifest_line(text.substr(0, end));
    text.remove_prefix(end + 1);
    if (!entry || !out.emplace(entry->first, entry->second).second) {
      return fail(std::string(k_manifest_name) + " line " + std::to_string(line_no) +
                  (entry ? ": a second line for " + entry->first : ": not \"<sha256>  <name>\""));
    }
  }
  return out;
}

std::string render_manifest(const manifest& m) {
  std::string out;
  for (const auto& [name, hex] : m) out += hex + "  " + name + "\n";
  return out;
}

fs::path manifest_path(const fs::path& dir, std::int64_t merchant_id) {
  return merchant_statement_dir(dir, merchant_id) / k_manifest_name;
}

/// The merchant's manifest; empty when there is none yet.
text_result<manifest> read_manifest(const fs::path& dir, std::int64_t merchant_id) {
  auto text = read_whole_file(manifest_path(dir, merchant_id));
  if (!text) return text.error();
  if (!*text) return manifest{};
  return parse_manifest(**text);
}

std::string statement_file_name(business_day day) {
  return day.to_string() + std::string(k_statement_suffix);
}

/// The statement files in a merchant's directory, sorted by name: `*.csv.gz`, not hidden (temp
/// files of durable_file start with `.`).
text_result<std::vector<std::string>> list_statement_files(const fs::path& merchant_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(merchant_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.starts_with(".") || !name.ends_with(k_statement_suffix)) continue;
    names.push_back(name);
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return fail("cannot list " + merchant_dir.string() + ": " + ec.message());
  }
  std::sort(names.begin(), names.end());
  return names;
}

/// The problem with one listed file against its manifest line, if any.
std::optional<std::string> check_file(const fs::path& merchant_dir, const std::string& name,
                                      const manifest& m) {
  const auto line = m.find(name);
  if (line == m.end()) return name + ": not in " + std::string(k_manifest_name);
  auto bytes = read_whole_file(merchant_dir / name);
  if (!bytes) return bytes.error().message();
  if (!*bytes) return name + ": gone while being checked";
  if (sha256_hex(**bytes) != line->second) {
    return name + ": its SHA-256 is not the one in " + std::string(k_manifest_name);
  }
  return std::nullopt;
}

/// An exclusive flock(2) on `<merchant dir>/.manifest.lock` while held: makers of two instances
/// (a lapsed statement lock) never interleave the manifest's read-change-write and lose a line.
class manifest_lock {
 public:
  explicit manifest_lock(const fs::path& merchant_dir) {
    std::error_code ec;
    fs::create_directories(merchant_dir, ec);
    const fs::path path = merchant_dir / ".manifest.lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      error_ = path.string() + ": " + std::strerror(errno);
      return;
    }
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      error_ = path.string() + ": flock: " + std::strerror(errno);
      return;
    }
  }
  ~manifest_lock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }
  manifest_lock(const manifest_lock&) = delete;
  manifest_lock& operator=(const manifest_lock&) = delete;

  /// Empty when held, else why not.
  const std::string& error() const { return error_; }

 private:
  int fd_ = -1;
  std::string error_;
};

}  // namespace

fs::path merchant_statement_dir(const fs::path& dir, std::int64_t merchant_id) {
  return dir / ("m" + std::to_string(merchant_id));
}

fs::path statement_path(const fs::path& dir, std::int64_t merchant_id, business_day day) {
  return merchant_statement_dir(dir, merchant_id) / statement_file_name(day);
}

text_result<written_statement> write_statement(const fs::path& dir, std::int64_t merchant_id,
                                               business_day day, std::string_view csv_text) {
  auto lines = read_manifest(dir, merchant_id);
  if (!lines) return lines.error();

  written_statement out{statement_path(dir, merchant_id, day), {}, 0};
  const std::string bytes = gzip(csv_text);
  out.sha256_hex = sha256_hex(bytes);
  out.compressed_bytes = bytes.size();
  const manifest_lock locked(merchant_statement_dir(dir, merchant_id));
  if (!locked.error().empty()) return fail(locked.error());
  if (auto w = write_file_durably(out.path, bytes); !w) return w.error();

  // Read again under the lock: another writer may have added lines since the first read.
  lines = read_manifest(dir, merchant_id);
  if (!lines) return lines.error();
  (*lines)[statement_file_name(day)] = out.sha256_hex;
  if (auto w = write_file_durably(manifest_path(dir, merchant_id), render_manifest(*lines)); !w) {
    return w.error();
  }
  return out;
}

text_result<std::optional<std::string>> read_statement(const fs::path& dir,
                                                       std::int64_t merchant_id, business_day day) {
  return read_whole_file(statement_path(dir, merchant_id, day));
}

std::vector<std::string> verify_manifest(const fs::path& dir, std::int64_t merchant_id) {
  const fs::path merchant_dir = merchant_statement_dir(dir, merchant_id);
  const auto m = read_manifest(dir, merchant_id);
  if (!m) return {m.error().message()};
  const auto names = list_statement_files(merchant_dir);
  if (!names) return {names.error().message()};

  std::vector<std::string> problems;
  for (const std::string& name : *names) {
    if (auto problem = check_file(merchant_dir, name, *m)) problems.push_back(std::move(*problem));
  }
  for (const auto& [name, hex] : *m) {
    if (!std::binary_search(names->begin(), names->end(), name)) {
      problems.push_back(name + ": in " + std::string(k_manifest_name) + ", but no such file");
    }
  }
  return problems;
}

}  // namespace topup::engine
