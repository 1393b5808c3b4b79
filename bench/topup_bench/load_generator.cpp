#include "bench/topup_bench/load_generator.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>

#include "bench/topup_bench/http_framing.hpp"

namespace topup::bench {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace {

asio::steady_timer::time_point steady_at(std::int64_t ns) {
  return asio::steady_timer::time_point(
      std::chrono::duration_cast<asio::steady_timer::duration>(std::chrono::nanoseconds(ns)));
}

/// The clock of one run, shared read-only by the workers (plus two atomics).
struct run_schedule {
  std::int64_t start_ns = 0;
  std::int64_t window_start_ns = 0;
  std::int64_t window_end_ns = 0;
  double interval_ns = 0;                     ///< open loop: 1e9 / rate
  std::atomic<std::size_t> next_index{0};     ///< closed loop: next request of the pool
  std::atomic<std::int64_t> exhausted_ns{0};  ///< when the pool ran out (0: it did not)

  std::int64_t intended_ns(std::size_t index) const noexcept {
    return start_ns + std::llround(static_cast<double>(index) * interval_ns);
  }
};

/// The few facts of an answer the worker needs; copied out of the receive buffer before the
/// connection reuses it.
struct answer_summary {
  int status = 0;
  std::array<char, 4> code{};
  bool close = false;
};

class load_worker;

/// One keep-alive connection with at most one request outstanding (no pipelining), plain or
/// TLS. Owned by its worker and used only on the worker's thread.
class client_connection {
 public:
  /// `tls`: null for plain HTTP; otherwise the client context every connection shakes hands with.
  client_connection(load_worker& worker, asio::io_context& io, ssl::context* tls)
      : worker_(worker), socket_(io), tls_context_(tls), in_(16384) {}

  void open(const tcp::endpoint& endpoint);
  void reopen(const tcp::endpoint& endpoint);
  void send(std::string_view request, std::size_t index, std::int64_t start_ns);
  void shut() {
    shut_ = true;
    error_code ignored;
    socket_.close(ignored);
  }
  std::int64_t start_ns() const noexcept { return start_ns_; }
  bool must_reopen = false;

 private:
  void configure();
  void read();
  void on_read(const error_code& ec, std::size_t n);
  void fail();

  load_worker& worker_;
  tcp::socket socket_;
  ssl::context* tls_context_;
  /// Over TLS, the stream on socket_; a fresh one per connection (a new TLS session each time).
  std::unique_ptr<ssl::stream<tcp::socket&>> tls_;
  std::vector<char> in_;
  std::size_t in_used_ = 0;
  std::int64_t start_ns_ = 0;
  bool failed_ = false;  // the current request already reported its transport error
  bool shut_ = false;
};

/// One generator thread: its own io_context, a share of the connections, its own counters and
/// histogram (merged after the run, so the hot path shares nothing but two atomics).
class load_worker {
 public:
  load_worker(const request_pool& pool, const load_plan& plan, run_schedule& schedule,
              unsigned ordinal, std::vector<std::int64_t>* send_ns, ssl::context* tls)
      : tls_(tls),
        pool_(pool),
        plan_(plan),
        schedule_(schedule),
        send_ns_(send_ns),
        start_timer_(io_),
        pump_timer_(io_),
        end_timer_(io_),
        grace_timer_(io_),
        next_open_index_(ordinal) {}

  void open_connections(unsigned count, const tcp::endpoint& endpoint) {
    endpoint_ = endpoint;
    for (unsigned i = 0; i < count; ++i) {
      connections_.push_back(std::make_unique<client_connection>(*this, io_, tls_));
      connections_.back()->open(endpoint);
    }
  }

  void run() {
    start_timer_.expires_at(steady_at(schedule_.start_ns));
    start_timer_.async_wait([this](const error_code& ec) {
      if (!ec) begin();
    });
    io_.run();
  }

  load_outcome& outcome() noexcept { return out_; }
  std::int64_t last_answer_ns() const noexcept { return last_answer_ns_; }

