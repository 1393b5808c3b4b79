#include "engine/sign_method.hpp"

#include "engine/assert.hpp"

namespace topup::engine {

std::optional<sign_method> sign_method_from_name(std::string_view name) {
  // Exact match only: "md5" or "hmac-sha256" are not the spelling the contract gives, and
  // accepting variants would let two spellings of one method diverge in merchants' configs.
  if (name == "MD5") return sign_method::md5;
  if (name == "HMAC-SHA256") return sign_method::hmac_sha256;
  return std::nullopt;
}

std::string_view sign_method_name(sign_method method) {
  switch (method) {
    case sign_method::md5: return "MD5";
    case sign_method::hmac_sha256: return "HMAC-SHA256";
  }
  TOPUP_ASSERT(false && "sign_method out of range");
  return {};
}

}  // namespace topup::engine
