#!/usr/bin/env bash
# GPU serving benchmark (issue 5), through the real gRPC server and deltaserve-bench:
#  - TTFT: one request at a time, for each prompt length and prefill mode, one new token;
#  - decode: DECODE_REQUESTS concurrent requests of DECODE_PROMPT prompt tokens and
#    DECODE_OUTPUT new tokens each; generated tokens per second over the whole run (the
#    prefills of its prompts included, as deltaserve-bench counts it), and "decode tok/s
#    (all running)": deltaserve-bench's decode_tokens_per_second, the tokens that arrived
#    while every request had its first token and none had finished, over that interval
#    (steady-state decode, no prefill in it; 0 where no such interval of two steps exists).
# Each measured run follows a warm-up run of the same shape (first CUDA kernels, cuBLAS
# handles, allocator growth). Every run draws its own prompt tokens (its own --seed): a
# repeated prompt would come back from the prefix cache instead of being prefilled.
#
#   scripts/bench-gpu-serving.sh BUILD_DIR
#
# Environment, defaulting to issue 5's setup:
#   DEVICE=cuda                    server --device (cpu runs the same steps on the CPU engine)
#   MODEL=engine/runtime/bench/llama-3.1-8b-shape  LOAD_FORMAT=dummy (random weights)
#   TTFT_LENGTHS="8192 32768 131071"  TTFT_MODES="dense delta"
#   DECODE_REQUESTS=64 DECODE_PROMPT=1024 DECODE_OUTPUT=128 DECODE_MODE=delta
#   MAX_NUM_BATCHED_TOKENS=16384   longer prompts are prefilled in chunks of this many tokens
#   MAX_MODEL_LEN=0                0: the model's max_position_embeddings
#   KV_CACHE_BYTES=0               0: sized from the device (on cuda what
#                                  --gpu-memory-utilization leaves after the weights and
#                                  one forward pass; 1 GiB on cpu)
#   SERVER_ARGS=""                 more server flags, split on spaces
#                                  (e.g. "--gpu-memory-utilization 0.8 --window 4096")
#   OUT=/tmp/bench-gpu-serving-out the JSON report of every run, the server log, the device
# Prompt lengths: a request must fit its prompt plus its new tokens in max_model_len, and
# Llama-3.1's is 131072. The "128K" TTFT point is therefore 131071 prompt tokens (plus
# the one generated token); 131072 is refused with INVALID_ARGUMENT. A larger
# MAX_MODEL_LEN would run positions the model was never trained on.
#
# Prints one markdown table last.
set -euo pipefail
build=${1:?usage: scripts/bench-gpu-serving.sh BUILD_DIR}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEVICE=${DEVICE:-cuda}
MODEL=${MODEL:-$repo/engine/runtime/bench/llama-3.1-8b-shape}
LOAD_FORMAT=${LOAD_FORMAT:-dummy}
TTFT_LENGTHS=${TTFT_LENGTHS:-"8192 32768 131071"}
TTFT_MODES=${TTFT_MODES:-"dense delta"}
DECODE_REQUESTS=${DECODE_REQUESTS:-64}
DECODE_PROMPT=${DECODE_PROMPT:-1024}
DECODE_OUTPUT=${DECODE_OUTPUT:-128}
DECODE_MODE=${DECODE_MODE:-delta}
MAX_NUM_BATCHED_TOKENS=${MAX_NUM_BATCHED_TOKENS:-16384}
MAX_MODEL_LEN=${MAX_MODEL_LEN:-0}
KV_CACHE_BYTES=${KV_CACHE_BYTES:-0}
SERVER_ARGS=${SERVER_ARGS:-}
OUT=${OUT:-/tmp/bench-gpu-serving-out}
mkdir -p "$OUT"

# shellcheck source=SCRIPTDIR/lib/server.sh
source "$repo/scripts/lib/server.sh"
trap server_stop EXIT

if [[ $DEVICE == cuda ]]; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1 >"$OUT/device.txt"
else
  echo "$DEVICE, $(nproc) cores" >"$OUT/device.txt"
fi

