#pragma once
// One merchant's keys as the books audit reads them (books_reads) and checks them (books_checks):
// plain typed values, each saying what was absent or unreadable.
#include <cstdint>
#include <optional>
#include <string>

#include "engine/store/log_checkpoint.hpp"
#include "engine/store/order_store.hpp"

namespace topup::engine {

/// One value read from Redis: absent (nil), unreadable (an error reply in its place: the key holds
/// another type) or present, with its text.
struct read_value {
  enum class state : std::uint8_t { absent, unreadable, present };
  state what = state::absent;
  std::string text;  // the value; when unreadable, Redis's error

  bool absent() const noexcept { return what == state::absent; }
  bool unreadable() const noexcept { return what == state::unreadable; }
  bool present() const noexcept { return what == state::present; }
};

/// Step 1: the account, the end of the log and the number of credit refs, at one instant.
struct account_snapshot {
  std::optional<account_totals> totals;     // nullopt: unreadable (a finding says why)
  bool log_readable = true;                 // false: nothing compares with the log (a finding)
  std::string last_id;                      // the log's last entry then; "" for an empty log
  std::optional<std::int64_t> credit_refs;  // entries of `crefs`; nullopt: unreadable
  // The trimmed log's checkpoint (`ckpt`), nullopt when the log was never trimmed; when it is
  // unreadable, a finding says why and log_readable is false (the log cannot be replayed from it).
  std::optional<log_checkpoint> checkpoint;
  std::string checkpoint_id;  // its `id` field as read, "" when absent
  std::string first_id;  // the log's first entry then; "" for an empty log
};

/// Step 4: one order's projections, read at one instant.
struct order_projections {
  read_value record;          // o[<number>], the packed record
  read_value order_no_entry;  // o[#<order_no>]; absent too when nothing says its order_no
  read_value by_time;         // its score in t
  read_value work;            // its score in work
};

}  // namespace topup::engine
