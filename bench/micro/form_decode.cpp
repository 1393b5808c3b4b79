// Form decoding on the merchant hot path: every request is decoded once before anything else.
#include <benchmark/benchmark.h>

#include "protocol/form.hpp"

#include <string>

namespace {

using topup::protocol::decode_form;
using topup::protocol::form_encode;
using topup::protocol::form_params;

// A pushOrder as merchants send it: 11 params, an escaped notify_url, an upper-case MD5 sign.
constexpr std::string_view k_push_order_body =
    "app_key=k1&store_id=s1&mobile=13800138000&order_no=M20231114221320000123&money=100"
    "&recharge_type=1&notify_url=https%3A%2F%2Fshop.example.cn%2Fapi%2Ftopup%2Fnotify%3Fsrc%"
    "3Dtopupd"
    "&change=1&timestamp=1700000000&sign_type=MD5&sign=A3C3AF0CC80D0262CB17E414E9DB21BA";

void BM_DecodePushOrderBody(benchmark::State& state) {
  for (auto _ : state) {
    auto params = decode_form({}, k_push_order_body);
    benchmark::DoNotOptimize(params);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(k_push_order_body.size()));
}
BENCHMARK(BM_DecodePushOrderBody);

void BM_DecodePushOrderQueryAndBody(benchmark::State& state) {
  // Common params in the query string, business params in the body: the merge path.
  constexpr std::string_view query =
      "app_key=k1&timestamp=1700000000&sign_type=MD5&sign=A3C3AF0CC80D0262CB17E414E9DB21BA";
  constexpr std::string_view body =
      "store_id=s1&mobile=13800138000&order_no=M20231114221320000123&money=100&recharge_type=1"
      "&notify_url=https%3A%2F%2Fshop.example.cn%2Fapi%2Ftopup%2Fnotify%3Fsrc%3Dtopupd&change=1";
  for (auto _ : state) {
    auto params = decode_form(query, body);
    benchmark::DoNotOptimize(params);
  }
}
BENCHMARK(BM_DecodePushOrderQueryAndBody);

void BM_DecodeRepeatedKeyRefusal(benchmark::State& state) {
  // A hostile or buggy client: the refusal should cost no more than an accepted request.
  const std::string body = std::string(k_push_order_body) + "&money=50";
  for (auto _ : state) {
    auto params = decode_form({}, body);
    benchmark::DoNotOptimize(params);
  }
}
BENCHMARK(BM_DecodeRepeatedKeyRefusal);

void BM_EncodeCallbackBody(benchmark::State& state) {
  // The merchant callback of spec §5, as the callback sender builds it.
  form_params params;
  params.insert("order_no", "M20231114221320000123");
  params.insert("order_number", "T17000000000010001");
  params.insert("status", "2");
  params.insert("amount", "100");
  params.insert("mobile", "13800138000");
  params.insert("timestamp", "1700000003");
  params.insert("sign", "A3C3AF0CC80D0262CB17E414E9DB21BA");
  for (auto _ : state) {
    auto body = form_encode(params);
    benchmark::DoNotOptimize(body);
  }
}
BENCHMARK(BM_EncodeCallbackBody);

}  // namespace