# All decode requests run in one batch: --max-num-seqs is their number.
# shellcheck disable=SC2086  # SERVER_ARGS is a list of flags
server_start "$build" "$OUT/server.log" --device "$DEVICE" --model "$MODEL" --load-format "$LOAD_FORMAT" \
  --max-num-batched-tokens "$MAX_NUM_BATCHED_TOKENS" --max-model-len "$MAX_MODEL_LEN" \
  --kv-cache-bytes "$KV_CACHE_BYTES" --max-num-seqs "$DECODE_REQUESTS" $SERVER_ARGS

seed=0
# bench NAME BENCH_ARGS...: a warm-up run, then the measured one, whose report is
# $OUT/NAME.json. Stops the script with both logs on a failed request.
bench() {
  local name=$1 run report
  shift
  for run in "$name-warmup" "$name"; do
    seed=$((seed + 1))
    report=$OUT/$run.json
    if ! "$build/client/deltaserve-bench" --target "$SERVER_TARGET" --seed "$seed" --json-out "$report" "$@" \
      >"$OUT/$run.txt" 2>&1; then
      echo "deltaserve-bench failed in $run; its output and the end of the server log:" >&2
      cat "$OUT/$run.txt" >&2
      tail -20 "$OUT/server.log" >&2
      exit 1
    fi
  done
}

# json_number FILE DOTTED.KEY: one number of a deltaserve-bench report.
json_number() {
  python3 -c 'import json, sys
value = json.load(open(sys.argv[1]))
for key in sys.argv[2].split("."): value = value[key]
print(value)' "$1" "$2"
}

rows=()
for length in $TTFT_LENGTHS; do
  for mode in $TTFT_MODES; do
    bench "ttft-$mode-$length" --num-requests 1 --concurrency 1 --prompt-len "$length" --output-len 1 \
      --attention-mode "$mode"
    rows+=("$(printf '| TTFT | %s | 1 | %d | 1 | %.3f | | |' "$mode" "$length" \
      "$(json_number "$OUT/ttft-$mode-$length.json" ttft_seconds.p50)")")
  done
done

server_metrics_snapshot "$OUT/metrics-before-decode.txt"
bench decode --num-requests "$DECODE_REQUESTS" --concurrency "$DECODE_REQUESTS" --prompt-len "$DECODE_PROMPT" \
  --output-len "$DECODE_OUTPUT" --attention-mode "$DECODE_MODE"
server_metrics_snapshot "$OUT/metrics-after-decode.txt"
histograms=(deltaserve_step_duration_seconds deltaserve_step_forward_seconds)
read -r s0 c0 f0 _ < <(metrics_histogram_totals "$OUT/metrics-before-decode.txt" "${histograms[@]}")
read -r s1 c1 f1 _ < <(metrics_histogram_totals "$OUT/metrics-after-decode.txt" "${histograms[@]}")
# The decode runs' steps, and their mean step and forward-pass times in ms.
read -r steps step_ms forward_ms < <(awk -v s0="$s0" -v c0="$c0" -v f0="$f0" -v s1="$s1" -v c1="$c1" -v f1="$f1" \
  'BEGIN { n = c1 - c0; d = n > 0 ? n : 1; printf "%d %.1f %.1f\n", n, 1000 * (s1 - s0) / d, 1000 * (f1 - f0) / d }')
rows+=("$(printf '| decode | %s | %d | %d | %d | %.3f | %.0f | %.0f |' "$DECODE_MODE" "$DECODE_REQUESTS" \
  "$DECODE_PROMPT" "$DECODE_OUTPUT" "$(json_number "$OUT/decode.json" ttft_seconds.p50)" \
  "$(json_number "$OUT/decode.json" generated_tokens_per_second)" \
  "$(json_number "$OUT/decode.json" decode_tokens_per_second)")")

echo
echo "device: $(cat "$OUT/device.txt"); model: $MODEL ($LOAD_FORMAT weights); reports in $OUT"
echo "| run | prefill attention | requests | prompt tokens | new tokens each | TTFT p50 s | generated tok/s |" \
  "decode tok/s (all running) |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
echo
echo "decode runs (warm-up and measured, prefills included): $steps engine steps, $step_ms ms a step on average," \
  "$forward_ms ms of it in the model's forward pass (deltaserve_step_*_seconds)"
