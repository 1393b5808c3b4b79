#include "engine/redis/script.hpp"

#include <openssl/evp.h>

#include <stdexcept>
#include <string_view>
#include <utility>

#include "engine/support/errc.hpp"

namespace topup::engine::redis {
namespace {

// The name Redis gives a script: the lower-case hex SHA1 of its source.
std::string sha1_hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest(sha1) failed");  // no SHA1 in this OpenSSL: a setup bug
  }
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(k_hex[digest[i] >> 4]);
    out.push_back(k_hex[digest[i] & 0x0f]);
  }
  return out;
}

bool is_noscript(const reply& r) {
  return r.is_error() && std::string_view(r.str).starts_with("NOSCRIPT");
}

}  // namespace

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

  auto first = co_await conn.command(command);
  if (!first || !is_noscript(*first)) co_return first;

  // The server lost its script cache (restart, failover, SCRIPT FLUSH): load and retry once.
  // Built outside the co_await expression: GCC 12 rejects a braced list of literals there.
  std::vector<std::string> load{"SCRIPT", "LOAD", source_};
  auto loaded = co_await conn.command(std::move(load));
  if (!loaded) co_return loaded.error();
  if (loaded->is_error()) co_return loaded;
  if (loaded->str != sha1_) co_return make_error_code(errc::storage_protocol);
  co_return co_await conn.command(std::move(command));
}

}  // namespace topup::engine::redis
