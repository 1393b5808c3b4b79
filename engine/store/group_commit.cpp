#include "engine/store/group_commit.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

#include "engine/support/assert.hpp"

namespace topup::engine {

namespace asio = boost::asio;
using boost::system::error_code;
using redis::reply;

group_commit::group_commit(starter start, sender send, std::size_t max_items,
                           std::size_t max_arg_bytes)
    : start_(std::move(start)),
      send_(std::move(send)),
      max_items_(max_items),
      max_arg_bytes_(max_arg_bytes) {
  TOPUP_ASSERT(start_ && send_ && max_items_ > 0);
}

std::pair<std::shared_ptr<group_commit::batch>, std::size_t> group_commit::join(
    std::int64_t merchant_id) {
  lane& l = lanes_[merchant_id];
  if (!l.open) {
    l.open = std::make_shared<batch>();
    l.open->merchant_id = merchant_id;
    l.open->owner = &l;
    l.open->call = start_(merchant_id);
  }
  const std::size_t position = l.open->items++;
  return {l.open, position};
}

void group_commit::added(const std::shared_ptr<batch>& b, std::size_t arg_bytes) noexcept {
  b->arg_bytes += arg_bytes;
  // Full: whoever comes next starts the merchant's next batch.
  if ((b->items >= max_items_ || b->arg_bytes >= max_arg_bytes_) && b->owner->open == b)
    b->owner->open.reset();
}

asio::awaitable<group_commit::answer> group_commit::wait(std::shared_ptr<batch> b,
                                                         std::size_t position) {
  if (position > 0) {
    auto enlist = [b, position](member_handler handler) {
      // In order of position: a member's handler arrives here as it suspends, before any
      // other code runs. push_back, not assignment: Boost 1.81's any_completion_handler move
      // assignment recurses without end.
      TOPUP_ASSERT(b->members.size() + 1 == position);
      b->members.push_back(std::move(handler));
    };
    auto token = asio::as_tuple(asio::use_awaitable);
    auto [ec, own] = co_await asio::async_initiate<decltype(token), void(error_code, reply)>(
        std::move(enlist), token);
    if (ec) co_return ec;
    co_return std::move(own);
  }

  lane& l = *b->owner;
  // The end of this turn: every item already queued on the reactor runs first and may join.
  auto executor = co_await asio::this_coro::executor;
  co_await asio::post(executor, asio::use_awaitable);
  // Then the merchant's previous call, if one is out: the batch keeps growing meanwhile.
  co_await await_turn(l);
  if (l.open == b) l.open.reset();
  const std::size_t items = b->items;
  std::vector<answer> answers = co_await send_(b->merchant_id, std::move(b->call), items);
  TOPUP_ASSERT(answers.size() == items && b->members.size() + 1 == items);
  for (std::size_t i = 1; i < items; ++i) {
    member_handler& handler = b->members[i - 1];
    TOPUP_ASSERT(handler && "every member waits in submit before its batch leaves");
    error_code ec = answers[i] ? error_code{} : answers[i].error();
    reply r = answers[i] ? std::move(*answers[i]) : reply{};
    // Posted, never invoked here: each member resumes on its own, after this leader.
    asio::post(executor, asio::append(std::move(handler), ec, std::move(r)));
  }
  pass_turn(l, executor);
  co_return std::move(answers[0]);
}

asio::awaitable<void> group_commit::await_turn(lane& l) {
  if (l.sending) {
    auto queue = [&l](turn_handler handler) { l.queued.push_back(std::move(handler)); };
    co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(std::move(queue),
                                                                         asio::use_awaitable);
    TOPUP_ASSERT(l.sending && "a turn is handed over, never released in between");
  }
  l.sending = true;
}

void group_commit::pass_turn(lane& l, const boost::asio::any_io_executor& executor) {
  TOPUP_ASSERT(l.sending);
  if (l.queued.empty()) {
    l.sending = false;
    return;
  }
  turn_handler next = std::move(l.queued.front());  // move construction: see wait
  l.queued.pop_front();
  // Posted, never invoked here: the next leader resumes after this one has its answer.
  asio::post(executor, std::move(next));
}

bool group_commit::answers_each(const answer& whole, std::size_t items) {
  return whole && whole->type == reply::kind::array && whole->elements.size() == items &&
         std::ranges::all_of(whole->elements,
                             [](const reply& r) { return r.type == reply::kind::array; });
}

std::vector<group_commit::answer> group_commit::split(answer whole, std::size_t items) {
  std::vector<answer> parts;
  parts.reserve(items);
  if (answers_each(whole, items)) {
    for (auto& own : whole->elements) parts.emplace_back(std::move(own));
  } else {
    for (std::size_t i = 0; i < items; ++i) parts.push_back(whole);
  }
  return parts;
}

}  // namespace topup::engine
