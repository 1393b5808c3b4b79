#pragma once
// Downloading a daily statement file (spec §3.7, §7): the answer shared by the merchant's
// POST /rest/Recharge/bill and the operators' GET /admin/merchants/<id>/statements/<YYYYMMDD>.
#include <cstdint>
#include <string_view>

#include "engine/config/config.hpp"
#include "protocol/http_server.hpp"

namespace topup::protocol {

/// Whether an `Accept-Encoding` header value lets us send gzip (RFC 9110 §12.5.3): codings are
/// case-insensitive, listed with optional spaces and `;q=` weights; `gzip` (or `x-gzip`) named
/// explicitly decides by its own weight, else `*` does; a weight of 0 means "not acceptable".
/// An empty or missing header, or a weight we cannot read, means no: plain text is always safe.
bool accepts_gzip(std::string_view accept_encoding);

/// The answer to a download of `merchant_id`'s statement of `date`: the CSV file (gzip as stored
/// when `accept_encoding` allows it, else unzipped), 1001 naming `date` when it is not a real
/// YYYYMMDD day, 3001 when that day's statement is not made yet, 5001 (logged) when the file
/// cannot be read or is corrupt. The caller has authenticated who asks for which merchant.
/// Reads the file on the calling shard's thread (blocking; see the .cpp).
http_response statement_answer(const engine::statements_config& statements,
                               std::int64_t merchant_id, std::string_view date,
                               std::string_view accept_encoding, unsigned version,
                               bool keep_alive);

}  // namespace topup::protocol
