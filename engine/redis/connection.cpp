#include "engine/redis/connection.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <string_view>
#include <tuple>
#include <utility>

#include "engine/redis/cluster_router.hpp"
#include "engine/redis/command.hpp"
#include "engine/support/errc.hpp"
#include "engine/support/log.hpp"

namespace topup::engine::redis {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

const std::string k_asking_resp = "*1\r\n$6\r\nASKING\r\n";

reply to_reply(const redisReply* r) {
  reply out;
  if (r == nullptr) return out;
  switch (r->type) {
    case REDIS_REPLY_NIL:
      break;
    case REDIS_REPLY_INTEGER:
      out.type = reply::kind::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
      out.type = reply::kind::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = reply::kind::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = reply::kind::error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
#ifdef REDIS_REPLY_MAP
    case REDIS_REPLY_MAP:  // RESP3 (hiredis >= 1.0): flattened key, value, key, value...
#endif
#ifdef REDIS_REPLY_SET
    case REDIS_REPLY_SET:
#endif
#ifdef REDIS_REPLY_PUSH
    case REDIS_REPLY_PUSH:
#endif
#ifdef REDIS_REPLY_ATTR
    case REDIS_REPLY_ATTR:
#endif
      out.type = reply::kind::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(to_reply(r->element[i]));
      break;
#ifdef REDIS_REPLY_BOOL
    case REDIS_REPLY_BOOL:
      out.type = reply::kind::integer;
      out.integer = r->integer;
      break;
#endif
#ifdef REDIS_REPLY_DOUBLE
    case REDIS_REPLY_DOUBLE:
#endif
#ifdef REDIS_REPLY_BIGNUM
    case REDIS_REPLY_BIGNUM:
#endif
#ifdef REDIS_REPLY_VERB
    case REDIS_REPLY_VERB:
#endif
#if defined(REDIS_REPLY_DOUBLE) || defined(REDIS_REPLY_BIGNUM) || defined(REDIS_REPLY_VERB)
      out.type = reply::kind::string;
      out.str.assign(r->str, r->len);
      break;
#endif
    default:
      // Unreachable with the reply types above; an error is the answer no caller can mistake
      // for success.
      out.type = reply::kind::error;
      out.str = "ERR unsupported reply type " + std::to_string(r->type);
      break;
  }
  return out;
}

/// One command handed to hiredis: the privdata of its reply callback. Owns the caller's
/// completion handler until hiredis answers (a reply, or NULL when the context goes away).
class pending_command {
 public:
  virtual ~pending_command() = default;
  /// Posts the completion handler with the outcome, then deletes this. Never invokes the
  /// handler inline: this runs inside hiredis's callbacks, and a handler may issue commands.
  virtual void complete(error_code ec, reply r) = 0;
};

template <class Handler>
class pending_command_for final : public pending_command {
 public:
  using executor_type = asio::associated_executor_t<Handler, asio::io_context::executor_type>;

  pending_command_for(Handler handler, const asio::io_context::executor_type& io_executor)
      : work_(asio::get_associated_executor(handler, io_executor)), handler_(std::move(handler)) {}

  void complete(error_code ec, reply r) override {
    auto work = std::move(work_);
    auto handler = std::move(handler_);
    delete this;
    auto executor = work.get_executor();
    asio::post(executor, [handler = std::move(handler), work = std::move(work), ec,
                          r = std::move(r)]() mutable { std::move(handler)(ec, std::move(r)); });
  }

 private:
  // Keeps the handler's executor running while the command is out, as any Asio operation does.
  asio::executor_work_guard<executor_type> work_;
  Handler handler_;
};

}  // namespace

