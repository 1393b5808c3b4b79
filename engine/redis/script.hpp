#pragma once
// A Lua script run with EVALSHA, reloaded with SCRIPT LOAD on NOSCRIPT (e.g. after a Redis
// restart that lost the script cache).
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <vector>

#include "engine/redis/connection.hpp"

namespace topup::engine::redis {

/// Immutable after construction (the SHA1 is computed locally), so one instance may be shared
/// by every shard.
class script {
 public:
  explicit script(std::string source);
  const std::string& sha1() const noexcept { return sha1_; }
  const std::string& source() const noexcept { return source_; }

  /// EVALSHA sha numkeys keys... args...; on a NOSCRIPT error: SCRIPT LOAD, then EVALSHA again.
  boost::asio::awaitable<boost::system::result<reply>> run(connection& conn,
                                                           std::vector<std::string> keys,
                                                           std::vector<std::string> args) const;

 private:
  std::string source_;
  std::string sha1_;
};

}  // namespace topup::engine::redis
