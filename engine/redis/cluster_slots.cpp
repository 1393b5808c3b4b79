#include "engine/redis/cluster_slots.hpp"

#include <algorithm>
#include <charconv>

#include "engine/redis/command.hpp"

namespace topup::engine::redis {
namespace {

constexpr std::array<std::uint16_t, 256> make_crc16_table() {
  std::array<std::uint16_t, 256> table{};
  for (unsigned i = 0; i < 256; ++i) {
    std::uint16_t crc = static_cast<std::uint16_t>(i << 8);
    for (int bit = 0; bit < 8; ++bit)
      crc = static_cast<std::uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    table[i] = crc;
  }
  return table;
}

constexpr auto k_crc16_table = make_crc16_table();

std::optional<std::int64_t> parse_count(std::string_view text) {
  auto n = parse_int(text);
  if (!n || *n < 0) return std::nullopt;
  return n;
}

bool is_one_of(std::string_view word, std::initializer_list<std::string_view> names) {
  return std::any_of(names.begin(), names.end(), [&](std::string_view n) {
    return word.size() == n.size() &&
           std::equal(word.begin(), word.end(), n.begin(), [](char a, char b) {
             return (a >= 'a' && a <= 'z' ? static_cast<char>(a - 'a' + 'A') : a) == b;
           });
  });
}

command_route refused(std::string why) {
  command_route r;
  r.why = std::move(why);
  return r;
}

// Every key must share one slot: the route of that slot, else refused.
template <class Keys>
command_route one_slot(std::string_view name, const Keys& keys) {
  int slot = -1;
  for (std::string_view key : keys) {
    const int s = key_slot(key);
    if (slot >= 0 && s != slot)
      return refused(std::string(name) + " keys span slots " + std::to_string(slot) + " and " +
                     std::to_string(s));
    slot = s;
  }
  command_route r;
  r.to = slot < 0 ? command_route::kind::any : command_route::kind::slot;
  r.slot = slot;
  return r;
}

// A bulk-string header "$<len>\r\n" or the array's "*<n>\r\n" at `at`: its number, and `at`
// moved past it.
std::optional<std::size_t> header(std::string_view resp, std::size_t& at, char kind) {
  if (at >= resp.size() || resp[at] != kind) return std::nullopt;
  const auto end = resp.find("\r\n", at);
  if (end == std::string_view::npos) return std::nullopt;
  auto n = parse_count(resp.substr(at + 1, end - at - 1));
  if (!n) return std::nullopt;
  at = end + 2;
  return static_cast<std::size_t>(*n);
}

}  // namespace

std::uint16_t crc16_xmodem(std::string_view bytes) noexcept {
  std::uint16_t crc = 0;
  for (unsigned char c : bytes)
    crc = static_cast<std::uint16_t>((crc << 8) ^ k_crc16_table[((crc >> 8) ^ c) & 0xff]);
  return crc;
}

int key_slot(std::string_view key) noexcept {
  const auto open = key.find('{');
  if (open != std::string_view::npos) {
    const auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1)
      key = key.substr(open + 1, close - open - 1);
  }
  return crc16_xmodem(key) & (k_cluster_slots - 1);
}

std::optional<node_address> parse_node_address(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto port = parse_int(text.substr(colon + 1));
  if (!port || *port < 1 || *port > 65535) return std::nullopt;
  return node_address{std::string(text.substr(0, colon)), static_cast<int>(*port)};
}

std::optional<std::vector<std::string_view>> resp_words(std::string_view resp) {
  std::size_t at = 0;
  auto count = header(resp, at, '*');
  if (!count || *count == 0) return std::nullopt;
  std::vector<std::string_view> words;
  words.reserve(*count);
  for (std::size_t i = 0; i < *count; ++i) {
    auto len = header(resp, at, '$');
    if (!len || resp.size() - at < *len + 2 || resp.substr(at + *len, 2) != "\r\n")
      return std::nullopt;
    words.push_back(resp.substr(at, *len));
    at += *len + 2;
  }
  if (at != resp.size()) return std::nullopt;
  return words;
}