/// The state behind a connection: the live hiredis context (if any), the reconnect schedule and
/// the send time of each pending command. Shared so that a timer completing after the connection
/// died finds nothing (timers hold weak_ptrs). Lives on, and is touched only from, one io_context.
struct connection::impl : std::enable_shared_from_this<connection::impl> {
  /// hiredis's event hooks for one redisAsyncContext (ac->ev.data). A stream_descriptor on the
  /// context's socket turns addRead/addWrite into async_wait(wait_read / wait_write) and calls
  /// redisAsyncHandleRead/Write when the socket is ready, re-arming while the hook stays on.
  /// hiredis may free the context inside those calls (a drop); its cleanup hook then marks this
  /// watch dead and releases (never closes) the descriptor, so waits still queued in Asio,
  /// which own a shared_ptr to the watch, complete into a no-op.
  struct fd_watch : std::enable_shared_from_this<fd_watch> {
    fd_watch(asio::io_context& io, redisAsyncContext* context, impl* owner)
        : descriptor(io), ac(context), owner(owner) {}

    asio::posix::stream_descriptor descriptor;
    redisAsyncContext* ac;  // valid while alive
    impl* owner;            // valid while alive: impl frees the context before it dies
    bool alive = true;      // false once hiredis called cleanup
    bool reading = false;   // hook state, as hiredis set it
    bool writing = false;
    bool read_armed = false;  // an async_wait is outstanding
    bool write_armed = false;
    std::shared_ptr<fd_watch> self;  // hiredis's reference (ev.data), dropped at cleanup

    void arm_read() {
      if (!alive || !reading || read_armed) return;
      read_armed = true;
      descriptor.async_wait(asio::posix::descriptor_base::wait_read,
                            [w = shared_from_this()](error_code ec) {
                              w->read_armed = false;
                              if (!w->alive || !w->reading || ec == asio::error::operation_aborted)
                                return;
                              // Any other error: let hiredis read the socket and find out.
                              redisAsyncHandleRead(w->ac);  // may free the context
                              w->arm_read();
                            });
    }

    void arm_write() {
      if (!alive || !writing || write_armed) return;
      write_armed = true;
      descriptor.async_wait(asio::posix::descriptor_base::wait_write,
                            [w = shared_from_this()](error_code ec) {
                              w->write_armed = false;
                              if (!w->alive || !w->writing || ec == asio::error::operation_aborted)
                                return;
                              redisAsyncHandleWrite(w->ac);  // may free the context
                              w->arm_write();
                            });
    }

    static void add_read(void* data) {
      auto* w = static_cast<fd_watch*>(data);
      w->reading = true;
      w->arm_read();
    }
    static void del_read(void* data) { static_cast<fd_watch*>(data)->reading = false; }
    static void add_write(void* data) {
      auto* w = static_cast<fd_watch*>(data);
      w->writing = true;
      w->arm_write();
    }
    static void del_write(void* data) { static_cast<fd_watch*>(data)->writing = false; }

    // Called once per context, from inside hiredis, just before it closes the socket.
    static void cleanup(void* data) {
      auto* w = static_cast<fd_watch*>(data);
      if (!w->alive) return;
      auto keep = std::move(w->self);  // the last reference may be this one
      w->alive = false;
      w->reading = false;
      w->writing = false;
      // Deregisters from the reactor and cancels outstanding waits; hiredis closes the fd.
      w->descriptor.release();
      w->owner->context_gone(w->ac);
    }
  };

  impl(asio::io_context& io, connection_options options)
      : io_(io),
        options_(std::move(options)),
        log_(topup::logger("engine")),
        backoff_(options_.reconnect_backoff_min),
        connect_timer_(io),
        backoff_timer_(io),
        watchdog_timer_(io),
        resolver_(io) {}

  ~impl() {
    // connection's destructor stops first; this is only a safety net.
    running_ = false;
    if (ac_ != nullptr) redisAsyncFree(ac_);
  }

  void start() {
    if (running_) return;
    running_ = true;
    backoff_ = options_.reconnect_backoff_min;
    if (ac_ == nullptr) connect();
  }

  void stop() {
    running_ = false;
    ++schedule_epoch_;  // a back-off completion already queued must not reconnect
    backoff_timer_.cancel();
    connect_timer_.cancel();
    watchdog_timer_.cancel();
    resolver_.cancel();
    // Fails every pending command (hiredis runs their callbacks with a NULL reply) and calls
    // the cleanup hook, which clears ac_.
    if (ac_ != nullptr) redisAsyncFree(ac_);
    ready_ = false;
  }

