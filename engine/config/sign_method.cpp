#include "engine/config/sign_method.hpp"

#include "engine/support/assert.hpp"

namespace topup::engine {

namespace {

/// ASCII case-insensitive equality; `upper` is already upper case.
bool equals_ignoring_case(std::string_view name, std::string_view upper) noexcept {
  if (name.size() != upper.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if ((c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c) != upper[i]) return false;
  }
  return true;
}

}  // namespace

std::optional<sign_method> sign_method_from_name(std::string_view name) {
  // Spec §2: sign_type names are case-insensitive ("md5" is what many PHP clients send); the
  // spelling must otherwise be exact (no spaces, no "HMAC_SHA256").
  if (equals_ignoring_case(name, "MD5")) return sign_method::md5;
  if (equals_ignoring_case(name, "HMAC-SHA256")) return sign_method::hmac_sha256;
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
