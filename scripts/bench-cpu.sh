#!/usr/bin/env bash
# CPU generation benchmark (issue 2): prefill and decode tokens/s of deltaserve-generate
# on stories260K and on a dummy model of the Llama-3.2-1B shape, and decode's distance
# from the memory bound (float32 weight bytes per token over measured read bandwidth).
# Usage: scripts/bench-cpu.sh [BUILD_DIR]   (prints a markdown table last)
set -euo pipefail
build=${1:-build}
generate="$build/engine/cli/deltaserve-generate"
models_dir=$(cd "$(dirname "$0")/.." && pwd)/../shared/models
# config.json of Llama-3.2-1B (no weights: --load-format dummy makes seeded random ones).
llama_1b=$(cd "$(dirname "$0")/.." && pwd)/engine/runtime/bench/llama-3.2-1b-shape


bandwidth=$("$build/engine/runtime/deltaserve_memory_bandwidth" | sed -E 's/read GB\/s: ([0-9.]+).*/\1/')

# run NAME PARAMS PROMPT_TOKENS DECODE_TOKENS ARGS...: one row of the table.
rows=()
run() {
  local name=$1 params=$2 prompt_tokens=$3 decode_tokens=$4
  shift 4
  local ids
  ids=$(seq -s, 1 "$prompt_tokens")
  local line
  line=$("$generate" "$@" --prompt-ids "$ids" --max-tokens "$decode_tokens" --ignore-eos \
           --temperature 0 --attention-mode dense 2>&1 >/dev/null | grep '^prefill:')
  local prefill decode
  prefill=$(sed -E 's/.*\(([0-9.]+) tokens\/s\); decode.*/\1/' <<<"$line")
  decode=$(sed -E 's/.*decode: .*\(([0-9.]+) tokens\/s\)/\1/' <<<"$line")
  local bound
  bound=$(awk -v p="$params" -v b="$bandwidth" 'BEGIN { printf "%.2f", b * 1e9 / (p * 4) }')
  local ratio
  ratio=$(awk -v d="$decode" -v b="$bound" 'BEGIN { printf "%.2f", b / d }')
  rows+=("| $name | $prompt_tokens | $prefill | $decode_tokens | $decode | $bound | ${ratio}x |")
}

# params HIDDEN FFN LAYERS VOCAB HEADS KV_HEADS HEAD_DIM: the weights read per decoded
# token, every layer plus the tied output head (the embedding lookup reads one row).
params() {
  awk -v h="$1" -v f="$2" -v l="$3" -v v="$4" -v H="$5" -v K="$6" -v d="$7" \
    'BEGIN { printf "%d", l * (2 * h * H * d + 2 * h * K * d + 3 * h * f + 2 * h) + v * h + h }'
}

run "stories260K" "$(params 64 172 5 512 8 4 8)" 256 128 --model "$models_dir/stories260K"
run "Llama-3.2-1B shape, dummy" "$(params 2048 8192 16 128256 32 8 64)" 128 16 --model "$llama_1b" --load-format dummy

echo
echo "memory read bandwidth: $bandwidth GB/s; $(nproc) cores; $(lscpu | sed -nE 's/^Model name: +//p')"
echo
echo "| model | prompt tokens | prefill tokens/s | decoded tokens | decode tokens/s | memory-bound decode tokens/s | bound / measured |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