  bool connected() const noexcept { return ready_; }

  /// `resp`: one command in RESP (format_command).
  template <class Handler>
  void submit(Handler handler, const std::string& resp) {
    std::unique_ptr<pending_command> command(
        new pending_command_for<Handler>(std::move(handler), io_.get_executor()));
    if (resp.empty()) {
      command.release()->complete(errc::internal, {});
      return;
    }
    // No attempt under way (before start(), after stop(), waiting out a back-off): fail now.
    // While an attempt is under way the command queues behind the handshake, so start()
    // followed at once by a command works; if the handshake fails or connect_timeout passes,
    // the context is freed and the command fails with storage_unavailable like any pending one.
    if (ac_ == nullptr) {
      command.release()->complete(errc::storage_unavailable, {});
      return;
    }
    if (sent_at_.size() >= options_.max_pending) {
      command.release()->complete(errc::overloaded, {});
      return;
    }
    if (redisAsyncFormattedCommand(ac_, &impl::on_reply, command.get(), resp.data(),
                                   resp.size()) != REDIS_OK) {
      // The context is disconnecting or being freed.
      command.release()->complete(errc::storage_unavailable, {});
      return;
    }
    command.release();  // hiredis owns it until on_reply
    sent_at_.push_back(std::chrono::steady_clock::now());
    if (sent_at_.size() == 1) arm_watchdog();
  }

 private:
  // A host name is resolved asynchronously first (hiredis 0.14 would call getaddrinfo on this
  // thread, freezing the shard for as long as DNS takes, on every reconnect); an IP literal is
  // used as is. Commands issued while resolving fail at once, as during a back-off.
  void connect() {
    ++attempt_;
    error_code literal;
    asio::ip::make_address(options_.host, literal);
    if (!literal) {
      connect_to(options_.host);
      return;
    }
    resolver_.async_resolve(
        options_.host, std::to_string(options_.port),
        [weak = weak_from_this(), attempt = attempt_](
            error_code ec, asio::ip::tcp::resolver::results_type results) {
          auto self = weak.lock();
          if (!self || ec == asio::error::operation_aborted || !self->running_ ||
              self->attempt_ != attempt || self->ac_ != nullptr)
            return;
          if (ec || results.empty()) {
            self->report_down(spdlog::level::warn,
                              "cannot resolve " + self->options_.host + ": " +
                                  (ec ? ec.message() : std::string("no address")));
            self->schedule_reconnect();
            return;
          }
          // The first IPv4 address, else the first one (redis-server binds IPv4 by default).
          auto chosen = results.begin()->endpoint().address();
          for (const auto& entry : results) {
            if (entry.endpoint().address().is_v4()) {
              chosen = entry.endpoint().address();
              break;
            }
          }
          self->connect_to(chosen.to_string());
        });
  }

