#include "engine/store/accept_batcher.hpp"

#include <boost/asio/use_awaitable.hpp>

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
    : conn_(conn),
      prefix_(std::move(prefix)),
      fence_(fence),
      lanes_([this](std::int64_t merchant_id) {
               return ledger_scripts::accept_call(merchant_keys(prefix_, merchant_id), fence_);
             },
             [this](std::int64_t merchant_id, ledger_scripts::call call, std::size_t orders) {
               return send(merchant_id, std::move(call), orders);
             },
             k_max_orders, k_max_arg_bytes) {}

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

asio::awaitable<std::vector<group_commit::answer>> accept_batcher::send(
    std::int64_t merchant_id, ledger_scripts::call call, std::size_t orders) {
  auto answer = co_await ledger_scripts::accept().run(conn_, std::move(call.keys),
                                                      std::move(call.args));
  // One answer per order (each an array), or one for the whole call: `fenced`, an error reply,
  // anything else the store then reports as unexpected.
  const bool per_order = group_commit::answers_each(answer, orders);
  std::vector<group_commit::answer> parts = group_commit::split(std::move(answer), orders);
  // redis.min_replicas_acked: an accepted (or repeated) order is acknowledged only once enough
  // replicas hold it; else a failover could lose what the merchant was told is stored.
  if (replicas_ == 0 || !per_order) co_return parts;
  const bool confirmed = co_await replicated(merchant_keys(prefix_, merchant_id).acct());
  if (confirmed) co_return parts;
  for (auto& part : parts) {
    const bool stored = part && !part->elements.empty() &&
                        (part->elements[0].str == "ok" || part->elements[0].str == "dup");
    if (stored) part = errc::outcome_unknown;
  }
  co_return parts;
}

}  // namespace topup::engine
