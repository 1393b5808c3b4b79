#include "engine/store/accept_batcher.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <utility>

#include "engine/redis/command.hpp"
#include "engine/support/assert.hpp"
#include "engine/support/errc.hpp"
#include "engine/support/log.hpp"

namespace topup::engine {

namespace asio = boost::asio;
using boost::system::error_code;
using redis::reply;

accept_batcher::accept_batcher(redis::connection& conn, std::string prefix,
                               const fence_token& fence)
    : conn_(conn), prefix_(std::move(prefix)), fence_(fence) {}

// `order` is a reference, against the rule for coroutines: it is read only before the first
// suspension (into the batch's call), and copying every record once more would be the only use.
asio::awaitable<boost::system::result<reply>> accept_batcher::submit(const order_record& order) {
  lane& l = lanes_[order.merchant_id];
  const bool leads = !l.open;
  if (leads) {
    l.open = std::make_shared<batch>();
    l.open->merchant_id = order.merchant_id;
    l.open->call = ledger_scripts::accept_call(merchant_keys(prefix_, order.merchant_id), fence_);
  }
  std::shared_ptr<batch> b = l.open;
  const std::size_t position = b->orders++;
  b->arg_bytes += ledger_scripts::add_accept_order(b->call, order);
  // Full: whoever comes next starts the merchant's next batch.
  if (b->orders >= k_max_orders || b->arg_bytes >= k_max_arg_bytes) l.open.reset();

  if (!leads) {
    auto wait = [b, position](member_handler handler) {
      // In order of position: a member's handler arrives here as it suspends, before any
      // other code runs. push_back, not assignment: Boost 1.81's any_completion_handler move
      // assignment recurses without end.
      TOPUP_ASSERT(b->members.size() + 1 == position);
      b->members.push_back(std::move(handler));
    };
    auto token = asio::as_tuple(asio::use_awaitable);
    auto [ec, answer] = co_await asio::async_initiate<decltype(token), void(error_code, reply)>(
        std::move(wait), token);
    if (ec) co_return ec;
    co_return std::move(answer);
  }

  // The end of this turn: every accept already queued on the reactor runs first and may join.
  auto executor = co_await asio::this_coro::executor;
  co_await asio::post(executor, asio::use_awaitable);
  // Then the merchant's previous call, if one is out: the batch keeps growing meanwhile.
  co_await await_turn(l);
  if (l.open == b) l.open.reset();
  auto answer = co_await send(std::move(b));
  pass_turn(l, executor);
  co_return answer;
}

asio::awaitable<void> accept_batcher::await_turn(lane& l) {
  if (l.sending) {
    auto queue = [&l](turn_handler handler) { l.queued.push_back(std::move(handler)); };
    co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(std::move(queue),
                                                                         asio::use_awaitable);
    TOPUP_ASSERT(l.sending && "a turn is handed over, never released in between");
  }
  l.sending = true;
}

void accept_batcher::pass_turn(lane& l, const boost::asio::any_io_executor& executor) {
  TOPUP_ASSERT(l.sending);
  if (l.queued.empty()) {
    l.sending = false;
    return;
  }
  turn_handler next = std::move(l.queued.front());  // move construction: see submit
  l.queued.pop_front();
  // Posted, never invoked here: the next leader resumes after this one has its answer.
  asio::post(executor, std::move(next));
}

asio::awaitable<bool> accept_batcher::replicated(std::string key) {
  if (replicas_ == 0) co_return true;
  auto acked = co_await conn_.wait_replicas(std::move(key), replicas_, replica_timeout_);
  const bool enough = acked && acked->type == reply::kind::integer &&
                      acked->integer >= static_cast<std::int64_t>(replicas_);
  if (!enough)
    logger("engine")->warn("redis WAIT: fewer than {} replicas confirmed within {} ms: the "
                           "orders of this batch are answered 5002",
                           replicas_, replica_timeout_.count());
  co_return enough;
}

asio::awaitable<boost::system::result<reply>> accept_batcher::send(std::shared_ptr<batch> b) {
  auto answer = co_await ledger_scripts::accept().run(conn_, std::move(b->call.keys),
                                                      std::move(b->call.args));
  // One answer per order (each an array), or one for the whole call: `fenced`, an error reply,
  // anything else the store then reports as unexpected.
  const bool per_order =
      answer && answer->type == reply::kind::array && answer->elements.size() == b->orders &&
      std::ranges::all_of(answer->elements,
                          [](const reply& r) { return r.type == reply::kind::array; });
  // redis.min_replicas_acked: an accepted (or repeated) order is acknowledged only once enough
  // replicas hold it; else a failover could lose what the merchant was told is stored.
  bool unreplicated = false;
  if (answer && per_order) {
    std::string written = merchant_keys(prefix_, b->merchant_id).acct();
    const bool confirmed = co_await replicated(std::move(written));
    unreplicated = !confirmed;
  }
  auto part = [&](std::size_t i) -> boost::system::result<reply> {
    if (!answer) return answer.error();
    if (!per_order) return *answer;
    const reply& own = answer->elements[i];
    const bool stored = !own.elements.empty() &&
                        (own.elements[0].str == "ok" || own.elements[0].str == "dup");
    if (unreplicated && stored) return errc::outcome_unknown;
    return std::move(answer->elements[i]);
  };

  const auto executor = co_await asio::this_coro::executor;
  TOPUP_ASSERT(b->members.size() + 1 == b->orders);
  for (std::size_t i = 1; i < b->orders; ++i) {
    member_handler& handler = b->members[i - 1];
    TOPUP_ASSERT(handler && "every member waits in submit before its batch leaves");
    auto own = part(i);
    error_code ec = own ? error_code{} : own.error();
    reply r = own ? std::move(*own) : reply{};
    // Posted, never invoked here: each member resumes on its own, after this leader.
    asio::post(executor, asio::append(std::move(handler), ec, std::move(r)));
  }
  co_return part(0);
}

}  // namespace topup::engine