  void connect_to(const std::string& address) {
    tcp_up_ = false;
    redisAsyncContext* ac = redisAsyncConnect(address.c_str(), options_.port);
    if (ac == nullptr) {
      report_down(spdlog::level::err, "out of memory");
      schedule_reconnect();
      return;
    }
    if (ac->err != 0) {  // e.g. connection refused at once on loopback
      report_down(spdlog::level::warn, ac->errstr);
      redisAsyncFree(ac);  // no hooks set yet: nothing else runs
      schedule_reconnect();
      return;
    }
    auto watch = std::make_shared<fd_watch>(io_, ac, this);
    error_code ec;
    watch->descriptor.assign(ac->c.fd, ec);
    if (ec) {
      report_down(spdlog::level::err, ec.message());
      redisAsyncFree(ac);
      schedule_reconnect();
      return;
    }
    watch->self = watch;
    ac->data = this;
    ac->ev.data = watch.get();
    ac->ev.addRead = &fd_watch::add_read;
    ac->ev.delRead = &fd_watch::del_read;
    ac->ev.addWrite = &fd_watch::add_write;
    ac->ev.delWrite = &fd_watch::del_write;
    ac->ev.cleanup = &fd_watch::cleanup;
    // hiredis 0.14 has no ev.scheduleTimer; the connect timeout is connect_timer_ below, and
    // no hiredis command timeout is set, so a newer hiredis never calls it either.
    ac_ = ac;
    // TCP keep-alive (hiredis's 15 s interval): a peer that vanished without a FIN or RST (a
    // crashed host, a cut link) is still noticed, and the commands pending on it are failed.
    redisEnableKeepAlive(&ac->c);
    // Setting the connect callback arms the write watch: writable means connected (or failed).
    redisAsyncSetConnectCallback(ac, &impl::on_connect);
    redisAsyncSetDisconnectCallback(ac, &impl::on_disconnect);
    // The handshake, queued until the socket connects and ahead of any command: AUTH if
    // configured, then PING. Only a PONG makes the connection ready, so a server that is still
    // loading its AOF (-LOADING) or wants a password (-NOAUTH) is retried with back-off.
    if (!options_.password.empty()) {
      const char* argv[] = {"AUTH", options_.password.data()};
      const std::size_t lengths[] = {4, options_.password.size()};
      redisAsyncCommandArgv(ac, &impl::on_auth_reply, nullptr, 2, argv, lengths);
    }
    redisAsyncCommand(ac, &impl::on_ping_reply, nullptr, "PING");
    // Bounds the TCP connect and the handshake together.
    connect_timer_.expires_after(options_.connect_timeout);
    connect_timer_.async_wait([weak = weak_from_this(), attempt = attempt_](error_code ec) {
      auto self = weak.lock();
      if (!self || ec || self->attempt_ != attempt || self->ac_ == nullptr || self->ready_) return;
      self->report_down(spdlog::level::warn, "connect timed out");
      redisAsyncFree(self->ac_);  // the cleanup hook schedules the next attempt
    });
  }

  // Replies come in the order the commands were sent, so the oldest unanswered one is at the
  // front of sent_at_: one timer watches it.
  void arm_watchdog() {
    if (options_.command_timeout.count() <= 0 || sent_at_.empty()) return;
    watchdog_timer_.expires_at(sent_at_.front() + options_.command_timeout);
    watchdog_timer_.async_wait([weak = weak_from_this()](error_code ec) {
      auto self = weak.lock();
      if (!self || ec || self->sent_at_.empty() || self->ac_ == nullptr) return;
      const auto waited = std::chrono::steady_clock::now() - self->sent_at_.front();
      if (waited < self->options_.command_timeout) {
        self->arm_watchdog();  // the command it was set for has been answered
        return;
      }
      self->log_->error(
          "redis host={} port={} answered nothing for {} ms with {} commands pending: dropping "
          "the connection (they fail as storage unavailable) and reconnecting",
          self->options_.host, self->options_.port,
          std::chrono::duration_cast<std::chrono::milliseconds>(waited).count(),
          self->sent_at_.size());
      self->reported_down_ = true;
      redisAsyncFree(self->ac_);  // fails the pending commands; the cleanup hook reconnects
    });
  }

  void became_ready() {
    ready_ = true;
    backoff_ = options_.reconnect_backoff_min;
    connect_timer_.cancel();
    reported_down_ = false;
    log_->log(options_.log_connected ? spdlog::level::info : spdlog::level::debug,
              "redis connected host={} port={}", options_.host, options_.port);
  }

  // From the cleanup hook: the context is being freed (its pending commands are, or are about
  // to be, failed by hiredis). Never touches the context again.
  void context_gone(redisAsyncContext* ac) {
    if (ac != ac_) return;
    ac_ = nullptr;
    ready_ = false;
    connect_timer_.cancel();
    watchdog_timer_.cancel();
    sent_at_.clear();
    if (running_) schedule_reconnect();
  }

  void schedule_reconnect() {
    auto delay = backoff_;
    backoff_ = std::min(backoff_ * 2, options_.reconnect_backoff_max);
    backoff_timer_.expires_after(delay);
    backoff_timer_.async_wait([weak = weak_from_this(), epoch = ++schedule_epoch_](error_code ec) {
      auto self = weak.lock();
      if (!self || ec || epoch != self->schedule_epoch_ || !self->running_ || self->ac_ != nullptr)
        return;
      self->connect();
    });
  }

