#include "engine/support/durable_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace topup::engine {
namespace {

std::string failure(const std::string& path, std::string_view call, int error) {
  return std::string(call) + " " + path + ": " + std::strerror(error);
}

/// Writes all of `bytes` to `fd`, retrying short writes and EINTR; 0 or the errno.
int write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

int fsync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  const int rc = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return rc;
}

}  // namespace

std::optional<std::string> write_file_atomically(const std::string& path, std::string_view bytes) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
  std::error_code made;
  fs::create_directories(dir, made);
  if (made) return "mkdir " + dir + ": " + made.message();

  static std::atomic<unsigned> counter{0};
  const std::string temp = path + ".tmp-" + std::to_string(::getpid()) + "-" +
                           std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return failure(temp, "open", errno);
  int rc = write_all(fd, bytes);
  std::string_view call = "write";
  if (rc == 0 && ::fsync(fd) != 0) rc = errno, call = "fsync";
  if (::close(fd) != 0 && rc == 0) rc = errno, call = "close";
  if (rc == 0 && ::rename(temp.c_str(), path.c_str()) != 0) rc = errno, call = "rename";
  if (rc != 0) {
    ::unlink(temp.c_str());
    return failure(temp, call, rc);
  }
  if (int synced = fsync_directory(dir); synced != 0) return failure(dir, "fsync", synced);
  return std::nullopt;
}

}  // namespace topup::engine
