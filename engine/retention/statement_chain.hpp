#pragma once
// The chain of a merchant's daily statements in Redis, `P:{m<id>}:stmt` (docs/STORAGE.md): the
// first day it holds, the last day made and that day's closing balance (the next day's opening),
// and the lock that makes each day's statement once, with several instances. Two fenced scripts:
// claim (the lock, for one day) and made (the day done, the lock given back).
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "engine/order/money.hpp"
#include "engine/redis/connection.hpp"
#include "engine/retention/business_day.hpp"
#include "engine/store/fence.hpp"
#include "engine/store/ledger_scripts.hpp"

namespace topup::engine {

/// What `stmt` says. A merchant without statements yet has neither day.
struct statement_chain {
  std::optional<business_day> first;  // the chain's first day
  std::optional<business_day> last;   // the last day made
  fen_t closing_fen = 0;              // the last day's closing: the next day's opening
  std::optional<std::int64_t> offset_s;  // the UTC offset its days are cut at (`tz`)

  /// The day to make next: the one after `last`, else `first`; nullopt when neither is known.
  std::optional<business_day> next() const;
};

/// How a claim ended.
enum class chain_claim {
  ok,      // the lock is this instance's for the day; `stmt` is at the day before it
  made,    // another maker made the day already
  busy,    // another live instance holds the lock
  early,   // Redis's clock has not reached the day's end: entries of the day may still come
  moved,   // the chain is not at the day before: read it again
  fenced,  // this instance's epoch is not the merchant's fence's
};

/// class statement_chain_store — reads and moves one instance's merchants' chains, on one shard
/// (its connection's thread). Must outlive its coroutines.
class statement_chain_store {
 public:
  /// How long a claim holds the lock unless made() gives it back: a maker that died holding it
  /// delays that merchant's statements by this much.
  static constexpr std::int64_t k_lock_ms = 300'000;

  statement_chain_store(redis::connection& conn, std::string prefix, const fence_token& fence);

  boost::asio::awaitable<boost::system::result<statement_chain>> read(std::int64_t merchant_id);

  /// Makes `day` the chain's first day and `offset_s` its days' UTC offset, together, unless the
  /// chain has begun (fenced script: the first maker to see the merchant decides; statements
  /// begin there). `moved` when `day` starts after the log's first entry, or after Redis's
  /// clock for an empty log: read the log and choose again.
  boost::asio::awaitable<boost::system::result<chain_claim>> begin(std::int64_t merchant_id,
                                                                  business_day day,
                                                                  std::int64_t offset_s);

  /// Claims the lock to make `day`, after `chain`'s last day (or as the chain's first day);
  /// sets the chain's first day when it has none. `day_end_ms`: the day's end (Redis must have
  /// passed it).
  boost::asio::awaitable<boost::system::result<chain_claim>> claim(std::int64_t merchant_id,
                                                                   const statement_chain& chain,
                                                                   business_day day,
                                                                   std::int64_t day_end_ms);

  /// Records `day` as made, closing at `closing_fen`, its file's SHA-256 `sha256_hex`, and gives
  /// the lock back if it is still this maker's; `moved` when the chain is no longer at the day
  /// before (another maker recorded the day meanwhile: the files are the same bytes).
  boost::asio::awaitable<boost::system::result<chain_claim>> made(
      std::int64_t merchant_id, const statement_chain& chain, business_day day, fen_t closing_fen,
      std::string sha256_hex);

 private:
  redis::connection& conn_;
  std::string prefix_;
  const fence_token& fence_;
};

}  // namespace topup::engine
