#pragma once
// The checkpoint of a merchant's trimmed log, `P:{m<id>}:ckpt` (docs/STORAGE.md "Trimming the
// log"): what the entries trimmed from the log added up to, so that the log from the checkpoint's
// position on, replayed from these totals, still adds up to the account.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/order/money.hpp"
#include "engine/order/order_record.hpp"

namespace topup::engine {

/// What the log's entries before `id` added up to. Written only by the `trim` script
/// (engine/store/ledger_scripts), in the step that removes those entries. A plain value.
struct log_checkpoint {
  std::string id = "0-0";  // the log's entries below this stream id are trimmed
  fen_t balance_fen = 0;   // the `bal` of the last money entry trimmed
  fen_t credits_fen = 0;   // credit entries' amounts
  fen_t debits_fen = 0;    // accepted entries' amounts
  fen_t refunds_fen = 0;   // refund entries' amounts
  std::int64_t refs = 0;   // credit refs trimmed (each credited once), and their amounts' sum
  fen_t refs_fen = 0;
  std::int64_t entries = 0;        // entries trimmed
  std::int64_t money_entries = 0;  // of those, credit, accepted and refund ones
  std::int64_t orders = 0;         // accepted entries trimmed: orders accepted before `id`
  std::int64_t at_ms = 0;          // when the checkpoint was written last

  friend bool operator==(const log_checkpoint&, const log_checkpoint&) = default;
};

/// The hash's field names, in the order log_checkpoint declares them.
inline constexpr const char* k_checkpoint_fields[] = {
    "id",      "balance", "credits",       "debits", "refunds", "refs",
    "refs_fen", "entries", "money_entries", "orders", "at"};

/// The values of `c`, in k_checkpoint_fields' order (decimal numbers).
std::vector<std::string> checkpoint_values(const log_checkpoint& c);

/// A checkpoint from the hash's fields (an HGETALL answer as pairs). nullopt, with `bad_field`
/// naming the first field that is missing or not a stream id (`id`) / decimal integer (the rest).
std::optional<log_checkpoint> checkpoint_from_fields(const field_pairs& fields,
                                                     std::string& bad_field);

/// A stream id "<ms>-<seq>" as two numbers; nullopt for anything else.
struct stream_id {
  std::uint64_t ms = 0;
  std::uint64_t seq = 0;
  friend auto operator<=>(const stream_id&, const stream_id&) = default;
};
std::optional<stream_id> parse_stream_id(std::string_view text) noexcept;
/// The least stream id above `id` ("<ms>-<seq + 1>"), as text; `id` must parse.
std::string stream_id_after(std::string_view id);

}  // namespace topup::engine
