#pragma once
// The CSV dialect of the statement files: RFC 4180 fields, CRLF records, and a guard against
// formula injection for text that comes from merchants or operators.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "engine/retention/text_result.hpp"

namespace topup::engine {

/// Records end in CRLF: RFC 4180 says so, and Excel on Windows (where most merchants open
/// statements) shows a bare LF file fine but writes CRLF back; one ending for both directions
/// keeps a file saved again by Excel comparable byte for byte.
inline constexpr std::string_view k_csv_record_end = "\r\n";

/// A spreadsheet treats a cell starting with `=`, `+`, `-` or `@` as a formula (tab and CR are
/// stripped first by some, so they count too): a merchant's order_no "=HYPERLINK(...)" would
/// run in the merchant's own Excel (OWASP "CSV Injection"). Such text gets a leading `'`, which
/// Excel shows as "text, not formula" and hides. Text already starting with `'` gets one more,
/// so the guard is reversible: unguard_formula drops exactly one leading `'`.
/// Only for free text (order_no, reason, ref, by); numbers such as "-12.30" stay numbers.
std::string guard_formula(std::string_view text);
/// The inverse of guard_formula.
std::string unguard_formula(std::string_view field);

/// `value` as one RFC 4180 field: quoted, with `"` doubled, when it holds `,` `"` CR or LF;
/// as it is otherwise.
std::string csv_field(std::string_view value);

/// The fields as one record: csv_field of each, joined by `,`, ended by k_csv_record_end.
std::string csv_record(const std::vector<std::string>& fields);

/// One record as read back: its fields (unquoted) and the line it starts on (from 1).
struct csv_row {
  std::vector<std::string> fields;
  std::size_t line = 0;
};

/// Splits `text` into records, strictly: every record ends in CRLF (the last one too), a CR or
/// LF outside quotes that is not part of a CRLF, a quote inside an unquoted field, anything but
/// `,` or CRLF after a closing quote, or an unclosed quote is an error naming its line.
/// `first_line` numbers the first record (the caller may have read lines before `text`).
text_result<std::vector<csv_row>> read_csv_rows(std::string_view text, std::size_t first_line);

}  // namespace topup::engine
