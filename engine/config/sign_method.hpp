#pragma once
// The request signing methods of spec §2, named as they appear on the wire (`sign_type`) and in
// the configuration (`merchants[].sign_types`). The algorithms themselves live in
// protocol/signing.hpp: the engine only needs to know which methods a merchant allows.
#include <optional>
#include <string_view>

namespace topup::engine {

enum class sign_method { md5, hmac_sha256 };

/// "MD5" -> md5, "HMAC-SHA256" -> hmac_sha256, in any letter case (spec §2); nullopt otherwise.
std::optional<sign_method> sign_method_from_name(std::string_view name);

/// The wire name: "MD5" or "HMAC-SHA256".
std::string_view sign_method_name(sign_method method);

}  // namespace topup::engine
