#!/usr/bin/env bash
# scripts/gpu-check.sh's serving, ttft-one-step, decode-trace and prefill-trace stages on the CPU engine
# (stories260K, lengths scaled down), on the binaries of this build (PREBUILT): every
# stage passes, the traces are of the steps each stage means, the summaries read them and
# the tables come last. The one stand-in is nvidia-smi, which the script asks for the
# card's name: there is no GPU here.
#
#   gpu_check_stages_run_on_the_cpu_engine_test.sh REPO DELTASERVE DELTASERVE_BENCH MODEL_DIR
set -euo pipefail
repo=$1 server=$2 bench=$3 model=$4
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
command -v python3 >/dev/null || fail "python3 not found (scripts/gpu/trace_summary.py needs it): apt-get install python3"

build=$scratch/build
mkdir -p "$build/server" "$build/client" "$scratch/bin"
ln -s "$server" "$build/server/deltaserve"
ln -s "$bench" "$build/client/deltaserve-bench"
: >"$build/env.sh"
printf '#!/bin/sh\necho "no GPU (CPU engine), 0 MiB, none"\n' >"$scratch/bin/nvidia-smi"
chmod +x "$scratch/bin/nvidia-smi"

# 200-token prompts in 64-token chunks: 4 prompt steps per request; 4 requests of 16 + 100
# tokens: about 99 decode steps in the decode benchmark's warm-up, so 60 to 67 lie in it.
out=$scratch/out
status=0
(cd "$repo" && PATH="$scratch/bin:$PATH" PREBUILT=1 BUILD="$build" OUT="$out" STAGES="serving ttft-one-step decode-trace prefill-trace" \
  DEVICE=cpu MODEL="$model" LOAD_FORMAT=auto MAX_NUM_BATCHED_TOKENS=64 TTFT_LENGTHS=200 TTFT_MODES="dense delta" \
  DECODE_REQUESTS=4 DECODE_PROMPT=16 DECODE_OUTPUT=100 DECODE_TRACE_TTFT_LENGTH=32 PREFILL_TRACE_LENGTH=200 \
  ONE_STEP_TTFT_LENGTH=150 \
  bash scripts/gpu-check.sh >"$scratch/check.txt" 2>&1) || status=$?
cat "$scratch/check.txt"
((status == 0)) || fail "gpu-check.sh exited with $status"

for line in "build skipped (PREBUILT)" "serving bench rc=0" "one-step TTFT bench rc=0" "decode-trace run rc=0" "decode-trace summary rc=0 ALL:" \
  "prefill-trace run rc=0" "prefill-trace summary rc=0 ALL:"; do
  grep -qF "$line" "$out/summary.txt" || fail "summary.txt lacks '$line'"
done

traces() { (cd "$1" && ls) | tr '\n' ' '; }
expected="decode-step-60.json decode-step-61.json decode-step-62.json decode-step-63.json decode-step-64.json decode-step-65.json decode-step-66.json decode-step-67.json "
[[ "$(traces "$out/decode-trace-traces")" == "$expected" ]] ||
  fail "decode-trace traced '$(traces "$out/decode-trace-traces")', expected '$expected'"
# The measured request's 4 chunks, after its warm-up's 4.
expected="step-4.json step-5.json step-6.json step-7.json "
[[ "$(traces "$out/prefill-trace-traces")" == "$expected" ]] ||
  fail "prefill-trace traced '$(traces "$out/prefill-trace-traces")', expected '$expected'"
for trace in decode-trace prefill-trace; do
  grep -q '^-- GPU time by class' "$out/$trace.txt" || fail "$trace.txt is not trace_summary.py's output"
done
# 4 prompt steps traced of 200 tokens: the 200-token TTFT request of the trace run.
grep -q '^| TTFT | delta | 1 | 200 | 1 |' "$out/prefill-trace-run.txt" || fail "prefill-trace-run.txt lacks its TTFT row"

# The one-step TTFT stage's server ran its warm-up and measured 150-token prompts in one
# step each (in 64-token chunks they would take 3).
grep -q '^| TTFT | delta | 1 | 150 | 1 |' "$out/ttft-one-step-bench.txt" || fail "ttft-one-step-bench.txt lacks its TTFT row"
grep -qx 'deltaserve_step_duration_seconds_count 2' "$out/ttft-one-step/metrics-before-decode.txt" ||
  fail "the one-step TTFT runs took $(grep '^deltaserve_step_duration_seconds_count' \
    "$out/ttft-one-step/metrics-before-decode.txt") steps, not 2"

# The tables come last: the serving table, then each trace's class table.
tail -n +"$(grep -n '^== serving-bench$' "$scratch/check.txt" | cut -d: -f1)" "$scratch/check.txt" >"$scratch/tables.txt" ||
  fail "no serving-bench table in the output"
grep -q '^| decode | delta | 4 | 16 | 100 |' "$scratch/tables.txt" || fail "the serving table lacks its decode row"
grep -q '^== ttft-one-step-bench$' "$scratch/tables.txt" || fail "no one-step TTFT table after the serving table"
grep -q '^== decode-trace (8 steps' "$scratch/tables.txt" || fail "no decode-trace table after the serving table"
grep -q '^== prefill-trace (4 steps' "$scratch/tables.txt" || fail "no prefill-trace table after the serving table"
echo "PASS"