  void on_answer(client_connection& c, const answer_summary& a, std::int64_t end_ns) {
    if (finished_) return;
    --busy_;
    last_answer_ns_ = end_ns;
    const bool ok =
        a.status == 200 && (!plan_.expect_envelope || std::string_view(a.code.data(), 4) == "0000");
    if (ok) {
      ++out_.ok;
      const auto second = static_cast<std::size_t>(
          std::max<std::int64_t>(0, end_ns - schedule_.start_ns) / 1'000'000'000);
      if (second >= out_.ok_per_second.size()) out_.ok_per_second.resize(second + 1, 0);
      ++out_.ok_per_second[second];
      if (in_window(end_ns)) {
        ++out_.ok_in_window;
        out_.latency.record(end_ns - c.start_ns());
      }
    } else {
      ++out_.failed;
      std::string key = "HTTP " + std::to_string(a.status);
      if (a.code[0] != 0) key += " code " + std::string(a.code.data(), 4);
      ++out_.failures[key];
    }
    if (a.close) {
      c.must_reopen = true;
      ++out_.reconnects;
    }
    next_step(c);
  }

  void on_transport_error(client_connection& c) {
    if (finished_) return;
    --busy_;
    ++out_.transport_errors;
    c.must_reopen = true;
    next_step(c);
  }

  void on_reopened(client_connection& c, bool ok) {
    if (finished_) return;
    --busy_;
    if (!ok) {
      // A connection that cannot come back is dropped for the rest of the run.
      ++out_.transport_errors;
      if (++dead_ == connections_.size()) stop_sending();
      maybe_finish();
      return;
    }
    ++out_.reconnects;
    c.must_reopen = false;
    next_step(c);
  }

 private:
  bool in_window(std::int64_t end_ns) const noexcept {
    if (plan_.count_mode) return true;
    if (end_ns < schedule_.window_start_ns || end_ns >= schedule_.window_end_ns) return false;
    const std::int64_t exhausted = schedule_.exhausted_ns.load(std::memory_order_relaxed);
    return exhausted == 0 || end_ns < exhausted;
  }

  void begin() {
    if (!plan_.count_mode) {
      end_timer_.expires_at(steady_at(schedule_.window_end_ns));
      end_timer_.async_wait([this](const error_code& ec) {
        if (!ec) stop_sending();
      });
    } else if (plan_.count_limit_s > 0) {
      end_timer_.expires_at(
          steady_at(schedule_.start_ns + static_cast<std::int64_t>(plan_.count_limit_s * 1e9)));
      end_timer_.async_wait([this](const error_code& ec) {
        if (ec || stopping_) return;
        out_.count_limited = true;
        stop_sending();
      });
    }
    if (plan_.open_loop) {
      for (auto& c : connections_) idle_.push_back(c.get());
      pump();
    } else {
      for (auto& c : connections_) next_step(*c);
    }
  }

  /// A connection is free again (answer, error or reconnect done): give it work or park it.
  void next_step(client_connection& c) {
    if (stopping_) {
      maybe_finish();
      return;
    }
    if (c.must_reopen) {
      ++busy_;
      c.reopen(endpoint_);
      return;
    }
    if (plan_.open_loop) {
      idle_.push_back(&c);
      pump();
      return;
    }
    const std::size_t index = schedule_.next_index.fetch_add(1, std::memory_order_relaxed);
    if (index >= pool_.size()) {
      pool_ran_out();
      return;
    }
    const std::int64_t start = now_ns();
    if (send_ns_) (*send_ns_)[index] = start;
    ++busy_;
    ++out_.sent;
    c.send(pool_.request(index), index, start);
  }

  /// Open loop: sends every request whose intended time has come, as long as a connection is
  /// free; otherwise the backlog waits for the next answer, and its latency still counts from
  /// the intended time.
  void pump() {
    if (stopping_) return;
    for (;;) {
      const std::size_t index = next_open_index_;
      if (index >= pool_.size()) {
        pool_ran_out();
        return;
      }
      const std::int64_t intended = schedule_.intended_ns(index);
      if (intended >= schedule_.window_end_ns) {
        stop_sending();
        return;
      }
      const std::int64_t now = now_ns();
      if (intended > now) {
        arm_pump(intended);
        return;
      }
      out_.max_send_lag_ns = std::max(out_.max_send_lag_ns, now - intended);
      if (idle_.empty()) return;
      client_connection* c = idle_.back();
      idle_.pop_back();
      ++busy_;
      if (c->must_reopen) {
        c->reopen(endpoint_);
        continue;
      }
      if (send_ns_) (*send_ns_)[index] = intended;
      ++out_.sent;
      next_open_index_ += plan_.threads;
      c->send(pool_.request(index), index, intended);
    }
  }

  void arm_pump(std::int64_t at_ns) {
    // Due times only move forward, so a timer armed for an earlier time simply fires first and
    // re-arms: no cancellation needed.
    if (pump_armed_) return;
    pump_armed_ = true;
    pump_timer_.expires_at(steady_at(at_ns));
    pump_timer_.async_wait([this](const error_code& ec) {
      pump_armed_ = false;
      if (!ec) pump();
    });
  }

  void pool_ran_out() {
    if (!plan_.count_mode) {
      std::int64_t expected = 0;
      schedule_.exhausted_ns.compare_exchange_strong(expected, now_ns());
      out_.pool_exhausted = true;
    }
    stop_sending();
  }

  void stop_sending() {
    if (stopping_) return;
    stopping_ = true;
    grace_timer_.expires_after(plan_.stop_grace);
    grace_timer_.async_wait([this](const error_code& ec) {
      if (ec) return;
      out_.unanswered = busy_;
      finish();
    });
    maybe_finish();
  }

  void maybe_finish() {
    if (stopping_ && busy_ == 0) finish();
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    start_timer_.cancel();
    pump_timer_.cancel();
    end_timer_.cancel();
    grace_timer_.cancel();
    for (auto& c : connections_) c->shut();
  }

  ssl::context* tls_;
  const request_pool& pool_;
  const load_plan& plan_;
  run_schedule& schedule_;
  std::vector<std::int64_t>* send_ns_;
  asio::io_context io_{1};
  asio::steady_timer start_timer_;
  asio::steady_timer pump_timer_;
  asio::steady_timer end_timer_;
  asio::steady_timer grace_timer_;
  tcp::endpoint endpoint_;
  std::vector<std::unique_ptr<client_connection>> connections_;
  std::vector<client_connection*> idle_;
  std::size_t busy_ = 0;  // connections with a request or a reconnect outstanding
  std::size_t dead_ = 0;
  bool stopping_ = false;
  bool finished_ = false;
  bool pump_armed_ = false;
  std::size_t next_open_index_;
  std::int64_t last_answer_ns_ = 0;
  load_outcome out_;

  friend class client_connection;
};

void client_connection::configure() {
  socket_.set_option(tcp::no_delay(true));
  socket_.non_blocking(true);
}

void client_connection::open(const tcp::endpoint& endpoint) {
  error_code ec;
  socket_.connect(endpoint, ec);
  if (!ec && tls_context_) {
    tls_ = std::make_unique<ssl::stream<tcp::socket&>>(socket_, *tls_context_);
    tls_->handshake(ssl::stream_base::client, ec);
  }
  if (ec) {
    throw std::runtime_error("cannot connect to " + endpoint.address().to_string() + ":" +
                             std::to_string(endpoint.port()) + ": " + ec.message());
  }
  configure();
}

void client_connection::reopen(const tcp::endpoint& endpoint) {
  error_code ignored;
  tls_.reset();
  socket_.close(ignored);
  in_used_ = 0;
  socket_.async_connect(endpoint, [this](const error_code& ec) {
    if (shut_) return;
    if (!ec) {
      error_code option_ec;
      socket_.set_option(tcp::no_delay(true), option_ec);
      socket_.non_blocking(true, option_ec);
    }
    if (ec || !tls_context_) return worker_.on_reopened(*this, !ec);
    tls_ = std::make_unique<ssl::stream<tcp::socket&>>(socket_, *tls_context_);
    tls_->async_handshake(ssl::stream_base::client, [this](const error_code& handshake_ec) {
      if (!shut_) worker_.on_reopened(*this, !handshake_ec);
    });
  });
}

void client_connection::send(std::string_view request, std::size_t /*index*/,
                             std::int64_t start_ns) {
  start_ns_ = start_ns;
  failed_ = false;
  if (tls_) {
    // TLS records are written by the stream: no direct write, the answer is read after it.
    asio::async_write(*tls_, asio::buffer(request.data(), request.size()),
                      [this](const error_code& write_ec, std::size_t) {
                        if (shut_) return;
                        if (write_ec) return fail();
                        read();
                      });
    return;
  }
  // Write directly: a request of a few hundred bytes always fits the send buffer of a
  // connection with nothing outstanding, which saves a trip through the reactor per request.
  error_code ec;
  std::size_t written = socket_.write_some(asio::buffer(request.data(), request.size()), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    written = 0;
    ec = {};
  }
  if (ec) {
    // Reported from the reactor, never from inside the caller's loop.
    asio::post(socket_.get_executor(), [this] { fail(); });
    return;
  }
  if (written < request.size()) {
    asio::async_write(socket_, asio::buffer(request.data() + written, request.size() - written),
                      [this](const error_code& write_ec, std::size_t) {
                        if (write_ec && !shut_) fail();
                      });
  }
  read();
}

void client_connection::read() {
  if (in_used_ == in_.size()) in_.resize(in_.size() * 2);
  const auto space = asio::buffer(in_.data() + in_used_, in_.size() - in_used_);
  const auto done = [this](const error_code& ec, std::size_t n) { on_read(ec, n); };
  if (tls_) return tls_->async_read_some(space, done);
  socket_.async_read_some(space, done);
}

void client_connection::on_read(const error_code& ec, std::size_t n) {
  if (shut_ || failed_) return;
  if (ec) return fail();
  in_used_ += n;
  http_message message;
  switch (frame_message(std::string_view(in_.data(), in_used_), message)) {
    case frame_result::need_more:
      return read();
    case frame_result::malformed:
      return fail();
    case frame_result::complete:
      break;
  }
  const std::int64_t end = now_ns();
  answer_summary answer;
  answer.status = message.status;
  answer.close = message.close;
  const std::string_view code = envelope_code(message.body);
  if (code.size() == 4) std::memcpy(answer.code.data(), code.data(), 4);
  // Consume before handing over: the worker may send the next request at once, and a
  // speculative read may then fill the buffer again.
  const std::size_t leftover = in_used_ - message.total_bytes;
  if (leftover) std::memmove(in_.data(), in_.data() + message.total_bytes, leftover);
  in_used_ = leftover;
  worker_.on_answer(*this, answer, end);
}

void client_connection::fail() {
  if (failed_ || shut_) return;
  failed_ = true;
  error_code ignored;
  socket_.close(ignored);
  worker_.on_transport_error(*this);
}

}  // namespace

load_outcome run_load(const request_pool& pool, const load_plan& plan,
                      std::vector<std::int64_t>* send_ns) {
  if (plan.threads == 0 || plan.connections < plan.threads) {
    throw std::runtime_error("need at least one connection per generator thread");
  }
  if (plan.open_loop && !(plan.rate_per_s > 0)) throw std::runtime_error("open loop needs a rate");
  if (send_ns && send_ns->size() < pool.size()) send_ns->resize(pool.size());

  run_schedule schedule;
  if (plan.open_loop) schedule.interval_ns = 1e9 / plan.rate_per_s;
  // One client context for every thread's connections (OpenSSL contexts are thread-safe).
  std::optional<ssl::context> tls;
  if (plan.tls) {
    tls.emplace(ssl::context::tls_client);
    tls->set_verify_mode(ssl::verify_none);
  }
  const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), plan.port);