  // Logged once per outage at `level` (an outage is one event, not one per retry); the
  // retries that follow at debug.
  void report_down(spdlog::level::level_enum level, std::string_view why) {
    log_->log(reported_down_ ? spdlog::level::debug : level,
              "redis unavailable host={} port={} error=\"{}\", retrying with back-off",
              options_.host, options_.port, why);
    reported_down_ = true;
  }

  static void on_connect(const redisAsyncContext* ac, int status) {
    if (status == REDIS_OK) {
      static_cast<impl*>(ac->data)->tcp_up_ = true;  // ready once the handshake is answered
      return;
    }
    // hiredis frees the context right after this returns.
    static_cast<impl*>(ac->data)->report_down(spdlog::level::warn, ac->errstr);
  }

  static void on_disconnect(const redisAsyncContext* ac, int status) {
    auto* self = static_cast<impl*>(ac->data);
    if (status != REDIS_OK) self->report_down(spdlog::level::warn, ac->errstr);
  }

  // A handshake reply other than the expected one: give this context up. Inside a callback
  // hiredis defers the free until the callback returns; what is queued behind (the rest of the
  // handshake, commands issued while connecting) then completes with a NULL reply, so those
  // commands fail with storage_unavailable rather than see -NOAUTH or -LOADING, and the
  // back-off schedules the next attempt.
  static void handshake_failed(redisAsyncContext* ac, spdlog::level::level_enum level,
                               std::string_view step, const redisReply* r) {
    auto* self = static_cast<impl*>(ac->data);
    std::string why(step);
    why += ": ";
    if (r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_STATUS) {
      why.append(r->str, r->len);
    } else {
      why += "unexpected reply type " + std::to_string(r->type);
    }
    self->report_down(level, why);
    redisAsyncFree(ac);
  }

  static void on_auth_reply(redisAsyncContext* ac, void* r, void*) {
    const auto* rep = static_cast<const redisReply*>(r);
    if (rep == nullptr) return;  // the context is going away
    // A wrong password is a configuration error, not a network blip.
    if (rep->type != REDIS_REPLY_STATUS) handshake_failed(ac, spdlog::level::err, "AUTH", rep);
  }

  static void on_ping_reply(redisAsyncContext* ac, void* r, void*) {
    const auto* rep = static_cast<const redisReply*>(r);
    if (rep == nullptr) return;
    if (rep->type != REDIS_REPLY_STATUS) {
      handshake_failed(ac, spdlog::level::warn, "PING", rep);
      return;
    }
    static_cast<impl*>(ac->data)->became_ready();
  }

  static void on_reply(redisAsyncContext* ac, void* r, void* privdata) {
    auto* self = static_cast<impl*>(ac->data);
    auto* command = static_cast<pending_command*>(privdata);
    if (!self->sent_at_.empty()) self->sent_at_.pop_front();
    if (r == nullptr) {  // dropped, timed out or stopped before an answer came
      // Once the TCP connection stood, the command may have reached the server and run, even
      // behind a failed handshake (an AUTH refused by a server without a password still lets
      // the commands after it run): "maybe applied". Only a connection that never stood sent
      // nothing.
      command->complete(self->tcp_up_ ? errc::outcome_unknown : errc::storage_unavailable, {});
      return;
    }
    command->complete({}, to_reply(static_cast<const redisReply*>(r)));
  }

  asio::io_context& io_;
  connection_options options_;
  std::shared_ptr<spdlog::logger> log_;
  redisAsyncContext* ac_ = nullptr;  // the current context, connecting or connected
  bool running_ = false;             // between start() and stop()
  bool ready_ = false;               // connected and the handshake answered: commands go out
  bool tcp_up_ = false;              // the current context's TCP connection stood at some point
  bool reported_down_ = false;
  std::uint64_t attempt_ = 0;         // which context connect_timer_ belongs to
  std::uint64_t schedule_epoch_ = 0;  // which back-off wait may reconnect
  std::chrono::milliseconds backoff_;
  asio::steady_timer connect_timer_;
  asio::steady_timer backoff_timer_;
  // When each command handed to hiredis and not yet answered was sent, oldest first.
  std::deque<std::chrono::steady_clock::time_point> sent_at_;
  asio::steady_timer watchdog_timer_;                           // on the oldest of them
  asio::ip::tcp::resolver resolver_;                            // for a host name
};

