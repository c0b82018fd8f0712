#!/usr/bin/env bash
# On the GPU host (repo root as cwd): builds deltaserve with CUDA from the air-gap bundle
# (deploy/airgap/build.sh), runs the kernel and CUDA-engine tests, compute-sanitizer, the
# prefill-attention benchmark against torch SDPA, the decode-attention benchmark against
# the copy bandwidth and the serving benchmark through the gRPC server
# (scripts/bench-gpu-serving.sh). Logs go to $OUT; one summary comes last.
#
# Needs: the bundle in BUNDLE (default .airgap-bundle: deploy/airgap/bundle.sh on a
# connected Debian 12 machine), CUDA at /usr/local/cuda, PyTorch in python3.
# STAGES picks what runs after the build, in the order given (default: all of
# "kernel-tests engine-tests sanitizer prefill decode-kernel serving ttft-one-step"; "none"
# only builds; "ttft-one-step" serves ONE_STEP_TTFT_LENGTH (default 131071) delta prompt
# tokens in one engine step (--max-num-batched-tokens of that length, where the serving
# stage prefills in 16K chunks) and reports its TTFT in ttft-one-step-bench.txt;
# "decode-trace" and "prefill-trace", not in the default, trace 8 decode steps of the
# serving benchmark's 64 requests, or the 8 prefill chunks of its 128K delta request, and
# sum them with scripts/gpu/trace_summary.py into decode-trace.txt / prefill-trace.txt;
# DECODE_TRACE_TTFT_LENGTH, default 8192, is the short TTFT run before the traced decode,
# PREFILL_TRACE_LENGTH, default 131071, the traced prompt);
# BUILD_TARGETS limits the build to what those stages need (e.g. "deltaserve
# deltaserve-bench cuda_engine_test"); BENCH_LENGTHS / BASELINE_LENGTHS set the prefill
# benchmark's lengths (PORTABLE_LENGTHS reruns it in the same call on the portable mma.sync
# kernel, which an sm_90 card otherwise never runs for head_dim 128; empty skips that),
# DECODE_SHAPES the decode benchmark's BATCHxCONTEXT shapes (empty: its defaults), and
# bench-gpu-serving.sh's own variables pass through. PREBUILT=1 skips the build and runs
# the stages on what BUILD already holds (env.sh, server/, client/, tests/, kernels/), e.g.
# a second call on a machine that is still warm.
#
# A change is timed against the code before it in the same call: BASE_TREE=FILE, a tarball
# of that revision's tree made where git is (`git archive REV -o FILE`, e.g. into a carried
# ignored folder), is unpacked and built into BASE_BUILD (default BUILD-base) beside the
# main build, and the prefill and serving stages then run its benchmarks too, right after
# their own, with the same baseline (prefill-bench-base.txt, serving-bench-base.txt).
#
# Device time is scarce, so a run can be boxed: DEADLINE_S caps the whole script (build
# included) in seconds; each stage's commands get at most what is left, and a stage that
# finds too little left is reported as skipped. After every stage the summary so far goes
# to $OUT/summary.txt and, with PACK=FILE (outside $OUT), $OUT is packed into that tarball,
# so a run cut short still returns what it measured.
set -uo pipefail
OUT=${OUT:-/tmp/gpu-check-out}
BUILD=${BUILD:-/tmp/deltaserve-gpu-build}
BUNDLE=${BUNDLE:-.airgap-bundle}
STAGES=${STAGES:-"kernel-tests engine-tests sanitizer prefill decode-kernel serving ttft-one-step"}
BENCH_LENGTHS=${BENCH_LENGTHS:-"8192 32768 131072 524288 1048576"}
BASELINE_LENGTHS=${BASELINE_LENGTHS:-"8192 32768 131072"}
PORTABLE_LENGTHS=${PORTABLE_LENGTHS-"8192 32768 131072"}
DECODE_SHAPES=${DECODE_SHAPES:-}
DEADLINE_S=${DEADLINE_S:-}
PREBUILT=${PREBUILT:-}
DECODE_TRACE_TTFT_LENGTH=${DECODE_TRACE_TTFT_LENGTH:-8192}
PREFILL_TRACE_LENGTH=${PREFILL_TRACE_LENGTH:-131071}
ONE_STEP_TTFT_LENGTH=${ONE_STEP_TTFT_LENGTH:-131071}
PACK=${PACK:-}
BASE_TREE=${BASE_TREE:-}
BASE_BUILD=${BASE_BUILD:-$BUILD-base}
readonly KNOWN_STAGES="none kernel-tests engine-tests sanitizer prefill decode-kernel serving ttft-one-step decode-trace prefill-trace"
started=$SECONDS

