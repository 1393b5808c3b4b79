#include "tests/support/callback_receiver.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <utility>

#include "protocol/signing.hpp"

namespace topup::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

callback_reply callback_reply::success(std::string body) {
  callback_reply r;
  r.body = std::move(body);
  return r;
}

callback_reply callback_reply::refuse(std::string body, unsigned status) {
  callback_reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

callback_reply callback_reply::hang(std::chrono::milliseconds how_long) {
  callback_reply r;
  r.what = kind::hang;
  r.hang_for = how_long;
  return r;
}

callback_reply callback_reply::reset() {
  callback_reply r;
  r.what = kind::reset;
  return r;
}

callback_reply callback_reply::garbage() {
  callback_reply r;
  r.what = kind::garbage;
  return r;
}

std::optional<std::string> received_callback::param(std::string_view key) const {
  if (!form) return std::nullopt;
  if (const std::string* v = form->find(key)) return *v;
  return std::nullopt;
}

bool received_callback::signed_with(std::string_view secret, engine::sign_method method) const {
  if (!form) return false;
  const std::string* sign = form->find("sign");
  return sign && protocol::verify_sign(*form, method, secret, *sign);
}

namespace {

std::string tag_of(std::string_view target) {
  constexpr std::string_view k_prefix = "/cb/";
  if (!target.starts_with(k_prefix)) return {};
  target.remove_prefix(k_prefix.size());
  return std::string(target.substr(0, target.find('?')));
}

bool acknowledging_body(std::string_view body) {
  constexpr std::string_view k_spaces = " \t\r\n";
  const auto first = body.find_first_not_of(k_spaces);
  if (first == std::string_view::npos) return false;
  return body.substr(first, body.find_last_not_of(k_spaces) - first + 1) == "success";
}

/// Not an HTTP status line: the client's parser must give up on it.
constexpr std::string_view k_garbage = "\x01\x02 this is not HTTP at all \xff\r\n\r\n";

}  // namespace

struct callback_receiver::session_access {
  static callback_reply record(callback_receiver& self, received_callback delivery) {
    return self.record(std::move(delivery));
  }
  static std::size_t note_connection(callback_receiver& self) { return self.note_connection(); }
};

namespace {

/// Builds the record of one request (kept out of the coroutine body on purpose: GCC 12 and
/// initializer lists inside coroutines do not mix).
received_callback describe(const http::request<http::string_body>& request,
                           std::size_t connection) {
  received_callback d;
  d.method = std::string(request.method_string());
  d.target = std::string(request.target());
  d.tag = tag_of(d.target);
  d.content_type = std::string(request[http::field::content_type]);
  d.body = request.body();
  if (auto decoded = protocol::decode_form({}, d.body)) d.form = std::move(*decoded);
  d.at = std::chrono::steady_clock::now();
  d.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  d.connection = connection;
  return d;
}

http::response<http::string_body> make_answer(const callback_reply& reply, unsigned version,
                                              bool keep_alive) {
  http::response<http::string_body> res;
  res.version(version);
  res.result(reply.status);
  res.set(http::field::content_type, "text/plain");
  res.keep_alive(keep_alive);
  res.body() = reply.body;
  res.prepare_payload();
  return res;
}

asio::awaitable<void> serve(tcp::socket socket, callback_receiver* self) {
  const std::size_t connection = callback_receiver::session_access::note_connection(*self);
  beast::flat_buffer buffer;
  boost::system::error_code ignored;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(1024 * 1024);
    auto [ec, n] =
        co_await http::async_read(socket, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;  // the peer closed (or sent something unreadable): end of session
    auto request = parser.release();
    const callback_reply reply =
        callback_receiver::session_access::record(*self, describe(request, connection));
    switch (reply.what) {
      case callback_reply::kind::answer: {
        auto res = make_answer(reply, request.version(), request.keep_alive());
        auto [wec, wn] =
            co_await http::async_write(socket, res, asio::as_tuple(asio::use_awaitable));
        if (wec || !res.keep_alive()) {
          socket.shutdown(tcp::socket::shutdown_both, ignored);
          socket.close(ignored);
          co_return;
        }
        break;
      }
      case callback_reply::kind::hang: {
        asio::steady_timer timer(socket.get_executor());
        timer.expires_after(reply.hang_for);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        socket.close(ignored);
        co_return;
      }
      case callback_reply::kind::reset: {
        // Linger on with a zero timeout: close() sends RST instead of FIN.
        socket.set_option(tcp::socket::linger(true, 0), ignored);
        socket.close(ignored);
        co_return;
      }
      case callback_reply::kind::garbage: {
        co_await asio::async_write(socket, asio::buffer(k_garbage.data(), k_garbage.size()),
                                   asio::as_tuple(asio::use_awaitable));
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        socket.close(ignored);
        co_return;
      }
    }
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor* acceptor, callback_receiver* self) {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
    if (ec) continue;  // e.g. a connection reset before accept: keep serving
    asio::co_spawn(acceptor->get_executor(), serve(std::move(socket), self), asio::detached);
  }
}

}  // namespace

callback_receiver::callback_receiver() : acceptor_(io_) {
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, accept_loop(&acceptor_, this), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

callback_receiver::~callback_receiver() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

std::string callback_receiver::url(const std::string& tag) const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/cb/" + tag;
}

void callback_receiver::script(const std::string& tag, std::vector<callback_reply> first,
                               callback_reply then) {
  std::lock_guard lock(mutex_);
  auto& s = scripts_[tag];
  s.first.assign(std::make_move_iterator(first.begin()), std::make_move_iterator(first.end()));
  s.then = std::move(then);
}

callback_reply callback_receiver::record(received_callback delivery) {
  std::lock_guard lock(mutex_);
  callback_reply reply;  // unscripted tags acknowledge
  if (auto it = scripts_.find(delivery.tag); it != scripts_.end()) {
    auto& s = it->second;
    if (!s.first.empty()) {
      reply = std::move(s.first.front());
      s.first.pop_front();
    } else {
      reply = s.then;
    }
  }
  delivery.acknowledged = reply.what == callback_reply::kind::answer && reply.status == 200 &&
                          acknowledging_body(reply.body);
  received_.push_back(std::move(delivery));
  changed_.notify_all();
  return reply;
}

std::size_t callback_receiver::note_connection() {
  std::lock_guard lock(mutex_);
  return ++connections_;
}

std::vector<received_callback> callback_receiver::deliveries(const std::string& tag) const {
  std::lock_guard lock(mutex_);
  std::vector<received_callback> out;
  for (const auto& d : received_)
    if (d.tag == tag) out.push_back(d);
  return out;
}

std::size_t callback_receiver::count(const std::string& tag) const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(received_.begin(), received_.end(),
                                                [&](const auto& d) { return d.tag == tag; }));
}

std::vector<received_callback> callback_receiver::all() const {
  std::lock_guard lock(mutex_);
  return received_;
}

std::size_t callback_receiver::total() const {
  std::lock_guard lock(mutex_);
  return received_.size();
}

std::size_t callback_receiver::connections() const {
  std::lock_guard lock(mutex_);
  return connections_;
}

std::size_t callback_receiver::wait_for(const std::string& tag, std::size_t n,
                                        std::chrono::milliseconds within) const {
  const auto deadline = std::chrono::steady_clock::now() + within;
  std::unique_lock lock(mutex_);
  auto counted = [&] {
    return static_cast<std::size_t>(std::count_if(received_.begin(), received_.end(),
                                                  [&](const auto& d) { return d.tag == tag; }));
  };
  changed_.wait_until(lock, deadline, [&] { return counted() >= n; });
  return counted();
}

}  // namespace topup::test
