#pragma once
// An order as stored in Redis (docs/STORAGE.md), in typed form, and one entry of its event stream.
#include <boost/system/result.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/order/carrier.hpp"
#include "engine/order/money.hpp"
#include "engine/order/order_status.hpp"
#include "engine/redis/reply.hpp"

namespace topup::engine {

using field_pairs = std::vector<std::pair<std::string, std::string>>;

/// The order's latest channel attempt (docs/STORAGE.md "attempt fields"): set by 6->7, which
/// starts attempt `number` on `channel`; read back by every later step of that attempt. Zero and
/// empty before the first attempt.
struct channel_attempt {
  std::string channel;              // `channel`: the channel holding the attempt
  std::int64_t number = 0;          // `attempts`: attempts started so far (this one's index)
  std::string id;                   // `attempt_id`: "<order_number>-<number>", what suppliers name
  std::vector<std::string> tried;   // `tried`: channels tried, this one last
  std::int64_t matched_at_ms = 0;   // `matched_at`: when 6->7 was stored
  std::string submit;               // `submit`: how the submit ended (accepted, unknown, ...)
  std::int64_t submitted_at_ms = 0; // `submitted_at`: when it ended (the push left no later)
  std::string last_outcome;         // `last_outcome`: the settled result (succeeded, failed, ...)

  /// When the supplier may have received the attempt at the latest: what grace periods count
  /// from.
  std::int64_t since_ms() const noexcept { return std::max(matched_at_ms, submitted_at_ms); }
  bool operator==(const channel_attempt&) const = default;
};

/// Where the merchant callback of a final order stands (`cb_status`).
enum class callback_status : std::uint8_t { none, pending, delivered, failed };
std::string_view callback_status_name(callback_status s) noexcept;

/// The merchant callback of a final order (spec §5): deliveries and re-notifies as the order's
/// events; these fields are their projection.
struct merchant_callback {
  callback_status status = callback_status::none;  // `cb_status`
  std::int64_t attempts = 0;      // `cb_attempts`: deliveries made, all rounds
  std::int64_t last_at_ms = 0;    // `cb_last_at`: when the latest one ended
  std::int64_t round_base = 0;    // `cb_round_base`: deliveries before the current round
  std::int64_t renotify_seq = 0;  // `cb_renotify_seq`: operators' re-notifies so far
  bool operator==(const merchant_callback&) const = default;
};

/// An order in typed form: what the packed record `o[<order_number>]` holds, the projection of
/// the order's events. A plain value: copied freely, owned by whoever read it; the store writes
/// it only through the ledger scripts. Named fields this version does not know (added by later
/// work) are kept, in stored order, in `extra`, so nothing is lost reading a newer record.
struct order_record {
  std::string order_number;  // topupd's id, encodes the merchant (engine/order/order_number.hpp)
  std::string order_no;      // the merchant's own id
  std::int64_t merchant_id = 0;
  std::string store_id;
  std::string mobile;
  engine::carrier carrier = engine::carrier::cmcc;
  std::int64_t money_yuan = 0;  // face value
  int recharge_type = 1;        // 1 fast, 0 slow
  std::string notify_url;       // empty: no callback
  bool change = false;          // failover to another channel allowed
  std::string source;           // forced channel id, empty: any
  std::string fingerprint;      // of the business parameters, for pushOrder idempotency
  fen_t cost_fen = 0;           // what the merchant was debited
  order_status status = order_status::waiting;
  std::string reason;  // of the latest transition; for failed/refunded orders, why
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::int64_t finished_at_ms = 0;  // 0 until the order reaches 2 or 4
  std::int64_t event_count = 0;     // the order's events in the log: its version
  bool refunded = false;            // the refund was credited (`refunded` = 1, status 4)
  bool sandbox = false;             // a sandbox merchant's order: simulated channels only, ever
  channel_attempt attempt;          // the latest channel attempt
  merchant_callback callback;       // the merchant callback, once final
  field_pairs extra;                // named fields this version does not know

  /// A named tail field as the packed record stores it (typed attempt and callback fields
  /// included, spelled as stored), if present: for the admin view and tests; code reads the
  /// typed members.
  std::optional<std::string> named_field(std::string_view name) const;
  /// Every named tail field as stored, in stored order (the admin view's `extra`).
  field_pairs named_fields() const;
};

/// Applies one named field as an event states it (docs/STORAGE.md): an attempt or callback field
/// sets its typed member, any other name is kept in `extra` (replaced, or appended). False when
/// a typed field's value does not parse (the record is then unchanged).
bool apply_field(order_record& order, std::string_view name, std::string value);

/// True for the field names order_record maps to typed members (and the accept/transition
/// scripts own): such a name can never be an extra field.
bool is_core_order_field(std::string_view name) noexcept;

/// Channel ids as the `tried` field holds them: comma-separated, in order.
std::vector<std::string> split_ids(std::string_view csv);
std::string join_ids(const std::vector<std::string>& ids);

/// Builds a record from an HGETALL answer (flat field/value array). A missing required field
/// (order_number, order_no, merchant_id, mobile, carrier, money, cost, status, created_at), a value
/// that does not parse, an odd element count or a non-string element is errc::storage_protocol:
/// a malformed record never becomes a half-filled order.
boost::system::result<order_record> order_record_from_reply(const redis::reply& flat);

/// The order as one string (docs/STORAGE.md "The packed record"): the value of `o[<number>]`.
/// Extra pairs keep their order.
std::string pack_order(const order_record& record);
/// The reverse; anything truncated, unparsable or missing a required field is
/// errc::storage_protocol, never a half-filled order.
boost::system::result<order_record> unpack_order(std::string_view packed);

/// One entry of an order's event stream `P:{m<id>}:ev:<order_number>` (or of the ledger stream).
struct order_event {
  std::string id;  // stream entry id, "<ms>-<seq>"
  field_pairs fields;

  /// The value of a field, if present.
  std::optional<std::string_view> field(std::string_view name) const noexcept;
  /// When Redis appended it: the id's milliseconds (0 for an id that does not start with them).
  std::int64_t at_ms() const noexcept;
};

/// Builds the entries from an XRANGE answer; anything else shaped is errc::storage_protocol.
boost::system::result<std::vector<order_event>> order_events_from_reply(const redis::reply& range);

}  // namespace topup::engine