for name in $STAGES; do
  if [[ " $KNOWN_STAGES " != *" $name "* ]]; then
    echo "STAGES: unknown stage '$name' (known: $KNOWN_STAGES)" >&2
    exit 2
  fi
done
if [[ -n "$DEADLINE_S" && ! "$DEADLINE_S" =~ ^[1-9][0-9]*$ ]]; then
  echo "DEADLINE_S: expected a positive number of seconds, got '$DEADLINE_S'" >&2
  exit 2
fi
case "$PREBUILT" in
  "" | 0) PREBUILT= ;;
  1) ;;
  *)
    echo "PREBUILT: expected 1 (skip the build) or 0, got '$PREBUILT'" >&2
    exit 2
    ;;
esac
if [[ -n "$PREBUILT" && ! -f "$BUILD/env.sh" ]]; then
  echo "PREBUILT: no build in BUILD=$BUILD (its env.sh is missing); run once without PREBUILT" >&2
  exit 2
fi
for length in DECODE_TRACE_TTFT_LENGTH PREFILL_TRACE_LENGTH; do
  if [[ ! "${!length}" =~ ^[1-9][0-9]*$ ]]; then
    echo "$length: expected a positive number of prompt tokens, got '${!length}'" >&2
    exit 2
  fi
done
if [[ -n "$BASE_TREE" && ! -f "$BASE_TREE" ]]; then
  echo "BASE_TREE: no such file '$BASE_TREE' (a tarball of the tree to compare with: git archive REV -o FILE)" >&2
  exit 2
fi
mkdir -p "$OUT"
export OUT
summary=()
failures=0

# report RC NAME [DETAIL]: one line of the summary; a nonzero RC fails the script.
report() {
  (($1 == 0)) || failures=$((failures + 1))
  summary+=("$2 rc=$1${3:+ $3}")
}

# budget SECONDS: the timeout for one command, SECONDS or less when the deadline is nearer
# (never below 1: `timeout 0` would mean no limit at all).
budget() {
  if [[ -z "$DEADLINE_S" ]]; then
    echo "$1"
    return
  fi
  local left=$((DEADLINE_S - (SECONDS - started)))
  ((left > $1)) && left=$1
  echo $((left < 1 ? 1 : left))
}

# Writes the summary so far, and packs $OUT when asked, so a run cut short keeps it.
save_progress() {
  printf '%s\n' "${summary[@]}" >"$OUT/summary.txt"
  if [[ -n "$PACK" ]]; then tar czf "$PACK" -C "$OUT" . 2>/dev/null || echo "PACK: could not write $PACK" >&2; fi
}

# The base tree's benchmarks, built beside the main build in the background, in a session
# of its own (setsid; timeout makes process groups) so that stop_base_build reaches its
# compilers too; its status lands in $OUT/base-build.rc.
base_pid=
start_base_build() {
  local targets=()
  [[ " $STAGES " == *" prefill "* ]] && targets+=(deltaserve_prefill_attention_bench)
  [[ " $STAGES " == *" serving "* ]] && targets+=(deltaserve deltaserve-bench)
  local src="$BASE_BUILD-src"
  local bundle
  bundle=$(realpath "$BUNDLE")
  rm -rf "$src" && mkdir -p "$src" && tar xf "$BASE_TREE" -C "$src" || return 1
  # shellcheck disable=SC2016 # expanded by the inner bash, from its arguments
  setsid bash -c 'cd "$1" && BUILD_TARGETS="$2" timeout "$3" bash deploy/airgap/build.sh "$4" "$5" >"$6/base-build.log" 2>&1
    echo $? >"$6/base-build.rc"' base-build "$src" "${targets[*]}" "$(budget 3600)" "$bundle" "$BASE_BUILD" "$OUT" &
  base_pid=$!
}

# Stops a base build still running (after a failed main build its benchmarks never run).
stop_base_build() {
  [[ -n "$base_pid" ]] && pkill -TERM -s "$base_pid"
  wait
}

# Waits for the base build; true when it built.
base_built() {
  wait
  [[ "$(cat "$OUT/base-build.rc" 2>/dev/null)" == 0 ]]
}
base_ok=false

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/device.txt"
build_start=$SECONDS
if [[ -n "$BASE_TREE" ]] && ! start_base_build; then
  echo "BASE_TREE: could not unpack $BASE_TREE into $BASE_BUILD-src" >&2
  exit 1
fi
if [[ -n "$PREBUILT" ]]; then
  summary+=("build skipped (PREBUILT): $BUILD")
elif ! timeout "$(budget 3600)" bash deploy/airgap/build.sh "$BUNDLE" "$BUILD" -DDELTASERVE_WERROR=ON \
  -DDELTASERVE_GPU_TESTS=ON >"$OUT/build.log" 2>&1; then
  echo "build: FAILED (or out of DEADLINE_S)"
  grep -E "error|FAILED" "$OUT/build.log" | head -40
  summary+=("build FAILED after $((SECONDS - build_start)) s")
  stop_base_build
  save_progress
  exit 1
