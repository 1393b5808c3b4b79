#pragma once
// GET /admin/orders/<n> (spec §7) read back for tests: the order's status and its merchant
// callback delivery attempts.
#include <boost/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/merchant_client.hpp"

namespace topup::test {

/// A member of an answer's data object as text (strings as they are, others serialized),
/// "<missing>" when absent, "<no data>" when `data` is not an object.
std::string json_text(const boost::json::value& data, std::string_view key);

/// One entry of `callbacks` in GET /admin/orders/<n>.
struct shown_attempt {
  std::int64_t attempt = 0;
  std::int64_t at_ms = 0;
  std::int64_t http_status = 0;
  std::string body;
  std::string error;
  bool delivered = false;
};

/// What GET /admin/orders/<n> shows about an order's callback.
struct shown_order {
  std::string code;
  std::string status;
  std::int64_t updated_at_ms = -1;  // for a final order: when it became final
  std::string cb_status;            // extra.cb_status: pending / delivered / failed
  std::vector<shown_attempt> callbacks;
  std::string raw;
};

shown_order parse_admin_order(const api_answer& a);

/// GET /admin/orders/<number> with `token` on a fresh connection, parsed.
shown_order admin_order(int port, const std::string& token, const std::string& number);

}  // namespace topup::test
