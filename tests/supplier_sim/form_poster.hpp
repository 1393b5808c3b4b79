#pragma once
// The simulator's outgoing HTTP: one form POST per call (its result callbacks), plain http://.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace topup::supplier_sim {

/// An http:// URL split for a request: host (IPv6 without brackets), port, target path.
struct http_target {
  std::string host;
  std::string port;
  std::string target;  // "/..." (at least "/")
};

/// "http://host[:port][/path]"; nullopt for anything else (https:// included: the simulator
/// speaks plain HTTP only, which is all loopback tests need).
std::optional<http_target> parse_http_target(std::string_view url);

/// What one POST came back with. `ec` is set when no HTTP answer was read (unparseable URL,
/// resolve, connect, write, read, timeout).
struct form_post_result {
  boost::system::error_code ec;
  unsigned status = 0;
  std::string body;
};

/// POSTs `form_body` (application/x-www-form-urlencoded) to `url` on a fresh connection that is
/// closed afterwards, the whole exchange bounded by `timeout`. Runs on `io`'s thread.
boost::asio::awaitable<form_post_result> post_form(boost::asio::io_context& io, std::string url,
                                                   std::string form_body,
                                                   std::chrono::milliseconds timeout);

}  // namespace topup::supplier_sim