fi
[[ -z "$PREBUILT" ]] && summary+=("build ok in $((SECONDS - build_start)) s")
if [[ -n "$BASE_TREE" ]]; then
  base_built && base_ok=true
  report $? "base build ($BASE_TREE)" "in $((SECONDS - build_start)) s, $BASE_BUILD"
fi
save_progress
# shellcheck source=/dev/null
source "$BUILD/env.sh"

# gtest_run NAME BINARY [ARGS...]: one line of the summary.
gtest_run() {
  local name=$1
  shift
  timeout "$(budget 400)" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  grep -E "^\[  FAILED  \]|Failure$" "$OUT/$name.log" | head -20
  report "$rc" "$name" "$(grep -E '^\[  PASSED  \]' "$OUT/$name.log") $(grep -cE '^\[  FAILED  \].*\(' "$OUT/$name.log") failed"
}

run_kernel_tests() {
  gtest_run kernel-tests "$BUILD/tests/kernels/deltaserve_kernels_test"
  # On sm_90 the tests above ran the wgmma kernel for head_dim 128; the portable one too.
  DELTASERVE_PORTABLE_ATTENTION=1 gtest_run kernel-tests-portable "$BUILD/tests/kernels/deltaserve_kernels_test" \
    --gtest_filter='*Prefill*:*Gathered*:*Decode*'
}

run_engine_tests() { gtest_run engine-tests "$BUILD/tests/engine/cuda/cuda_engine_test"; }

run_sanitizer() {
  local filter='*PrefillAttentionTest*sparse_d128_gqa4:*PrefillAttentionTest*block8*:*PrefillAttentionTest*gqa3:*GatheredAttentionTest*chunked*:*DecodeAttentionTest*d64*:*DeltaCombine*:*RmsNorm*:*SiluMul*:*RopeKvWrite*'
  for tool in memcheck racecheck; do
    timeout "$(budget 240)" compute-sanitizer --tool "$tool" --error-exitcode 3 "$BUILD/tests/kernels/deltaserve_kernels_test" \
      --gtest_filter="$filter" >"$OUT/sanitizer-$tool.log" 2>&1
    report $? "sanitizer $tool" "$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/sanitizer-$tool.log" | tail -1)"
  done
}

# prefill_bench TABLE SECONDS BUILD_DIR LENGTHS...: one run of BUILD_DIR's prefill
# benchmark against this call's SDPA baseline, into $OUT/TABLE.txt.
prefill_bench() {
  local table=$1 seconds=$2 dir=$3
  shift 3
  timeout "$(budget "$seconds")" "$dir/kernels/deltaserve_prefill_attention_bench" --baseline "$OUT/baseline.txt" "$@" \
    >"$OUT/$table.txt" 2>>"$OUT/bench.err"
}

run_prefill() {
  # shellcheck disable=SC2086  # lists of lengths
  PYTHONUNBUFFERED=1 timeout "$(budget 240)" python3 scripts/gpu/sdpa_baseline.py $BASELINE_LENGTHS \
    >"$OUT/baseline.txt" 2>"$OUT/bench.err"
  # shellcheck disable=SC2086
  prefill_bench prefill-bench 400 "$BUILD" $BENCH_LENGTHS
  report $? "prefill bench"
  if $base_ok; then
    # shellcheck disable=SC2086
    prefill_bench prefill-bench-base 400 "$BASE_BUILD" $BENCH_LENGTHS
    report $? "prefill bench (base tree)"
  fi
  if [[ -n "$PORTABLE_LENGTHS" ]]; then
    # shellcheck disable=SC2086
    DELTASERVE_PORTABLE_ATTENTION=1 prefill_bench prefill-bench-portable 300 "$BUILD" $PORTABLE_LENGTHS
    report $? "prefill bench (portable kernel)"
  fi
}

run_decode_kernel() {
  # shellcheck disable=SC2086  # list of shapes
  timeout "$(budget 300)" "$BUILD/kernels/deltaserve_decode_attention_bench" $DECODE_SHAPES \
    >"$OUT/decode-kernel-bench.txt" 2>"$OUT/decode-kernel-bench.err"
  report $? "decode kernel bench"
}

# serving_bench REPORTS TABLE SECONDS BUILD_DIR: bench-gpu-serving.sh on BUILD_DIR's
# binaries for at most SECONDS, its reports in $OUT/REPORTS and its output in $OUT/TABLE.txt.
serving_bench() {
  OUT="$OUT/$1" timeout "$(budget "$3")" bash scripts/bench-gpu-serving.sh "$4" >"$OUT/$2.txt" 2>&1
}

