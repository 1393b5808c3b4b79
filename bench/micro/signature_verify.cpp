// Signature verification on the merchant hot path (spec §2): every request is verified once.
#include <benchmark/benchmark.h>

#include "engine/config/sign_method.hpp"
#include "protocol/form.hpp"
#include "protocol/signing.hpp"

#include <string>

namespace {

using topup::engine::sign_method;
using namespace topup::protocol;

constexpr std::string_view k_secret = "9f3b2c71d04e4a5e8b6c1d2e3f405162";

// A pushOrder of 11 params, sign excluded from its own computation.
constexpr std::string_view k_push_order_body =
    "app_key=k1&store_id=s1&mobile=13800138000&order_no=M20231114221320000123&money=100"
    "&recharge_type=1&notify_url=https%3A%2F%2Fshop.example.cn%2Fapi%2Ftopup%2Fnotify%3Fsrc%"
    "3Dtopupd"
    "&change=1&timestamp=1700000000";

form_params signed_push_order(sign_method method) {
  form_params params = *decode_form({}, k_push_order_body);
  params.insert("sign_type", std::string(topup::engine::sign_method_name(method)));
  params.insert("sign", sign_params(params, method, k_secret));
  return params;
}

void verify_bench(benchmark::State& state, sign_method method) {
  const form_params params = signed_push_order(method);
  const std::string sign = *params.find("sign");
  for (auto _ : state) {
    bool ok = verify_sign(params, method, k_secret, sign);
    benchmark::DoNotOptimize(ok);
  }
  if (!verify_sign(params, method, k_secret, sign)) state.SkipWithError("sign did not verify");
}

void BM_VerifyMd5PushOrder(benchmark::State& state) { verify_bench(state, sign_method::md5); }
BENCHMARK(BM_VerifyMd5PushOrder);

void BM_VerifyHmacSha256PushOrder(benchmark::State& state) {
  verify_bench(state, sign_method::hmac_sha256);
}
BENCHMARK(BM_VerifyHmacSha256PushOrder);

void BM_VerifyMd5WrongSign(benchmark::State& state) {
  // A forged sign costs the same as a good one: no early exit on content.
  const form_params params = signed_push_order(sign_method::md5);
  std::string sign = *params.find("sign");
  sign[0] = sign[0] == 'A' ? 'B' : 'A';
  for (auto _ : state) {
    bool ok = verify_sign(params, sign_method::md5, k_secret, sign);
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(BM_VerifyMd5WrongSign);

void BM_DecodeAndVerifyMd5(benchmark::State& state) {
  // The whole wire-side cost of authenticating a pushOrder: decode, then verify.
  const form_params params = signed_push_order(sign_method::md5);
  const std::string body = form_encode(params);
  for (auto _ : state) {
    auto decoded = decode_form({}, body);
    bool ok = decoded && verify_sign(*decoded, sign_method::md5, k_secret, *decoded->find("sign"));
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(BM_DecodeAndVerifyMd5);

void BM_SignCallbackHmacSha256(benchmark::State& state) {
  // Outgoing: the callback sender signs each delivery.
  form_params params;
  params.insert("order_no", "M20231114221320000123");
  params.insert("order_number", "T17000000000010001");
  params.insert("status", "2");
  params.insert("amount", "100");
  params.insert("mobile", "13800138000");
  params.insert("timestamp", "1700000003");
  for (auto _ : state) {
    auto sign = sign_params(params, sign_method::hmac_sha256, k_secret);
    benchmark::DoNotOptimize(sign);
  }
}
BENCHMARK(BM_SignCallbackHmacSha256);

}  // namespace