command_route route_of(const std::vector<std::string_view>& words) {
  if (words.empty()) return refused("empty command");
  const std::string_view name = words[0];
  if (is_one_of(name, {"EVALSHA", "EVAL", "EVALSHA_RO", "EVAL_RO", "FCALL", "FCALL_RO"})) {
    auto numkeys = words.size() >= 3 ? parse_count(words[2]) : std::nullopt;
    if (!numkeys || static_cast<std::size_t>(*numkeys) > words.size() - 3)
      return refused(std::string(name) + " without a valid key count");
    const auto first = words.begin() + 3;
    const std::vector<std::string_view> keys(first, first + *numkeys);
    return one_slot(name, keys);
  }
  if (is_one_of(name, {"SCRIPT"})) {
    command_route r;
    r.to = words.size() >= 2 && is_one_of(words[1], {"LOAD", "FLUSH"})
               ? command_route::kind::every
               : command_route::kind::any;
    return r;
  }
  if (is_one_of(name, {"PING", "TIME", "INFO", "ECHO", "CLUSTER", "COMMAND", "ROLE", "LASTSAVE",
                       "CONFIG", "CLIENT"})) {
    command_route r;
    r.to = command_route::kind::any;
    return r;
  }
  if (is_one_of(name, {"MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH", "WAIT", "SELECT", "ASKING",
                       "READONLY", "READWRITE", "AUTH", "HELLO", "QUIT", "KEYS", "SCAN",
                       "RANDOMKEY", "FLUSHALL", "FLUSHDB", "DBSIZE", "SUBSCRIBE", "PSUBSCRIBE",
                       "MONITOR"}))
    return refused(std::string(name) + " has no meaning across a cluster's connections");
  if (is_one_of(name, {"DEL", "UNLINK", "EXISTS", "TOUCH", "MGET", "SINTER", "SUNION", "SDIFF"})) {
    const std::vector<std::string_view> keys(words.begin() + 1, words.end());
    if (keys.empty()) return refused(std::string(name) + " without keys");
    return one_slot(name, keys);
  }
  if (is_one_of(name, {"MSET", "MSETNX"})) {
    std::vector<std::string_view> keys;
    for (std::size_t i = 1; i < words.size(); i += 2) keys.push_back(words[i]);
    if (keys.empty()) return refused(std::string(name) + " without keys");
    return one_slot(name, keys);
  }
  if (words.size() < 2) return refused(std::string(name) + " without a key");
  command_route r;
  r.to = command_route::kind::slot;
  r.slot = key_slot(words[1]);
  return r;
}

std::optional<redirection> parse_redirection(std::string_view error) {
  redirection r;
  if (error.starts_with("MOVED ")) {
    r.type = redirection::kind::moved;
    error.remove_prefix(6);
  } else if (error.starts_with("ASK ")) {
    r.type = redirection::kind::ask;
    error.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const auto space = error.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  auto slot = parse_int(error.substr(0, space));
  auto to = parse_node_address(error.substr(space + 1));
  if (!slot || *slot < 0 || *slot >= k_cluster_slots || !to) return std::nullopt;
  r.slot = static_cast<int>(*slot);
  r.to = std::move(*to);
  return r;
}

bool is_cluster_retry(std::string_view error) noexcept {
  for (std::string_view p : {std::string_view("TRYAGAIN"), std::string_view("CLUSTERDOWN")})
    if (error.starts_with(p) && (error.size() == p.size() || error[p.size()] == ' ')) return true;
  return false;
}

bool slot_map::complete() const noexcept {
  return std::none_of(owner.begin(), owner.end(), [](std::int16_t i) { return i < 0; });
}

std::int16_t slot_map::index_of(const node_address& address) {
  auto found = std::find(masters.begin(), masters.end(), address);
  if (found != masters.end()) return static_cast<std::int16_t>(found - masters.begin());
  masters.push_back(address);
  return static_cast<std::int16_t>(masters.size() - 1);
}

std::optional<slot_map> parse_cluster_slots(const reply& r, std::string_view asked_host) {
  if (r.type != reply::kind::array) return std::nullopt;
  slot_map map;
  for (const reply& range : r.elements) {
    if (range.type != reply::kind::array || range.elements.size() < 3) return std::nullopt;
    const reply& start = range.elements[0];
    const reply& end = range.elements[1];
    const reply& master = range.elements[2];
    if (start.type != reply::kind::integer || end.type != reply::kind::integer ||
        start.integer < 0 || end.integer < start.integer || end.integer >= k_cluster_slots ||
        master.type != reply::kind::array || master.elements.size() < 2 ||
        !is_string(master.elements[0]) || master.elements[1].type != reply::kind::integer ||
        master.elements[1].integer < 1 || master.elements[1].integer > 65535)
      return std::nullopt;
    // "?" : the node does not know its endpoint; nothing to connect to.
    if (master.elements[0].str == "?") continue;
    node_address address{master.elements[0].str.empty() ? std::string(asked_host)
                                                         : master.elements[0].str,
                         static_cast<int>(master.elements[1].integer)};
    const auto index = map.index_of(address);
    std::fill(map.owner.begin() + start.integer, map.owner.begin() + end.integer + 1, index);
  }
  return map;
}

}  // namespace topup::engine::redis