run_serving() {
  serving_bench serving serving-bench 560 "$BUILD"
  report $? "serving bench"
  if $base_ok; then
    serving_bench serving-base serving-bench-base 560 "$BASE_BUILD"
    report $? "serving bench (base tree)"
  fi
}

# delta_prompt_bench LENGTH STEP_TOKENS COMMAND...: COMMAND (serving_bench or trace_run)
# with bench-gpu-serving.sh measuring one delta prompt of LENGTH tokens, prefilled
# STEP_TOKENS at a time, and its decode run cut to a few steps.
delta_prompt_bench() {
  local length=$1 step_tokens=$2
  shift 2
  TTFT_LENGTHS=$length TTFT_MODES=delta MAX_NUM_BATCHED_TOKENS=$step_tokens DECODE_REQUESTS=2 DECODE_PROMPT=64 \
    DECODE_OUTPUT=2 "$@"
}

# The prompt in one step: what a deployment trades decode stalls for (a long prompt's whole
# prefill between two decode steps) to cut the chunks' overhead from its TTFT.
run_ttft_one_step() {
  delta_prompt_bench "$ONE_STEP_TTFT_LENGTH" "$ONE_STEP_TTFT_LENGTH" \
    serving_bench ttft-one-step ttft-one-step-bench 300 "$BUILD"
  report $? "one-step TTFT bench"
}

# trace_run NAME TRACE_FLAGS: one bench-gpu-serving.sh run (its other variables from the
# caller's environment) with the server tracing what TRACE_FLAGS pick into $OUT/NAME-traces,
# summed by scripts/gpu/trace_summary.py into $OUT/NAME.txt.
trace_run() {
  local name=$1 flags=$2
  local traces="$OUT/$name-traces"
  rm -rf "$traces" && mkdir -p "$traces"
  SERVER_ARGS="${SERVER_ARGS:-} --torch-profile-dir $traces $flags" \
    serving_bench "$name-run" "$name-run" 300 "$BUILD"
  report $? "$name run"
  python3 scripts/gpu/trace_summary.py "$traces" >"$OUT/$name.txt" 2>&1
  report $? "$name summary" "$(grep -m1 '^ALL' "$OUT/$name.txt")"
}

# Decode steps 60 to 67: in the decode benchmark's warm-up run, after its 64 prefills,
# while all 64 requests decode (about 127 decode steps follow them).
run_decode_trace() {
  TTFT_LENGTHS=$DECODE_TRACE_TTFT_LENGTH TTFT_MODES=delta trace_run decode-trace \
    "--torch-profile-decode --torch-profile-first-step 60 --torch-profile-steps 8"
}

# The measured delta request of PREFILL_TRACE_LENGTH tokens, chunk by chunk (at 131071
# tokens, the 8 chunks of 16K after its warm-up's 8: steps 8 to 15).
run_prefill_trace() {
  local chunk=${MAX_NUM_BATCHED_TOKENS:-16384}
  local chunks=$(((PREFILL_TRACE_LENGTH + chunk - 1) / chunk))
  delta_prompt_bench "$PREFILL_TRACE_LENGTH" "$chunk" \
    trace_run prefill-trace "--torch-profile-first-step $chunks --torch-profile-steps $chunks"
}

# A stage that could not get a minute would only be killed at its first command.
readonly MIN_STAGE_S=60
for name in $STAGES; do
  [[ "$name" == none ]] && continue
  if (($(budget "$MIN_STAGE_S") < MIN_STAGE_S)); then
    report 1 "$name skipped" "($(budget "$MIN_STAGE_S") s left of DEADLINE_S=$DEADLINE_S)"
    save_progress
    continue
  fi
  stage_start=$SECONDS
  "run_${name//-/_}"
  summary+=("  ($name took $((SECONDS - stage_start)) s)")
  save_progress
done

echo "== $(cat "$OUT/device.txt")"
printf '%s\n' "${summary[@]}"
for table in prefill-bench prefill-bench-base prefill-bench-portable decode-kernel-bench serving-bench \
  serving-bench-base ttft-one-step-bench; do
  if [[ -f "$OUT/$table.txt" ]]; then
    echo "== $table"
    tail -30 "$OUT/$table.txt"
  fi
done
for trace in decode-trace prefill-trace; do
  if [[ -f "$OUT/$trace.txt" ]]; then
    echo "== $trace ($(find "$OUT/$trace-traces" -name '*.json' | wc -l) steps; the whole summary in $trace.txt)"
    sed -n '/^ALL/,/^-- GEMMs/p' "$OUT/$trace.txt" | head -30
  fi
done
((failures == 0)) || exit 1
