#pragma once
// The one place where internal errors become wire answers (STYLE.md "Errors"): the `code`,
// the HTTP status and the default `msg` of spec §1's code table.
#include <boost/system/error_code.hpp>

#include <string>
#include <string_view>

namespace topup::protocol {

/// What the merchant sees for one outcome. Views point to static storage.
struct wire_answer {
  std::string_view code;  // four digits, "0000" for success
  unsigned http_status;   // 200 unless spec §1 names another
  std::string_view msg;   // default text; 1001 gets bad_param_msg(key), success its own text
};

/// Maps any error_code to its wire answer. A cleared `ec` (of any category) is "0000". Every
/// value of protocol::errc and engine::errc has its row; any other error (another category, or
/// an out-of-range value) is "5001" internal error, HTTP 200.
///
/// Spec §1 gives HTTP 404, 405 and 413 no code; they get "4004", "4005" and "4013", following
/// the admin "4001" = HTTP 401 pattern, so that no client can read them as a business result
/// (a "3001" on a mistyped query URL would look like "order never placed").
wire_answer to_wire(boost::system::error_code ec) noexcept;

/// The `1001` msg naming the offending parameter: "参数错误: mobile"; "参数错误" for an empty key.
std::string bad_param_msg(std::string_view key);

}  // namespace topup::protocol
