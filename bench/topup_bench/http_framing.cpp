#include "bench/topup_bench/http_framing.hpp"

#include <charconv>
#include <cstdint>

namespace topup::bench {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_nocase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

frame_result frame_message(std::string_view buffer, http_message& out,
                           std::size_t max_header_bytes) {
  const std::size_t header_end = buffer.find("\r\n\r\n");
  if (header_end == std::string_view::npos) {
    return buffer.size() > max_header_bytes ? frame_result::malformed : frame_result::need_more;
  }
  const std::string_view head = buffer.substr(0, header_end);
  const std::size_t first_eol = head.find("\r\n");
  out = http_message{};
  out.start_line = head.substr(0, first_eol);
  if (out.start_line.starts_with("HTTP/")) {
    const std::size_t space = out.start_line.find(' ');
    if (space == std::string_view::npos || out.start_line.size() < space + 4) {
      return frame_result::malformed;
    }
    const auto code = out.start_line.substr(space + 1, 3);
    if (std::from_chars(code.data(), code.data() + 3, out.status).ec != std::errc{}) {
      return frame_result::malformed;
    }
  }

  std::uint64_t content_length = 0;
  std::size_t pos = first_eol == std::string_view::npos ? head.size() : first_eol + 2;
  while (pos < head.size()) {
    std::size_t eol = head.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = head.size();
    const std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 2;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (equals_nocase(name, "content-length")) {
      if (std::from_chars(value.data(), value.data() + value.size(), content_length).ec !=
          std::errc{}) {
        return frame_result::malformed;
      }
    } else if (equals_nocase(name, "transfer-encoding")) {
      return frame_result::malformed;
    } else if (equals_nocase(name, "connection")) {
      out.close = equals_nocase(value, "close");
    }
  }
  const std::size_t body_start = header_end + 4;
  if (buffer.size() - body_start < content_length) return frame_result::need_more;
  out.body = buffer.substr(body_start, static_cast<std::size_t>(content_length));
  out.total_bytes = body_start + static_cast<std::size_t>(content_length);
  return frame_result::complete;
}

std::optional<std::string_view> form_value(std::string_view body, std::string_view key) {
  std::size_t pos = 0;
  while (pos <= body.size()) {
    std::size_t amp = body.find('&', pos);
    if (amp == std::string_view::npos) amp = body.size();
    const std::string_view piece = body.substr(pos, amp - pos);
    const std::size_t eq = piece.find('=');
    if (piece.substr(0, eq) == key) {
      return eq == std::string_view::npos ? std::string_view{} : piece.substr(eq + 1);
    }
    pos = amp + 1;
  }
  return std::nullopt;
}

std::string_view envelope_code(std::string_view body) {
  constexpr std::string_view k_marker = "\"code\":\"";
  const std::size_t at = body.find(k_marker);
  if (at == std::string_view::npos || body.size() < at + k_marker.size() + 4) return {};
  return body.substr(at + k_marker.size(), 4);
}

}  // namespace topup::bench
