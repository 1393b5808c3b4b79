#include "tests/supplier_sim/form_poster.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <utility>

namespace topup::supplier_sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto as_tuple_awaitable = asio::as_tuple(asio::use_awaitable);
constexpr std::uint64_t k_answer_body_max = 64 * 1024;

http::request<http::string_body> make_post(const http_target& where, std::string body) {
  http::request<http::string_body> req(http::verb::post, where.target, 11);
  const bool ipv6 = where.host.find(':') != std::string::npos;
  req.set(http::field::host, (ipv6 ? "[" + where.host + "]" : where.host) + ":" + where.port);
  req.set(http::field::content_type, "application/x-www-form-urlencoded");
  req.set(http::field::user_agent, "topup-supplier-sim");
  req.keep_alive(false);
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

}  // namespace

std::optional<http_target> parse_http_target(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (url.substr(0, scheme.size()) != scheme) return std::nullopt;
  url.remove_prefix(scheme.size());
  const auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  http_target out;
  out.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  out.port = "80";
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty()) {
      if (authority.front() != ':') return std::nullopt;
      out.port = std::string(authority.substr(1));
    }
  } else {
    const auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) out.port = std::string(authority.substr(colon + 1));
  }
  if (out.host.empty() || out.port.empty()) return std::nullopt;
  for (char c : out.port)
    if (c < '0' || c > '9') return std::nullopt;
  return out;
}

asio::awaitable<form_post_result> post_form(asio::io_context& io, std::string url,
                                            std::string form_body,
                                            std::chrono::milliseconds timeout) {
  form_post_result result;
  const auto where = parse_http_target(url);
  if (!where) {
    result.ec = asio::error::invalid_argument;
    co_return result;
  }
  tcp::resolver resolver(io);
  auto [resolve_ec, endpoints] =
      co_await resolver.async_resolve(where->host, where->port, as_tuple_awaitable);
  if (resolve_ec) {
    result.ec = resolve_ec;
    co_return result;
  }
  beast::tcp_stream stream(io);
  // One deadline for connect, write and read together.
  stream.expires_after(timeout);
  auto [connect_ec, endpoint] = co_await stream.async_connect(endpoints, as_tuple_awaitable);
  if (connect_ec) {
    result.ec = connect_ec;
    co_return result;
  }
  auto request = make_post(*where, std::move(form_body));
  auto [write_ec, written] = co_await http::async_write(stream, request, as_tuple_awaitable);
  if (write_ec) {
    result.ec = write_ec;
    co_return result;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(k_answer_body_max);
  auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, as_tuple_awaitable);
  if (read_ec) {
    result.ec = read_ec;
    co_return result;
  }
  result.status = parser.get().result_int();
  result.body = std::move(parser.get().body());
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  co_return result;
}

}  // namespace topup::supplier_sim
