#include "engine/store/lease.hpp"

#include <signal.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <cerrno>
#include <climits>
#include <exception>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>

#include "engine/support/errc.hpp"
#include "engine/support/log.hpp"
#include "engine/redis/command.hpp"
#include "engine/redis/script.hpp"

namespace topup::engine {

namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using boost::system::result;
using redis::args;
using redis::reply;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Every script here touches one key, so each runs unchanged on Redis Cluster.

// KEYS[1] P:layout; ARGV[1] this build's layout. Answers what P:layout holds after the call.
const redis::script& layout_script() {
  static const redis::script s(R"lua(
local held = redis.call('GET', KEYS[1])
if held then return held end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
)lua");
  return s;
}

// KEYS[1] the lease. Answers {} when absent, else {token, PTTL}; one round trip, one moment.
const redis::script& peek_script() {
  static const redis::script s(R"lua(
local token = redis.call('GET', KEYS[1])
if not token then return {} end
return {token, redis.call('PTTL', KEYS[1])}
)lua");
  return s;
}

// KEYS[1] the lease; ARGV[1] the token seen, ARGV[2] ours, ARGV[3] ttl (ms). 1: replaced.
const redis::script& takeover_script() {
  static const redis::script s(R"lua(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
)lua");
  return s;
}

// KEYS[1] the lease; ARGV[1] our token, ARGV[2] ttl (ms). 1: renewed, 0: not ours.
const redis::script& renew_script() {
  static const redis::script s(R"lua(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
)lua");
  return s;
}

// KEYS[1] the lease; ARGV[1] our token. 1: deleted, 0: not ours.
const redis::script& release_script() {
  static const redis::script s(R"lua(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
)lua");
  return s;
}

// KEYS[1] a merchant's fence; ARGV[1] instance, ARGV[2] epoch. Raises, never lowers; answers
// the field's value after the call.
const redis::script& fence_script() {
  static const redis::script s(R"lua(
local held = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local epoch = tonumber(ARGV[2])
if held < epoch then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  held = epoch
end
return held
)lua");
  return s;
}

// An answer none of these scripts gives: logged once here, storage_protocol to the caller.
error_code unexpected(std::string_view operation, const reply& r) {
  if (r.is_error() && redis::is_transient_refusal(r.str)) return errc::storage_unavailable;
  logger("engine")->error("lease op={} redis_answer=\"{}\"", operation,
                          r.is_error() ? std::string_view(r.str) : "unexpected reply shape");
  return errc::storage_protocol;
}

// An error as a result<bool> (an error_code converts to bool, so it must be said which).
result<bool> bool_error(error_code ec) { return result<bool>(boost::system::in_place_error, ec); }

// 0 or 1 from a compare-and-something script.
result<bool> flag_answer(std::string_view operation, const reply& r) {
  if (r.type == reply::kind::integer && (r.integer == 0 || r.integer == 1)) return r.integer == 1;
  return bool_error(unexpected(operation, r));
}

std::string sanitized_host(std::string_view raw) {
  std::string host(raw);
  for (char& c : host) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '.' || c == '-' || c == '_';
    if (!plain) c = '_';
  }
  return host.empty() ? std::string("_") : host;
}

// "pid:[4026531836]" -> "4026531836".
std::string own_pid_namespace() {
  std::array<char, 128> link{};
  const auto n = ::readlink("/proc/self/ns/pid", link.data(), link.size() - 1);
  if (n <= 0) return {};
  const std::string_view text(link.data(), static_cast<std::size_t>(n));
  const auto open = text.find('[');
  const auto close = text.find(']');
  if (open == std::string_view::npos || close == std::string_view::npos || close <= open + 1)
    return {};
  return std::string(text.substr(open + 1, close - open - 1));
}

