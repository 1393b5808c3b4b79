#pragma once
// application/x-www-form-urlencoded at the wire (spec §1): decoding a request's query string and
// body into one strict parameter set, and encoding a parameter set into a body for the requests
// topupd sends itself (merchant callbacks, supplier pushOrder/query).
#include <boost/assert/source_location.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace topup::protocol {

/// Default bound on the parameters of one request, query string and body together. The widest
/// merchant call (pushOrder) has 11 parameters; 64 leaves room without letting a 16 KiB body
/// become thousands of tiny allocations.
inline constexpr std::size_t k_form_params_max = 64;

/// A form value as a strict decimal integer: digits only, no sign, no leading zero (except "0"),
/// no overflow (at most 18 digits).
std::optional<std::int64_t> parse_int(std::string_view text);

/// The decoded parameters of one request (or of one request topupd is about to send): unique
/// keys, kept sorted by key in byte order, which is exactly the order spec §2 signs in. A plain
/// value, owned by whoever handles the request on its shard; not shared between threads.
/// A flat sorted vector beats a map for the ~10 short entries of a real request.
class form_params {
 public:
  using value_type = std::pair<std::string, std::string>;
  using const_iterator = std::vector<value_type>::const_iterator;

  form_params() = default;

  /// The value of `key`, or nullptr when absent. The pointer is valid until the next change.
  const std::string* find(std::string_view key) const noexcept;
  bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }

  /// Adds key=value in sorted position. Returns false and changes nothing if `key` is present.
  bool insert(std::string key, std::string value);
  /// Adds key=value, or replaces the value if `key` is present (e.g. setting `sign` last).
  void assign(std::string key, std::string value);
  /// Removes `key`; false when it was absent.
  bool erase(std::string_view key) noexcept;

  std::size_t size() const noexcept { return items_.size(); }
  bool empty() const noexcept { return items_.empty(); }
  void reserve(std::size_t n) { items_.reserve(n); }
  const_iterator begin() const noexcept { return items_.begin(); }
  const_iterator end() const noexcept { return items_.end(); }

  friend bool operator==(const form_params&, const form_params&) = default;

 private:
  std::vector<value_type> items_;  // sorted by first, no two equal firsts
};

/// Why a form was refused; all of them are wire code 1001.
enum class form_fault {
  malformed,  // bad percent escape, or the decoded key or value is not valid UTF-8
  repeated,   // the key appears more than once (query, body, or across both)
  empty_key,  // a piece like "=1"
  too_many,   // more parameters than the bound
};

/// A refused form: `ec` is always protocol::errc::bad_param; `key` names the parameter for the
/// `1001` msg (see bad_param_msg). `key` is always valid, printable UTF-8: when the key itself
/// could not be decoded it is the raw key text with bytes outside printable ASCII shown as '?',
/// cut to 64 bytes. Empty for form_fault::empty_key.
struct form_error {
  boost::system::error_code ec;
  std::string key;
  form_fault fault = form_fault::malformed;
};

/// Lets boost::system::result<form_params, form_error>::value() throw (a bug path only).
[[noreturn]] void throw_exception_from_error(const form_error& e,
                                             const boost::source_location& loc);

/// Decodes and merges `query` (the request target after '?', may be empty) and `body`.
/// Pieces are separated by '&'; empty pieces are skipped; a piece without '=' is a key with an
/// empty value; '+' is a space; %XX escapes decode (either hex case); any other byte is taken
/// as is. Refused (errc::bad_param): a malformed escape ("%zz", "%4", trailing "%"), a key or
/// value that is not valid UTF-8 after decoding, an empty key, a repeated key (no "last one
/// wins"), or more than `max_params` parameters.
boost::system::result<form_params, form_error> decode_form(
    std::string_view query, std::string_view body, std::size_t max_params = k_form_params_max);

/// Encodes `params` as "k1=v1&k2=v2..." in key order. Every byte outside the unreserved set
/// (A-Z a-z 0-9 - . _ ~) is written as %XX with upper-case hex, space included ("%20"), so the
/// result decodes identically under any form decoder. Empty values are written as "k=".
std::string form_encode(const form_params& params);

}  // namespace topup::protocol
