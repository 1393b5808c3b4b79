#include "engine/redis/script.hpp"

#include <string_view>
#include <utility>

#include "engine/redis/command.hpp"
#include "engine/support/digest.hpp"
#include "engine/support/errc.hpp"

namespace topup::engine::redis {
namespace {

bool is_noscript(const reply& r) {
  return r.is_error() && std::string_view(r.str).starts_with("NOSCRIPT");
}

}  // namespace

// Redis names a script by the lower-case hex SHA-1 of its source.
script::script(std::string source) : source_(std::move(source)), sha1_(sha1_hex(source_)) {}

boost::asio::awaitable<boost::system::result<reply>> script::run(
    connection& conn, std::vector<std::string> keys, std::vector<std::string> args) const {
  std::vector<std::string> command;
  command.reserve(3 + keys.size() + args.size());
  command.emplace_back("EVALSHA");
  command.push_back(sha1_);
  command.push_back(std::to_string(keys.size()));
  for (auto& k : keys) command.push_back(std::move(k));
  for (auto& a : args) command.push_back(std::move(a));

  // Formatted once: a NOSCRIPT answer sends the same bytes again after the load.
  const std::string resp = format_command(command);
  command.clear();
  std::string send = resp;
  auto first = co_await conn.formatted_command(std::move(send));
  if (!first || !is_noscript(*first)) co_return first;

  // The server lost its script cache (restart, failover, SCRIPT FLUSH): load and retry once.
  // Built outside the co_await expression: GCC 12 rejects a braced list of literals there.
  std::vector<std::string> load{"SCRIPT", "LOAD", source_};
  auto loaded = co_await conn.command(std::move(load));
  if (!loaded) co_return loaded.error();
  if (loaded->is_error()) co_return loaded;
  if (loaded->str != sha1_) co_return make_error_code(errc::storage_protocol);
  std::string again = resp;
  auto second = co_await conn.formatted_command(std::move(again));
  co_return second;
}

}  // namespace topup::engine::redis
