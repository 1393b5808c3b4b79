#pragma once
// The packed record's way of joining values (docs/STORAGE.md "The packed record": fields joined
// by 0x1f, a value's 0x1f written 0x1e 0x31 and its 0x1e 0x1e 0x30), for other lists of strings:
// the lines of the log's archive files (engine/retention/archive). Implemented with the record
// itself, in order_record.cpp, so there is one copy of the escaping.
#include <boost/system/result.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace topup::engine {

/// Appends `value` to `out`, after the separator unless `first`, escaped as in the record.
void append_packed_value(std::string& out, std::string_view value, bool first);

/// The values of such a list, escapes undone; a dangling or unknown escape is storage_protocol.
boost::system::result<std::vector<std::string>> unpack_values(std::string_view packed);

}  // namespace topup::engine
