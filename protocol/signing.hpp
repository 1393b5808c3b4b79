#pragma once
// Request signing, spec §2: how merchants sign requests to topupd, and how topupd signs the
// callbacks it sends and the requests it makes to suppliers.
#include "engine/config/sign_method.hpp"
#include "protocol/form.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace topup::protocol {

/// Appends the spec §2 signing string of `params` to `out`: every parameter except `sign` whose
/// value is not empty, in key byte order (form_params keeps that order), as "k1=v1&k2=v2" with
/// the raw decoded values, then "&key=<secret>". With no parameter left it is "key=<secret>".
void append_signing_string(const form_params& params, std::string_view secret, std::string& out);

/// append_signing_string into a fresh string; for tests, debugging and callers that sign once.
std::string signing_string(const form_params& params, std::string_view secret);

/// The sign of an already built signing string: upper-case hex MD5 of it (32 chars) or
/// upper-case hex HMAC-SHA256 keyed with `secret` (64 chars). Throws std::runtime_error only
/// if OpenSSL cannot run the algorithm (e.g. MD5 disabled by a FIPS configuration): that is a
/// deployment bug, not a request error.
std::string compute_sign(std::string_view signing_string, engine::sign_method method,
                         std::string_view secret);

/// The `sign` value for an outgoing request (callback, supplier call) carrying `params`; any
/// `sign` already in `params` is ignored. Throws as compute_sign.
std::string sign_params(const form_params& params, engine::sign_method method,
                        std::string_view secret);

/// Whether `presented_sign` is the sign of `params` (its own `sign` entry, if any, is ignored)
/// under `method` and `secret`. The hex digits are compared without regard to case (spec §2:
/// many clients, PHP's md5() among them, send lower case); topupd itself signs in upper case.
/// The comparison is constant-time over the content. Returns false, never throws, when OpenSSL
/// fails. Allocation-free once the calling thread has warmed its buffer.
bool verify_sign(const form_params& params, engine::sign_method method, std::string_view secret,
                 std::string_view presented_sign);

/// The method a request asks for through its optional `sign_type`: absent or empty means MD5
/// (spec §2 default), "MD5" / "HMAC-SHA256" in any letter case; nullopt for any other value.
/// Whether the merchant allows that method is the caller's check (`1002` when not).
std::optional<engine::sign_method> requested_sign_method(const form_params& params);

/// Whether `timestamp` is unix seconds written as decimal digits only (no sign, no space,
/// 1 to 19 digits without overflow) and at most `skew_s` seconds away from `now_s` in either
/// direction. False otherwise, and for a negative `skew_s`.
bool timestamp_within(std::string_view timestamp, std::int64_t now_s, std::int64_t skew_s) noexcept;

}  // namespace topup::protocol