// A zombie has exited and cannot renew anything, though kill(pid, 0) still finds it until its
// parent reaps it.
bool is_zombie(std::int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // "<pid> (<comm>) <state> ...": comm may hold spaces and parentheses; the state follows the
  // last ')'.
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z';
}

bool process_gone(std::int64_t pid) {
  if (pid <= 0 || pid > INT_MAX) return false;  // kill(0 or -1, ...) means a group: never ask
  if (::kill(static_cast<pid_t>(pid), 0) == 0) return is_zombie(pid);
  return errno == ESRCH;  // EPERM: it runs, as another user
}

/// The lease as one look saw it.
struct lease_view {
  bool present = false;
  std::string token;
  std::int64_t pttl_ms = 0;  // -1: no expiry
};

asio::awaitable<result<lease_view>> peek(redis::connection& conn, std::string key) {
  auto r = co_await peek_script().run(conn, args(std::move(key)), {});
  if (!r) co_return r.error();
  if (r->type == reply::kind::array && r->elements.empty()) co_return lease_view{};
  if (r->type == reply::kind::array && r->elements.size() == 2 &&
      redis::is_string(r->elements[0]) && r->elements[1].type == reply::kind::integer)
    co_return lease_view{true, std::move(r->elements[0].str), r->elements[1].integer};
  co_return unexpected("peek", *r);
}

enum class watch_end { gone, live };

struct watch_outcome {
  watch_end end = watch_end::live;
  std::string token;  // live: the token that shows it; gone: the token that expired
};

// Looks at a held lease every k_lease_watch_poll for its remaining time + margin: its expiry
// pushed back or its token changed means someone renews or took it (live); its disappearance
// means it expired or was released (gone).
asio::awaitable<result<watch_outcome>> watch(redis::connection& conn, std::string key,
                                             lease_view seen, std::function<bool()> stopping) {
  // A lease without expiry never lapses: whoever wrote it, it is not a crashed topupd's.
  if (seen.pttl_ms < 0) co_return watch_outcome{watch_end::live, std::move(seen.token)};
  asio::steady_timer pause(co_await asio::this_coro::executor);
  const auto until = steady_clock::now() + milliseconds(seen.pttl_ms) + k_lease_watch_margin;
  while (steady_clock::now() < until) {
    if (stopping()) co_return errc::shutting_down;
    pause.expires_after(k_lease_watch_poll);
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    auto look = co_await peek(conn, key);
    if (!look) co_return look.error();
    if (!look->present) co_return watch_outcome{watch_end::gone, std::move(seen.token)};
    // Without a renewal PTTL only falls; PEXPIRE (or a new SET) raises it.
    if (look->token != seen.token || look->pttl_ms < 0 || look->pttl_ms > seen.pttl_ms)
      co_return watch_outcome{watch_end::live, std::move(look->token)};
    seen = std::move(*look);
  }
  // Still there past its expiry: Redis's clock or ours is off. Not ours to take.
  co_return watch_outcome{watch_end::live, std::move(seen.token)};
}

// After the lease is ours: the new epoch, then a renewal to confirm nobody took the lease in
// between (the epoch key is not in the lease's slot, so the two cannot be one script). nullopt:
// someone did.
asio::awaitable<result<std::optional<lease_acquisition>>> confirm(redis::connection& conn,
                                                                  lease_spec spec,
                                                                  std::string token,
                                                                  lease_source source,
                                                                  std::string other_token) {
  auto epoch = co_await conn.command(args("INCR", spec.epoch_key()));
  if (!epoch) co_return epoch.error();
  if (epoch->type != reply::kind::integer || epoch->integer <= 0)
    co_return unexpected("epoch", *epoch);
  const auto sent = steady_clock::now();
  auto renewed = co_await renew_lease(conn, spec.lease_key(), token, spec.ttl);
  if (!renewed) co_return renewed.error();
  if (*renewed == lease_renewal::not_mine) co_return std::optional<lease_acquisition>{};
  co_return lease_acquisition{true, epoch->integer, source, std::move(other_token), sent};
}

}  // namespace

