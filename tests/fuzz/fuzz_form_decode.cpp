// libFuzzer: protocol::decode_form over any query string and body (input: "query\nbody").
// Beyond "no crash, no sanitizer report": a decoded form is sorted, unique, non-empty keyed and
// within the bound; it survives form_encode -> decode_form unchanged; and query and body merge
// the same whichever side a parameter came from.
#include <cstddef>
#include <cstdint>

#include "protocol/errc.hpp"
#include "protocol/form.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

using topup::protocol::decode_form;
using topup::protocol::form_encode;

void check_form(const topup::protocol::form_params& form, std::size_t max_params) {
  TOPUP_FUZZ_CHECK(form.size() <= max_params);
  const std::string* previous = nullptr;
  for (const auto& [key, value] : form) {
    TOPUP_FUZZ_CHECK(!key.empty());
    if (previous) TOPUP_FUZZ_CHECK(*previous < key);
    previous = &key;
    TOPUP_FUZZ_CHECK(form.find(key) != nullptr && *form.find(key) == value);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto [query, body] = topup::fuzz::split_first_line(topup::fuzz::as_text(data, size));

  auto decoded = decode_form(query, body);
  auto swapped = decode_form(body, query);
  TOPUP_FUZZ_CHECK(decoded.has_value() == swapped.has_value());
  if (!decoded) {
    TOPUP_FUZZ_CHECK(decoded.error().ec == topup::protocol::errc::bad_param);
    return 0;
  }
  check_form(*decoded, topup::protocol::k_form_params_max);
  TOPUP_FUZZ_CHECK(*decoded == *swapped);

  // What topupd sends (callbacks, supplier requests) must decode back to exactly what it meant.
  const std::string encoded = form_encode(*decoded);
  auto again = decode_form({}, encoded);
  TOPUP_FUZZ_CHECK(again.has_value());
  TOPUP_FUZZ_CHECK(*again == *decoded);

  // A tighter bound refuses exactly the forms over it.
  auto bounded = decode_form(query, body, 3);
  TOPUP_FUZZ_CHECK(bounded.has_value() == (decoded->size() <= 3));
  return 0;
}
