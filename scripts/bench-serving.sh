#!/usr/bin/env bash
# Serving benchmark (issue 3): starts deltaserve, drives it with deltaserve-bench at each
# concurrency, and reads the server's own step timing from /metrics: the mean engine
# step and the share of it spent outside the model's forward pass (scheduling,
# sampling, detokenizing, bookkeeping).
#   scripts/bench-serving.sh BUILD_DIR PROMPT_LEN OUTPUT_LEN "CONCURRENCIES" REQUESTS_PER_CLIENT -- SERVER_ARGS...
# Prints one markdown table last.
set -euo pipefail
build=$1 prompt_len=$2 output_len=$3 concurrencies=$4 per_client=$5
shift 5
[[ ${1:-} == "--" ]] && shift

# shellcheck source=SCRIPTDIR/lib/server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/server.sh"
work=$(mktemp -d)
trap 'server_stop; rm -rf "$work"' EXIT
server_start "$build" "$work/server.log" --max-num-seqs 64 "$@"

# "STEP_SUM STEP_COUNT FORWARD_SUM FORWARD_COUNT" from the server's histograms now.
step_totals() {
  server_metrics_snapshot "$work/metrics.txt"
  metrics_histogram_totals "$work/metrics.txt" deltaserve_step_duration_seconds deltaserve_step_forward_seconds
}

rows=()
for concurrency in $concurrencies; do
  requests=$((concurrency * per_client))
  read -r s0 c0 f0 _ <<<"$(step_totals)"
  report=$("$build/client/deltaserve-bench" --target "$SERVER_TARGET" --num-requests "$requests" \
             --concurrency "$concurrency" --prompt-len "$prompt_len" --output-len "$output_len")
  read -r s1 c1 f1 _ <<<"$(step_totals)"
  echo "$report" >&2
  json=$(grep '^{' <<<"$report" | tail -1)
  field() { sed -E "s/.*\"$1\": *([0-9.eE+-]+).*/\1/" <<<"$json"; }
  rows+=("$(awk -v c="$concurrency" -v n="$requests" -v rps="$(field requests_per_second)" \
              -v tps="$(field generated_tokens_per_second)" \
              -v ds="$(awk -v a="$s1" -v b="$s0" 'BEGIN{print a-b}')" \
              -v dc="$(awk -v a="$c1" -v b="$c0" 'BEGIN{print a-b}')" \
              -v df="$(awk -v a="$f1" -v b="$f0" 'BEGIN{print a-b}')" \
              'BEGIN { printf "| %d | %d | %.2f | %.1f | %d | %.2f | %.1f%% |", c, n, rps, tps, dc, 1e3 * ds / dc, 100 * (ds - df) / ds }')")
done

echo
echo "| concurrency | requests | req/s | generated tok/s | engine steps | mean step ms | outside forward |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