asio::awaitable<layout_claim> claim_layout(redis::connection& conn, std::string prefix) {
  auto r = co_await layout_script().run(conn, args(prefix + ":layout"),
                                        args(std::string(k_layout_version)));
  if (!r) co_return layout_claim{r.error(), {}};
  if (!redis::is_string(*r)) co_return layout_claim{unexpected("layout", *r), {}};
  if (r->str != k_layout_version) co_return layout_claim{errc::layout_mismatch, std::move(r->str)};
  co_return layout_claim{{}, std::move(r->str)};
}

std::string lease_holder::token() const {
  return "host=" + host + " pid=" + std::to_string(pid) + " pidns=" + pid_namespace +
         " start_ms=" + std::to_string(start_ms);
}

std::optional<lease_holder> lease_holder::parse(std::string_view token) {
  lease_holder h;
  bool have_host = false, have_pid = false, have_ns = false, have_start = false;
  while (!token.empty()) {
    const auto space = token.find(' ');
    const std::string_view field = token.substr(0, space);
    token = space == std::string_view::npos ? std::string_view() : token.substr(space + 1);
    const auto eq = field.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view name = field.substr(0, eq);
    const std::string_view value = field.substr(eq + 1);
    if (name == "host" && !have_host && !value.empty()) {
      h.host = std::string(value);
      have_host = true;
    } else if (name == "pid" && !have_pid) {
      auto pid = redis::parse_int(value);
      if (!pid) return std::nullopt;
      h.pid = *pid;
      have_pid = true;
    } else if (name == "pidns" && !have_ns) {
      h.pid_namespace = std::string(value);
      have_ns = true;
    } else if (name == "start_ms" && !have_start) {
      auto start = redis::parse_int(value);
      if (!start) return std::nullopt;
      h.start_ms = *start;
      have_start = true;
    } else {
      return std::nullopt;
    }
  }
  if (!have_host || !have_pid || !have_ns || !have_start) return std::nullopt;
  return h;
}

lease_holder lease_holder::this_process() {
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) != 0) name[0] = '\0';
  lease_holder h;
  h.host = sanitized_host(name.data());
  h.pid_namespace = own_pid_namespace();
  h.pid = ::getpid();
  h.start_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  return h;
}

bool crashed_on_this_host(const lease_holder& holder, const lease_holder& self) {
  return holder.host == self.host && holder.pid_namespace == self.pid_namespace &&
         process_gone(holder.pid);
}

std::string lease_spec::lease_key() const {
  return prefix + ":lease:" + std::to_string(instance_id);
}

std::string lease_spec::epoch_key() const {
  return prefix + ":epoch:" + std::to_string(instance_id);
}

