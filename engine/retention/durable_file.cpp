#include "engine/retention/durable_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace topup::engine {
namespace {

std::string os_error(std::string_view what, const std::filesystem::path& path, int err) {
  return std::string(what) + " " + path.string() + ": " + std::strerror(err);
}

/// Closes its descriptor, once.
class file_descriptor {
 public:
  explicit file_descriptor(int fd) noexcept : fd_(fd) {}
  ~file_descriptor() { close_now(); }
  file_descriptor(const file_descriptor&) = delete;
  file_descriptor& operator=(const file_descriptor&) = delete;

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  /// close(2), reporting its errno (0: fine): a write's error may only show at close (NFS).
  int close_now() noexcept {
    if (fd_ < 0) return 0;
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

/// A name no other writer (thread or process) picks at the same time: pid and a counter.
std::filesystem::path temp_path_for(const std::filesystem::path& path) {
  static std::atomic<unsigned long> counter{0};
  const std::string name = "." + path.filename().string() + "." + std::to_string(::getpid()) + "." +
                           std::to_string(counter.fetch_add(1)) + std::string(k_temp_suffix);
  return path.parent_path() / name;
}

/// All of `bytes` to `fd`, through short writes and signals; 0 or the errno.
int write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

/// `bytes` into a new file at `temp`, on disk when this returns.
text_result<void> write_synced(const std::filesystem::path& temp, std::string_view bytes) {
  file_descriptor fd{::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)};
  if (!fd.valid()) return fail(os_error("cannot create", temp, errno));
  if (const int err = write_all(fd.get(), bytes)) return fail(os_error("cannot write", temp, err));
  if (::fsync(fd.get()) != 0) return fail(os_error("cannot fsync", temp, errno));
  if (const int err = fd.close_now()) return fail(os_error("cannot close", temp, err));
  return {};
}

text_result<void> sync_directory(const std::filesystem::path& dir) {
  file_descriptor fd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (!fd.valid()) return fail(os_error("cannot open directory", dir, errno));
  if (::fsync(fd.get()) != 0) return fail(os_error("cannot fsync directory", dir, errno));
  return {};
}

}  // namespace

text_result<void> write_file_durably(const std::filesystem::path& path, std::string_view bytes) {
  const std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail("cannot create directory " + dir.string() + ": " + ec.message());

  const std::filesystem::path temp = temp_path_for(path);
  auto written = write_synced(temp, bytes);
  if (written && ::rename(temp.c_str(), path.c_str()) != 0) {
    written = fail(os_error("cannot rename onto", path, errno));
  }
  if (!written) {
    ::unlink(temp.c_str());  // best effort: the error already says what went wrong
    return written;
  }
  return sync_directory(dir);
}

text_result<std::optional<std::string>> read_whole_file(const std::filesystem::path& path) {
  file_descriptor fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (!fd.valid()) {
    if (errno == ENOENT) return std::optional<std::string>{};
    return fail(os_error("cannot open", path, errno));
  }
  std::string out;
  std::array<char, 64 * 1024> chunk;
  for (;;) {
    const ssize_t n = ::read(fd.get(), chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(os_error("cannot read", path, errno));
    if (n == 0) return std::optional<std::string>{std::move(out)};
    out.append(chunk.data(), static_cast<std::size_t>(n));
  }
}

}  // namespace topup::engine