namespace {

std::vector<node_address> seed_addresses(const std::vector<std::string>& nodes) {
  std::vector<node_address> seeds;
  for (const auto& text : nodes)
    if (auto address = parse_node_address(text)) seeds.push_back(std::move(*address));
  return seeds;
}

}  // namespace

connection::connection(boost::asio::io_context& io, connection_options options)
    : latency_observer_(options.latency_observer) {
  if (options.cluster_nodes.empty()) {
    impl_ = std::make_shared<impl>(io, std::move(options));
  } else {
    auto seeds = seed_addresses(options.cluster_nodes);
    cluster_ = std::make_shared<cluster_router>(io, std::move(options), std::move(seeds));
  }
}

connection::~connection() { stop(); }

void connection::start() {
  if (cluster_)
    cluster_->start();
  else
    impl_->start();
}

void connection::stop() {
  if (cluster_)
    cluster_->stop();
  else
    impl_->stop();
}

bool connection::connected() const noexcept {
  return cluster_ ? cluster_->connected() : impl_->connected();
}

boost::asio::awaitable<boost::system::result<reply>> connection::command(
    std::vector<std::string> args) {
  if (args.empty()) co_return make_error_code(errc::internal);
  std::string resp = format_command(args);
  auto answer = co_await formatted_command(std::move(resp));
  co_return answer;
}

boost::asio::awaitable<boost::system::result<reply>> connection::formatted_command(
    std::string resp) {
  const auto started = std::chrono::steady_clock::now();
  // The connection may be gone when this frame resumes (its pending commands fail then), so
  // nothing of `this` is touched after the co_await: the observer travels in the frame.
  auto observer = latency_observer_;
  boost::system::result<reply> answer = make_error_code(errc::internal);
  if (cluster_) {
    auto router = cluster_;
    answer = co_await cluster_router::send(std::move(router), std::move(resp));
  } else {
    answer = co_await submit(std::move(resp), false);
  }
  if (observer)
    observer(std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started));
  co_return answer;
}

boost::asio::awaitable<boost::system::result<reply>> connection::wait_replicas(
    std::string key, std::uint32_t replicas, std::chrono::milliseconds timeout) {
  const auto words = args("WAIT", std::to_string(replicas), std::to_string(timeout.count()));
  std::string resp = format_command(words);
  if (cluster_) {
    auto router = cluster_;
    auto answer = co_await cluster_router::send_near(std::move(router), std::move(key), std::move(resp));
    co_return answer;
  }
  auto answer = co_await submit(std::move(resp), false);
  co_return answer;
}

boost::asio::awaitable<boost::system::result<reply>> connection::asking_command(std::string resp) {
  if (cluster_) co_return make_error_code(errc::internal);
  auto answer = co_await submit(std::move(resp), true);
  co_return answer;
}

boost::asio::awaitable<boost::system::result<reply>> connection::submit(std::string resp,
                                                                        bool asking) {
  auto token = asio::as_tuple(asio::use_awaitable);
  // The initiation runs while this frame is suspended in the co_await, so `resp` outlives it.
  auto [ec, r] = co_await asio::async_initiate<decltype(token), void(error_code, reply)>(
      [](auto handler, std::shared_ptr<impl> state, const std::string* command, bool asking) {
        // ASKING's answer is of no interest: the command's says whether the node took it.
        if (asking) state->submit([](error_code, reply) {}, k_asking_resp);
        state->submit(std::move(handler), *command);
      },
      token, impl_, &resp, asking);
  if (ec) co_return ec;
  co_return std::move(r);
}

}  // namespace topup::engine::redis
