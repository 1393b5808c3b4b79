#!/usr/bin/env bash
# A tiny merchant client for the demo and for trying topupd by hand: signs requests exactly as
# spec §2 says (MD5 over the sorted, non-empty parameters plus &key=<secret>) and POSTs them.
#   demo-client.sh push <mobile> <money> [order_no] [recharge_type]
#   demo-client.sh query <order_number>      demo-client.sh balance
#   demo-client.sh info <mobile>             demo-client.sh cancel <order_number>
#   demo-client.sh credit <yuan> <ref>       (admin API)
# Environment: TOPUP_URL (http://127.0.0.1:8080), APP_KEY (demo), APP_SECRET (demo-secret),
# STORE_ID (s1), ADMIN_TOKEN (demo-admin-token).
set -euo pipefail
url=${TOPUP_URL:-http://127.0.0.1:8080}
app_key=${APP_KEY:-demo}
app_secret=${APP_SECRET:-demo-secret}
store_id=${STORE_ID:-s1}
admin_token=${ADMIN_TOKEN:-demo-admin-token}

# signed_post PATH key=value...: adds app_key and timestamp, signs, POSTs the form.
signed_post() {
  local path=$1; shift
  local params=("app_key=$app_key" "timestamp=$(date +%s)" "$@")
  local joined
  joined=$(printf '%s\n' "${params[@]}" | grep -v '=$' | LC_ALL=C sort -t= -k1,1 | paste -sd '&')
  local sign
  sign=$(printf '%s&key=%s' "$joined" "$app_secret" | openssl dgst -md5 -r | cut -d' ' -f1 | tr a-f A-F)
  local args=()
  for p in "${params[@]}" "sign=$sign"; do args+=(--data-urlencode "$p"); done
  curl -sS --max-time 10 "${args[@]}" "$url$path"
  echo
}

cmd=${1:-}; shift || true
case "$cmd" in
  push)
    signed_post /rest/Recharge/pushOrder "store_id=$store_id" "mobile=$1" "money=$2" \
      "order_no=${3:-demo-$(date +%s%N)}" "recharge_type=${4:-1}" ;;
  query) signed_post /rest/Recharge/query "order_number=$1" ;;
  cancel) signed_post /rest/Recharge/cancel "order_number=$1" ;;
  balance) signed_post /rest/User/query ;;
  info) signed_post /rest/Recharge/mobileInfo "mobile=$1" ;;
  credit)
    curl -sS --max-time 10 -H "Authorization: Bearer $admin_token" \
      --data-urlencode "amount=$1" --data-urlencode "ref=$2" "$url/admin/merchants/1001/credit"
    echo ;;
  *) sed -n '3,9p' "$0"; exit 2 ;;
esac
