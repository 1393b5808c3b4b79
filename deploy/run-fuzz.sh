#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) in their own tree and runs
# each for a bounded time on its seed corpus (tests/fuzz/corpus/<target>/, never written to; new
# inputs go to <build>/fuzz-corpus/<target>/). Exits non-zero if any target crashes, leaks, times
# out on one input, breaks one of its properties or fails to build; the crashing input is kept in
# <build>/fuzz-artifacts/<target>/ and the command to replay it is printed.
#
#   deploy/run-fuzz.sh [seconds-per-target]      (default 30)
#
# Environment: TOPUP_FUZZ_BUILD_DIR (default build-fuzz), TOPUP_FUZZ_JOBS (default 2),
# TOPUP_FUZZ_TARGETS (space-separated names, default every fuzz_* target).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "usage: $0 [seconds-per-target]" >&2
  exit 2
fi
build_dir="${TOPUP_FUZZ_BUILD_DIR:-build-fuzz}"
jobs="${TOPUP_FUZZ_JOBS:-2}"

# The main build uses g++; libFuzzer needs clang (and Debian's libclang-rt-14-dev for its runtime).
cxx="$(command -v clang++ || command -v clang++-14 || true)"
if [[ -z "$cxx" ]]; then
  echo "run-fuzz: clang++ not found (deploy/install-deps.sh --for-tests installs clang and libclang-rt-14-dev)" >&2
  exit 1
fi
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" \
  -DTOPUP_BUILD_FUZZ=ON -DTOPUP_BUILD_TESTS=OFF -DTOPUP_BUILD_BENCH=OFF -DTOPUP_SANITIZE=ON >/dev/null
cmake --build "$build_dir" -j "$jobs" --target topup_fuzzers

targets="${TOPUP_FUZZ_TARGETS:-}"
if [[ -z "$targets" ]]; then
  targets="$(cd tests/fuzz && ls fuzz_*.cpp | sed 's/\.cpp$//' | tr '\n' ' ')"
fi

# Crashes and sanitizer reports are fatal; leaks too (LeakSanitizer).
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=0
summary=()
for target in $targets; do
  bin="$build_dir/bin/$target"
  seeds="tests/fuzz/corpus/$target"
  work="$build_dir/fuzz-corpus/$target"
  artifacts="$build_dir/fuzz-artifacts/$target/"
  log="$build_dir/fuzz-logs/$target.log"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  dict=()
  case "$target" in
    fuzz_form_decode | fuzz_merchant_request) dict=(-dict=tests/fuzz/dict/form.dict) ;;
    fuzz_config_parse | fuzz_supplier_answer) dict=(-dict=tests/fuzz/dict/json.dict) ;;
  esac
  corpus=("$work")
  [[ -d "$seeds" ]] && corpus+=("$seeds")

  status=0
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
    -print_final_stats=1 -artifact_prefix="$artifacts" "${dict[@]}" "${corpus[@]}" \
    >"$log" 2>&1 || status=$?

  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)"
  units="$(find "$work" -type f | wc -l | tr -d ' ')"
  if ((status == 0)); then
    line="$(printf 'fuzz %-24s ok     %10s execs in %ss, coverage %s, corpus %s inputs' \
      "$target" "${execs:-?}" "$seconds" "${cov:-?}" "$units")"
  else
    failed=1
    crash="$(ls -t "$artifacts" 2>/dev/null | head -1)"
    line="$(printf 'fuzz %-24s FAILED (exit %s) after %s execs; input: %s' \
      "$target" "$status" "${execs:-?}" "${crash:+$artifacts$crash}")"
    echo "---- $target: last lines of $log" >&2
    tail -40 "$log" >&2
    [[ -n "$crash" ]] && echo "---- replay: $bin $artifacts$crash" >&2
  fi
  echo "$line"
  summary+=("$line")
done

echo "---- fuzz summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit "$failed"
