#pragma once
// An order as stored in Redis (docs/STORAGE.md), in typed form, and one entry of its event stream.
#include <boost/system/result.hpp>

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

/// The order hash `P:{m<id>}:o:<order_number>`, the projection of the order's events. A plain
/// value: copied freely, owned by whoever read it; the store writes it only through the ledger
/// scripts. Fields this version does not know (channel attempt and callback information added by
/// later work) are kept, in Redis order, in `extra`, so nothing is lost reading a newer record.
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
  std::int64_t event_count = 0;     // entries in the order's event stream (`events`)
  bool refunded = false;            // the refund was credited (`refunded` = 1, status 4)
  field_pairs extra;

  /// The value of an extra field, if present.
  std::optional<std::string_view> extra_field(std::string_view name) const noexcept;
};

/// Sets an extra field as HSET would: replaces its value, or appends it.
void set_extra(order_record& order, std::string name, std::string value);

/// True for the field names order_record maps to typed members (and the accept/transition
/// scripts own): such a name can never be an extra field.
bool is_core_order_field(std::string_view name) noexcept;

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
};

/// Builds the entries from an XRANGE answer; anything else shaped is errc::storage_protocol.
boost::system::result<std::vector<order_event>> order_events_from_reply(const redis::reply& range);

}  // namespace topup::engine
