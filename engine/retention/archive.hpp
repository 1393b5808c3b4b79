#pragma once
// The archive of orders that left Redis after `storage.retention_*` (issue 16, docs/STORAGE.md
// "Retention"): files under `statements.dir`, written before the orders leave Redis, read by the
// daily statements. What an archived order looks like to whoever asks for it again.
#include <cstdint>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <string_view>

#include "engine/config/config.hpp"
#include "engine/order/order_record.hpp"
#include "engine/retention/text_result.hpp"

namespace topup::engine {

/// "YYYYMMDD": the business day of unix time `ms` at UTC offset `offset_s`.
std::string business_day_name(std::int64_t ms, std::int64_t offset_s);

/// The day (YYYYMMDD) whose archive directory holds order `order_number`: the creation time its
/// number encodes, the one the 3001 answer names and readers look under (the record's
/// created_at may be a few ms later); `created_at_ms` for a number that does not parse.
std::string archive_day_of(std::string_view order_number, std::int64_t created_at_ms,
                           std::int64_t offset_s);

/// The directory of one merchant's archived orders created on `day` (YYYYMMDD):
/// `<dir>/m<merchant>/archive/<day>`, inside the merchant's statement directory. A file there holds one order per line.
std::string archive_day_dir(const std::string& dir, std::int64_t merchant_id,
                            std::string_view day);

/// One line of an archive file (no newline): the packed record (docs/STORAGE.md) with `\\`, LF
/// and CR written `\\\\`, `\\n`, `\\r`, so any value fits on one line.
std::string archive_line(const order_record& record);
/// Its inverse; errors as unpack_order's (storage_protocol for a line that does not unpack).
boost::system::result<order_record> order_from_archive_line(std::string_view line);

/// The orders of `merchant_id` created on `day` (YYYYMMDD) that the archive holds: every file of
/// the day's directory (temp files, named `.…`, skipped), each order number once, at its highest
/// version (a pass interrupted by a crash archives an order again). Empty when the directory is
/// absent. A file that cannot be read or a line that does not unpack is an error naming them.
/// With `only`, just those order numbers are kept (a day's archive may be large).
text_result<std::map<std::string, order_record>> read_archive_day(
    const std::string& dir, std::int64_t merchant_id, std::string_view day,
    const std::set<std::string>* only = nullptr);

/// The escaping of every archive line: `\\`, LF and CR written `\\\\`, `\\n`, `\\r`, so any
/// text fits on one line; and its inverse (nullopt for a dangling or unknown escape).
std::string escape_line(std::string_view text);
std::optional<std::string> unescape_line(std::string_view line);

/// The directory of one merchant's trimmed log entries whose chunk began on `day` (YYYYMMDD):
/// `<dir>/m<merchant>/log/<day>` (engine/retention/log_trimmer).
std::string log_day_dir(const std::string& dir, std::int64_t merchant_id, std::string_view day);

/// One line of a log archive file (no newline): the entry's id, then its field names and values,
/// joined as the packed record joins its fields (append_packed_value), escaped as escape_line.
std::string log_archive_line(const order_event& entry);
/// Its inverse; storage_protocol for a line that does not read back.
boost::system::result<order_event> log_entry_from_archive_line(std::string_view line);

/// For a query that found no order `order_number` of `merchant_id`: when the number is that
/// merchant's and was created before the retention window, the business day (YYYYMMDD) of its
/// creation, from which on the statements hold it (spec §3.2: 3001 naming the statement date);
/// nullopt otherwise (a plain 3001). The number encodes its creation; the day it finished, and so
/// its statement, may be later (docs/DECISIONS.md "Retention").
std::optional<std::string> archived_statement_day(std::string_view order_number,
                                                  std::int64_t merchant_id, const config& cfg,
                                                  std::int64_t now_ms);

}  // namespace topup::engine
