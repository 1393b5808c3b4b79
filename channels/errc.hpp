#pragma once
// Expected failures talking to upstream suppliers.
#include <boost/system/error_code.hpp>
#include <system_error>

namespace topup::channels {

enum class errc {
  ok = 0,
  unknown_kind = 1,     // config names a channel kind no adapter registers
  transport,            // connect/read/write failed: the outcome of a submit is unknown
  timeout,              // no answer within timeout_ms: unknown
  malformed_answer,     // unparseable or truncated answer: unknown
  bad_signature,        // inbound callback not signed with the channel secret
  unknown_order,        // inbound callback for an order we do not know
};

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace topup::channels

template <>
struct boost::system::is_error_code_enum<topup::channels::errc> : std::true_type {};
