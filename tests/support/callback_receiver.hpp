#pragma once
// A local HTTP endpoint that plays the merchant's side of spec §5 for end-to-end tests: it
// receives topupd's result callbacks, records every delivery and answers as each test scripts.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/config/sign_method.hpp"
#include "protocol/form.hpp"

namespace topup::test {

/// How the receiver treats one delivery.
struct callback_reply {
  enum class kind {
    answer,   // an HTTP answer with `status` and `body`
    hang,     // read the request, then neither answer nor close for `hang_for`
    reset,    // read the request, then abort the connection (TCP RST)
    garbage,  // read the request, then write bytes that are not HTTP and close
  };
  kind what = kind::answer;
  unsigned status = 200;
  std::string body = "success";
  std::chrono::milliseconds hang_for{30'000};

  /// HTTP 200 with an acknowledging body (spec §5: `success`, surrounding whitespace ignored).
  static callback_reply success(std::string body = "success");
  /// An HTTP answer that does not acknowledge: another body and/or another status.
  static callback_reply refuse(std::string body = "fail", unsigned status = 200);
  static callback_reply hang(std::chrono::milliseconds how_long = std::chrono::seconds(30));
  static callback_reply reset();
  static callback_reply garbage();
};

/// One callback as the receiver saw it.
struct received_callback {
  std::string tag;     // the path segment after "/cb/" ("" for other paths)
  std::string method;  // "POST", ...
  std::string target;
  std::string content_type;
  std::string body;  // raw
  /// The body decoded as a strict form (spec §1); nullopt when it did not decode.
  std::optional<protocol::form_params> form;
  std::chrono::steady_clock::time_point at;
  std::int64_t wall_ms = 0;    // system clock, comparable with topupd's at_ms
  std::size_t connection = 0;  // which accepted connection (1-based) carried it
  /// Whether the receiver's scripted reply to it acknowledged it (spec §5: HTTP 200, body
  /// `success` give or take surrounding whitespace).
  bool acknowledged = false;

  /// The decoded value of `key`, or nullopt.
  std::optional<std::string> param(std::string_view key) const;
  /// Whether the form carries a `sign` that verifies (spec §2) under `secret` and `method`.
  bool signed_with(std::string_view secret,
                   engine::sign_method method = engine::sign_method::md5) const;
};

/// A loopback HTTP/1.1 server (keep-alive) on 127.0.0.1 and an ephemeral port, run by its own
/// io_context on its own thread, so a blocking test can drive topupd while callbacks arrive.
/// Callback URLs are `url(tag)` = `http://127.0.0.1:<port>/cb/<tag>`; each tag has its own
/// script: a queue of replies used one per delivery, then a reply used for every further one
/// (by default `success`). Every request is recorded before it is answered. Thread-safe.
class callback_receiver {
 public:
  callback_receiver();
  ~callback_receiver();
  callback_receiver(const callback_receiver&) = delete;
  callback_receiver& operator=(const callback_receiver&) = delete;

  int port() const noexcept { return port_; }
  std::string url(const std::string& tag) const;

  /// The next deliveries to `tag` get `first` in order, every later one `then`.
  void script(const std::string& tag, std::vector<callback_reply> first, callback_reply then);
  /// Every delivery to `tag` from now on gets `reply` (drops what was queued).
  void always(const std::string& tag, callback_reply reply) { script(tag, {}, std::move(reply)); }

  /// The deliveries to `tag` so far, oldest first.
  std::vector<received_callback> deliveries(const std::string& tag) const;
  std::size_t count(const std::string& tag) const;
  /// The deliveries of every tag so far, oldest first.
  std::vector<received_callback> all() const;
  /// Requests of any tag so far.
  std::size_t total() const;
  /// TCP connections accepted so far (a refused target must not even connect).
  std::size_t connections() const;
  /// Blocks until `tag` has at least `n` deliveries or `within` passed; returns the count.
  std::size_t wait_for(const std::string& tag, std::size_t n,
                       std::chrono::milliseconds within) const;

  struct session_access;  // the server coroutines' door to the private parts

 private:
  struct tag_script {
    std::deque<callback_reply> first;
    callback_reply then;
  };
  callback_reply record(received_callback delivery);
  std::size_t note_connection();

  // The io_context goes first: destroyed last, after the acceptor, together with any session
  // frames still parked in it.
  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_;
  int port_ = 0;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::map<std::string, tag_script> scripts_;
  std::vector<received_callback> received_;
  std::size_t connections_ = 0;
  std::thread thread_;
};

}  // namespace topup::test
