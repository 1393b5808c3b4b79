#include "engine/redis/command.hpp"

namespace topup::engine::redis {
namespace {

std::size_t decimal_digits(std::size_t n) noexcept {
  std::size_t digits = 1;
  while (n >= 10) {
    n /= 10;
    ++digits;
  }
  return digits;
}

void put_header(std::string& out, char kind, std::size_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.push_back(kind);
  out.append(buf, end);
  out.append("\r\n", 2);
}

}  // namespace

std::string format_command(const std::vector<std::string>& words) {
  std::size_t size = 1 + decimal_digits(words.size()) + 2;
  for (const auto& w : words) size += 1 + decimal_digits(w.size()) + 2 + w.size() + 2;
  std::string out;
  out.reserve(size);
  put_header(out, '*', words.size());
  for (const auto& w : words) {
    put_header(out, '$', w.size());
    out.append(w);
    out.append("\r\n", 2);
  }
  return out;
}

}  // namespace topup::engine::redis