asio::awaitable<result<lease_acquisition>> acquire_lease(redis::connection& conn, lease_spec spec,
                                                         lease_holder self,
                                                         std::function<bool()> stopping) {
  const std::string token = self.token();
  const std::string key = spec.lease_key();
  const std::string ttl_ms = std::to_string(spec.ttl.count());
  lease_source source = lease_source::free;
  std::string other_token;
  // Each round ends with the lease ours, a live holder, or a lease that changed hands meanwhile
  // (another round). Bounded: starters racing for one lease end with one of them refused.
  constexpr int k_max_rounds = 8;
  for (int round = 0; round < k_max_rounds; ++round) {
    if (stopping()) co_return errc::shutting_down;
    auto set = co_await conn.command(args("SET", key, token, "NX", "PX", ttl_ms));
    if (!set) co_return set.error();
    if (set->type == reply::kind::status && set->str == "OK") {
      auto confirmed = co_await confirm(conn, spec, token, source, other_token);
      if (!confirmed) co_return confirmed.error();
      if (*confirmed) co_return std::move(**confirmed);
      continue;
    }
    if (!set->is_nil()) co_return unexpected("acquire", *set);

    auto seen = co_await peek(conn, key);
    if (!seen) co_return seen.error();
    if (!seen->present) continue;  // released or expired just now
    if (seen->token == token) {
      // Our own SET of an earlier call whose answer was lost.
      auto confirmed = co_await confirm(conn, spec, token, source, other_token);
      if (!confirmed) co_return confirmed.error();
      if (*confirmed) co_return std::move(**confirmed);
      continue;
    }
    const auto holder = lease_holder::parse(seen->token);
    if (holder && crashed_on_this_host(*holder, self)) {
      auto taken =
          co_await takeover_script().run(conn, args(key), args(seen->token, token, ttl_ms));
      if (!taken) co_return taken.error();
      auto replaced = flag_answer("takeover", *taken);
      if (!replaced) co_return replaced.error();
      if (!*replaced) continue;  // it changed meanwhile: look again
      auto confirmed =
          co_await confirm(conn, spec, token, lease_source::crashed_holder, seen->token);
      if (!confirmed) co_return confirmed.error();
      if (*confirmed) co_return std::move(**confirmed);
      continue;
    }
    auto watched = co_await watch(conn, key, *seen, stopping);
    if (!watched) co_return watched.error();
    if (watched->end == watch_end::live) {
      lease_acquisition refused;
      refused.other_token = std::move(watched->token);
      co_return refused;
    }
    source = lease_source::expired;
    other_token = std::move(watched->token);
  }
  // Changed hands k_max_rounds times while we looked: someone live wants it as much.
  auto last = co_await peek(conn, key);
  if (!last) co_return last.error();
  lease_acquisition refused;
  refused.other_token = last->present ? std::move(last->token) : std::string("(contended)");
  co_return refused;
}

asio::awaitable<result<lease_renewal>> renew_lease(redis::connection& conn, std::string lease_key,
                                                   std::string token, milliseconds ttl) {
  auto r = co_await renew_script().run(conn, args(std::move(lease_key)),
                                       args(std::move(token), std::to_string(ttl.count())));
  if (!r) co_return r.error();
  auto renewed = flag_answer("renew", *r);
  if (!renewed) co_return renewed.error();
  co_return *renewed ? lease_renewal::renewed : lease_renewal::not_mine;
}

asio::awaitable<result<bool>> release_lease(redis::connection& conn, std::string lease_key,
                                            std::string token) {
  auto r = co_await release_script().run(conn, args(std::move(lease_key)), args(std::move(token)));
  if (!r) co_return bool_error(r.error());
  co_return flag_answer("release", *r);
}

std::string fence_key(std::string_view prefix, std::int64_t merchant_id) {
  std::string key(prefix);
  key.append(":{m").append(std::to_string(merchant_id)).append("}:fence");
  return key;
}

asio::awaitable<result<void>> write_fences(redis::connection& conn, std::string prefix,
                                           fence_token fence,
                                           std::vector<std::int64_t> merchant_ids) {
  if (merchant_ids.empty()) co_return result<void>{};
  auto executor = co_await asio::this_coro::executor;
  // Every call is issued before any answer is awaited: the connection pipelines them.
  using fence_call = decltype(asio::co_spawn(
      executor, std::declval<asio::awaitable<result<reply>>>(), asio::deferred));
  std::vector<fence_call> calls;
  calls.reserve(merchant_ids.size());
  const std::string epoch = std::to_string(fence.epoch);
  for (const auto id : merchant_ids) {
    calls.push_back(asio::co_spawn(
        executor,
        fence_script().run(conn, args(fence_key(prefix, id)), args(fence.instance, epoch)),
        asio::deferred));
  }
  auto [order, exceptions, answers] =
      co_await asio::experimental::make_parallel_group(std::move(calls))
          .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  for (const auto& e : exceptions)
    if (e) std::rethrow_exception(e);  // a bug: STYLE.md "exceptions only for bugs"
  error_code first_error;
  bool superseded = false;
  for (auto& answer : answers) {
    if (!answer) {
      if (!first_error) first_error = answer.error();
      continue;
    }
    if (answer->type != reply::kind::integer) {
      if (!first_error) first_error = unexpected("fence", *answer);
      continue;
    }
    if (answer->integer > fence.epoch) superseded = true;
  }
  if (superseded) co_return errc::fenced;
  if (first_error) co_return first_error;
  co_return result<void>{};
}

