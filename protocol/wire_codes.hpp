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
/// Spec §1 names "4004", "4005" and "4013" for HTTP 404, 405 and 413 (the admin "4001" = HTTP 401
/// pattern); the HTTP layer's other refusals follow it: 400 (a malformed request) is "4000", 431
/// (header block too large) "4031". So no client can read them as a business result.
wire_answer to_wire(boost::system::error_code ec) noexcept;

/// The `1001` msg naming the offending parameter: "参数错误: mobile"; "参数错误" for an empty key.
std::string bad_param_msg(std::string_view key);

}  // namespace topup::protocol
