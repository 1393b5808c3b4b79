#pragma once
// An owned copy of a hiredis reply tree, safe to keep after the hiredis callback returns.
#include <cstdint>
#include <string>
#include <vector>

namespace topup::engine::redis {

struct reply {
  enum class kind { nil, integer, string, status, error, array };
  kind type = kind::nil;
  std::int64_t integer = 0;
  std::string str;  // string, status, error (and the text of double/bignum/verbatim replies)
  std::vector<reply> elements;

  bool is_error() const noexcept { return type == kind::error; }
  bool is_nil() const noexcept { return type == kind::nil; }
};

}  // namespace topup::engine::redis