lease_keeper::lease_keeper(asio::io_context& io, redis::connection& conn, std::string lease_key,
                           std::string token, milliseconds ttl, steady_clock::time_point renewed_at,
                           std::function<void(std::string_view)> on_lapsed)
    : io_(io),
      conn_(conn),
      lease_key_(std::move(lease_key)),
      token_(std::move(token)),
      ttl_(ttl),
      renewed_at_(renewed_at),
      on_lapsed_(std::move(on_lapsed)),
      renew_timer_(io),
      deadline_timer_(io) {}

void lease_keeper::publish_held(bool held) noexcept {
  if (held_) held_->store(held ? 1 : 0, std::memory_order_relaxed);
}

void lease_keeper::start() {
  publish_held(true);
  arm_deadline(renewed_at_ + ttl_);
  asio::co_spawn(io_, renew_loop(), [](std::exception_ptr e) {
    if (e) logger("engine")->error("lease renewal loop ended by exception");
  });
}

void lease_keeper::stop() {
  stopped_ = true;
  publish_held(false);
  renew_timer_.cancel();
  deadline_timer_.cancel();
}

asio::awaitable<result<bool>> lease_keeper::release() {
  stop();
  co_return co_await release_lease(conn_, lease_key_, token_);
}

asio::awaitable<void> lease_keeper::renew_loop() {
  auto log = logger("engine");
  auto next = renewed_at_ + ttl_ / 3;
  bool failing = false;
  while (!stopped_ && !lapsed_) {
    renew_timer_.expires_at(next);
    co_await renew_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopped_ || lapsed_) break;
    const auto sent = steady_clock::now();
    auto renewed = co_await renew_lease(conn_, lease_key_, token_, ttl_);
    if (stopped_ || lapsed_) break;
    if (steady_clock::now() >= deadline_) {
      // An answer after the deadline comes too late, whatever it says: the lease may have
      // expired in between and been taken.
      lapse("not renewed within the lease's time");
      break;
    }
    if (!renewed) {
      // Logged once per failing stretch; the deadline decides whether it lapses.
      if (!failing)
        log->warn("lease renewal failed key={} error=\"{}\": retrying until the lease's deadline",
                  lease_key_, renewed.error().message());
      failing = true;
      next = steady_clock::now() + ttl_ / 10;
      continue;
    }
    if (*renewed == lease_renewal::not_mine) {
      lapse("another process holds the lease");
      break;
    }
    if (failing) log->info("lease renewed again key={}", lease_key_);
    failing = false;
    arm_deadline(sent + ttl_);
    next = sent + ttl_ / 3;
  }
}

void lease_keeper::arm_deadline(steady_clock::time_point deadline) {
  // Re-arming aborts the wait set for the previous deadline, unless that one already fired and
  // its handler is queued: hence the comparison with deadline_ there.
  deadline_ = deadline;
  deadline_timer_.expires_at(deadline);
  deadline_timer_.async_wait([this](error_code ec) {
    if (ec || steady_clock::now() < deadline_) return;
    lapse("not renewed within the lease's time");
  });
}

void lease_keeper::lapse(std::string_view why) {
  if (lapsed_ || stopped_) return;
  lapsed_ = true;
  publish_held(false);
  renew_timer_.cancel();
  deadline_timer_.cancel();
  on_lapsed_(why);
}

}  // namespace topup::engine
