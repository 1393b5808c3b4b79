#!/usr/bin/env bash
# A trickle of signed demo orders, so that the operations console has something live to show:
# about two orders a second for random numbers and face values, each pushed by
# deploy/demo-client.sh (the same signing code). With deploy/topupd.demo.json's channels the
# outcomes are the engine's own, nothing is faked:
#  - most are delivered by sim1 (the cheaper channel);
#  - sim1 fails about one in three; those fail over to sim2 (change=1), which delivers most;
#  - what sim2 fails too is refunded (status 4);
#  - the first order goes to 13999999999, which sim1 takes and never finishes (`hold_mobiles`):
#    it stays in status 1 and, past sim1's unknown_max_s (10 s), is in the exception queue
#    (GET /admin/exceptions) until an operator settles it.
# It credits merchant 1001 as it goes (a fresh `ref` per run), so the balance never runs dry.
#   demo-trickle.sh [interval_s]      runs until killed; one line per order on stdout
# Environment: as demo-client.sh (TOPUP_URL, ADMIN_TOKEN, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
interval_s=${1:-0.4}
client=./deploy/demo-client.sh
held_mobile=13999999999
run=$(date +%s)

# One number of each carrier's segments: China Mobile, Unicom, Telecom, Broadnet.
prefixes=(138 139 186 133 192)
# Small values most of the time, as real top-ups are.
amounts=(10 20 30 50 50 100 100 200)
credit_every=200    # orders; 200 x at most 200 yuan fits in one credit
credit_yuan=40000.00

# push N MOBILE MONEY: one order, one line: its number and the push answer's code.
push() {
  local answer code number
  answer=$($client push "$2" "$3" "trickle-$run-$1" 2>&1) || true
  code=$(sed -n 's/.*"code":"\([^"]*\)".*/\1/p' <<<"$answer")
  number=$(sed -n 's/.*"order_number":"\([^"]*\)".*/\1/p' <<<"$answer")
  echo "$(date +%T) order $1 mobile=$2 money=$3 code=${code:-none} order_number=${number:--}"
}

n=0
while :; do
  if ((n % credit_every == 0)); then
    $client credit "$credit_yuan" "demo-trickle-$run-$((n / credit_every))" >/dev/null 2>&1 || true
  fi
  n=$((n + 1))
  if ((n == 1)); then
    push "$n" "$held_mobile" 50
  else
    mobile=$(printf '%s%04d%04d' "${prefixes[RANDOM % ${#prefixes[@]}]}" $((RANDOM % 10000)) \
      $((RANDOM % 10000)))
    push "$n" "$mobile" "${amounts[RANDOM % ${#amounts[@]}]}"
  fi
  sleep "$interval_s"
done
