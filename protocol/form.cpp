#include "protocol/form.hpp"

#include "protocol/errc.hpp"

#include <boost/system/system_error.hpp>
#include <boost/throw_exception.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <initializer_list>

namespace topup::protocol {
namespace {

using value_type = form_params::value_type;

constexpr std::size_t k_error_key_bytes_max = 64;

template <class Items>  // std::vector<value_type>, const or not
auto lower_bound_key(Items& items, std::string_view key) noexcept {
  return std::lower_bound(
      items.begin(), items.end(), key,
      [](const value_type& item, std::string_view k) { return std::string_view(item.first) < k; });
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/// Appends the decoded `text` to `out`; false on a malformed escape. Runs without '%' or '+'
/// (most of a real request) are copied in one piece.
bool percent_decode(std::string_view text, std::string& out) {
  out.reserve(out.size() + text.size());
  while (!text.empty()) {
    // A plain loop: string_view::find_first_of tests each byte against the set through
    // char_traits::find and was most of the decoding time.
    std::size_t special = 0;
    while (special < text.size() && text[special] != '%' && text[special] != '+') ++special;
    out.append(text.data(), special);
    if (special == text.size()) break;
    if (text[special] == '+') {
      out.push_back(' ');
      text.remove_prefix(special + 1);
      continue;
    }
    if (text.size() - special < 3) return false;
    const int hi = hex_value(text[special + 1]);
    const int lo = hex_value(text[special + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    text.remove_prefix(special + 3);
  }
  return true;
}

/// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    // Eight ASCII bytes at a time: nearly every value (numbers, ids, URLs) is all ASCII.
    if (n - i >= 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, p + i, sizeof word);
      if ((word & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned char lead = p[i];
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (lead >= 0xC2 && lead <= 0xDF) {
      len = 2;
      cp = lead & 0x1Fu;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      len = 3;
      cp = lead & 0x0Fu;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      len = 4;
      cp = lead & 0x07u;
    } else {
      return false;  // continuation byte as lead, C0/C1 (always overlong), F5..FF
    }
    if (n - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const unsigned char cont = p[i + k];
      if ((cont & 0xC0u) != 0x80u) return false;
      cp = (cp << 6) | (cont & 0x3Fu);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return false;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return false;
    i += len;
  }
  return true;
}

/// The raw key as it may be shown back in a `msg`: printable ASCII kept, anything else '?'.
/// The msg is JSON and logged, so it must stay valid UTF-8 whatever bytes the client sent.
std::string printable_key(std::string_view raw) {
  raw = raw.substr(0, k_error_key_bytes_max);
  std::string out(raw);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7E) c = '?';
  }
  return out;
}

form_error make_error(std::string key, form_fault fault) {
  return form_error{errc::bad_param, std::move(key), fault};
}

bool is_unreserved(unsigned char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

void append_encoded(std::string& out, std::string_view text) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (is_unreserved(u)) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(k_hex[u >> 4]);
      out.push_back(k_hex[u & 0x0Fu]);
    }
  }
}

}  // namespace

const std::string* form_params::find(std::string_view key) const noexcept {
  const auto it = lower_bound_key(items_, key);
  if (it == items_.end() || it->first != key) return nullptr;
  return &it->second;
}

bool form_params::insert(std::string key, std::string value) {
  const auto it = lower_bound_key(items_, key);
  if (it != items_.end() && it->first == key) return false;
  items_.emplace(it, std::move(key), std::move(value));
  return true;
}

void form_params::assign(std::string key, std::string value) {
  const auto it = lower_bound_key(items_, key);
  if (it != items_.end() && it->first == key) {
    it->second = std::move(value);
  } else {
    items_.emplace(it, std::move(key), std::move(value));
  }
}

bool form_params::erase(std::string_view key) noexcept {
  const auto it = lower_bound_key(items_, key);
  if (it == items_.end() || it->first != key) return false;
  items_.erase(it);
  return true;
}

void throw_exception_from_error(const form_error& e, const boost::source_location& loc) {
  boost::throw_exception(boost::system::system_error(e.ec, e.key), loc);
}

boost::system::result<form_params, form_error> decode_form(std::string_view query,
                                                           std::string_view body,
                                                           std::size_t max_params) {
  form_params params;
  params.reserve(std::min<std::size_t>(max_params, 16));
  std::size_t count = 0;
  for (std::string_view source : {query, body}) {
    while (!source.empty()) {
      const std::size_t amp = source.find('&');
      const std::string_view piece = source.substr(0, amp);
      source = amp == std::string_view::npos ? std::string_view{} : source.substr(amp + 1);
      if (piece.empty()) continue;

      const std::size_t eq = piece.find('=');
      const std::string_view raw_key = piece.substr(0, eq);
      const std::string_view raw_value =
          eq == std::string_view::npos ? std::string_view{} : piece.substr(eq + 1);

      if (++count > max_params) return make_error(printable_key(raw_key), form_fault::too_many);

      std::string key;
      if (!percent_decode(raw_key, key) || !is_valid_utf8(key)) {
        return make_error(printable_key(raw_key), form_fault::malformed);
      }
      if (key.empty()) return make_error({}, form_fault::empty_key);
      std::string value;
      if (!percent_decode(raw_value, value) || !is_valid_utf8(value)) {
        return make_error(std::move(key), form_fault::malformed);
      }
      if (!params.insert(std::move(key), std::move(value))) {
        // insert() consumed the key; decoding it again (it decoded fine above) keeps the
        // accepted path to a single binary search per parameter.
        std::string repeated;
        percent_decode(raw_key, repeated);
        return make_error(std::move(repeated), form_fault::repeated);
      }
    }
  }
  return params;
}

std::string form_encode(const form_params& params) {
  std::size_t raw_bytes = 0;
  for (const auto& [key, value] : params) raw_bytes += key.size() + value.size() + 2;
  std::string out;
  // Most values are ASCII alphanumerics; escapes triple a byte, so leave some headroom.
  out.reserve(raw_bytes + raw_bytes / 2);
  bool first = true;
  for (const auto& [key, value] : params) {
    if (!first) out.push_back('&');
    first = false;
    append_encoded(out, key);
    out.push_back('=');
    append_encoded(out, value);
  }
  return out;
}

std::optional<std::int64_t> parse_int(std::string_view text) {
  if (text.empty() || text.size() > 18 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace topup::protocol
