#pragma once
// The JSON answer envelope of the merchant API (spec §1):
//   {"code":"0000","msg":"推送成功","time":"1700000000","data":{...}}   or  "data":null
#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace topup::protocol {

/// Serializes one answer, keys in the order above. `time_s` (server unix seconds) is written as
/// a decimal string; `data` is written as given, `null` included. Strings come out as raw UTF-8
/// with `"`, `\` and control characters escaped. `code` and `msg` must be valid UTF-8 (wire
/// codes and bad_param_msg over decoded form keys always are); bytes are not re-validated here.
std::string make_envelope(std::string_view code, std::string_view msg, std::int64_t time_s,
                          const boost::json::value& data);

}  // namespace topup::protocol