  std::vector<std::unique_ptr<load_worker>> workers;
  for (unsigned t = 0; t < plan.threads; ++t) {
    workers.push_back(
        std::make_unique<load_worker>(pool, plan, schedule, t, send_ns, tls ? &*tls : nullptr));
    const unsigned share =
        plan.connections / plan.threads + (t < plan.connections % plan.threads ? 1 : 0);
    workers.back()->open_connections(share, endpoint);
  }

  if (plan.on_connected) plan.on_connected();
  // Leave the threads a moment to reach their io_context before the clock starts.
  schedule.start_ns = now_ns() + 20'000'000;
  const auto warmup_ns = static_cast<std::int64_t>(plan.warmup_s * 1e9);
  const auto duration_ns = static_cast<std::int64_t>(plan.duration_s * 1e9);
  schedule.window_start_ns = schedule.start_ns + (plan.count_mode ? 0 : warmup_ns);
  schedule.window_end_ns = plan.count_mode ? std::numeric_limits<std::int64_t>::max()
                                           : schedule.window_start_ns + duration_ns;

  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->run(); });
  for (auto& t : threads) t.join();

  load_outcome total;
  std::int64_t last_answer = schedule.start_ns;
  for (auto& w : workers) {
    load_outcome& o = w->outcome();
    total.sent += o.sent;
    total.ok += o.ok;
    total.ok_in_window += o.ok_in_window;
    total.failed += o.failed;
    total.transport_errors += o.transport_errors;
    total.reconnects += o.reconnects;
    total.unanswered += o.unanswered;
    for (const auto& [key, n] : o.failures) total.failures[key] += n;
    total.latency.merge(o.latency);
    total.pool_exhausted = total.pool_exhausted || o.pool_exhausted;
    total.max_send_lag_ns = std::max(total.max_send_lag_ns, o.max_send_lag_ns);
    total.count_limited = total.count_limited || o.count_limited;
    if (total.ok_per_second.size() < o.ok_per_second.size()) {
      total.ok_per_second.resize(o.ok_per_second.size(), 0);
    }
    for (std::size_t i = 0; i < o.ok_per_second.size(); ++i) {
      total.ok_per_second[i] += o.ok_per_second[i];
    }
    last_answer = std::max(last_answer, w->last_answer_ns());
  }
  total.window_start_ns = schedule.window_start_ns;
  if (plan.count_mode) {
    total.window_end_ns = last_answer;
  } else {
    const std::int64_t exhausted = schedule.exhausted_ns.load();
    total.window_end_ns =
        exhausted != 0 ? std::min(exhausted, schedule.window_end_ns) : schedule.window_end_ns;
  }
  total.window_s =
      std::max<double>(0.0, static_cast<double>(total.window_end_ns - total.window_start_ns) / 1e9);
  return total;
}

}  // namespace topup::bench
