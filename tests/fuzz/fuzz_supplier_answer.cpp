// libFuzzer: what a `wikeyun` supplier answers (spec §6), through interpret_push_answer and
// interpret_query_answer. Input: "<http status> <attempt id>\n<body>". Beyond "no crash": a push
// answer is never succeeded/failed (a submit only learns accepted, refused or unknown), a query
// answer never accepted/refused, anything but HTTP 200 is unknown, and a detail is one line.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "channels/wikeyun/wikeyun_adapter.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

using topup::engine::attempt_outcome;

void check_detail(const topup::engine::attempt_result& r) {
  TOPUP_FUZZ_CHECK(r.detail.find('\n') == std::string::npos);
  TOPUP_FUZZ_CHECK(r.detail.find('\r') == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto [head, body_view] = topup::fuzz::split_first_line(topup::fuzz::as_text(data, size));
  // As the adapter gets it: an HTTP answer body is a std::string (never a null data pointer), and
  // a buffer of exactly its size lets ASan see any read past the end.
  const std::string body(body_view);
  // "<status> <attempt id>"; an unreadable status is 200, the case with most code behind it.
  unsigned http_status = 200;
  std::string_view attempt_id;
  const auto space = head.find(' ');
  const auto status_text = head.substr(0, space);
  unsigned parsed = 0;
  auto [end, ec] =
      std::from_chars(status_text.data(), status_text.data() + status_text.size(), parsed);
  if (ec == std::errc{} && end == status_text.data() + status_text.size()) http_status = parsed;
  if (space != std::string_view::npos) attempt_id = head.substr(space + 1);

  const auto push = topup::channels::interpret_push_answer(http_status, body);
  TOPUP_FUZZ_CHECK(push.outcome == attempt_outcome::accepted ||
                   push.outcome == attempt_outcome::refused ||
                   push.outcome == attempt_outcome::unknown);
  if (http_status != 200) TOPUP_FUZZ_CHECK(push.outcome == attempt_outcome::unknown);
  check_detail(push);

  const auto query = topup::channels::interpret_query_answer(http_status, body, attempt_id);
  TOPUP_FUZZ_CHECK(query.outcome != attempt_outcome::accepted &&
                   query.outcome != attempt_outcome::refused);
  if (http_status != 200) TOPUP_FUZZ_CHECK(query.outcome == attempt_outcome::unknown);
  check_detail(query);
  return 0;
}
