#!/usr/bin/env bash
# On the GPU host (repo root as cwd): builds deltaserve with CUDA from the air-gap bundle
# (deploy/airgap/build.sh), runs the kernel and CUDA-engine tests, compute-sanitizer, the
# prefill-attention benchmark against torch SDPA, the decode-attention benchmark against
# the copy bandwidth and the serving benchmark through the gRPC server
# (scripts/bench-gpu-serving.sh). Logs go to $OUT; one summary comes last.
#
# Needs: the bundle in BUNDLE (default .airgap-bundle: deploy/airgap/bundle.sh on a
# connected Debian 12 machine), CUDA at /usr/local/cuda, PyTorch in python3.
# STAGES picks what runs after the build (default: all of
# "kernel-tests engine-tests sanitizer prefill decode-kernel serving"); BUILD_TARGETS limits
# the build to what those stages need (e.g. "deltaserve deltaserve-bench cuda_engine_test");
# BENCH_LENGTHS / BASELINE_LENGTHS set the prefill benchmark's lengths (PORTABLE_LENGTHS
# reruns it in the same call on the portable mma.sync kernel, which an sm_90 card otherwise
# never runs for head_dim 128; empty skips that), DECODE_SHAPES the
# decode benchmark's BATCHxCONTEXT shapes (empty: its defaults), and
# bench-gpu-serving.sh's own variables pass through.
set -uo pipefail
OUT=${OUT:-/tmp/gpu-check-out}
BUILD=${BUILD:-/tmp/deltaserve-gpu-build}
BUNDLE=${BUNDLE:-.airgap-bundle}
STAGES=${STAGES:-"kernel-tests engine-tests sanitizer prefill decode-kernel serving"}
BENCH_LENGTHS=${BENCH_LENGTHS:-"8192 32768 131072 524288 1048576"}
BASELINE_LENGTHS=${BASELINE_LENGTHS:-"8192 32768 131072"}
PORTABLE_LENGTHS=${PORTABLE_LENGTHS-"8192 32768 131072"}
DECODE_SHAPES=${DECODE_SHAPES:-}
mkdir -p "$OUT"
export OUT
summary=()
stage() { [[ " $STAGES " == *" $1 "* ]]; }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/device.txt"
if ! bash deploy/airgap/build.sh "$BUNDLE" "$BUILD" -DDELTASERVE_WERROR=ON -DDELTASERVE_GPU_TESTS=ON \
  >"$OUT/build.log" 2>&1; then
  echo "build: FAILED"
  grep -E "error|FAILED" "$OUT/build.log" | head -40
  exit 1
fi
# shellcheck source=/dev/null
source "$BUILD/env.sh"

# gtest_run NAME BINARY [ARGS...]: one line of the summary.
gtest_run() {
  local name=$1
  shift
  timeout 400 "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  grep -E "^\[  FAILED  \]|Failure$" "$OUT/$name.log" | head -20
  summary+=("$name rc=$rc: $(grep -E '^\[  PASSED  \]' "$OUT/$name.log") $(grep -cE '^\[  FAILED  \].*\(' "$OUT/$name.log") failed")
}

if stage kernel-tests; then
  gtest_run kernel-tests "$BUILD/tests/kernels/deltaserve_kernels_test"
  # On sm_90 the tests above ran the wgmma kernel for head_dim 128; the portable one too.
  DELTASERVE_PORTABLE_ATTENTION=1 gtest_run kernel-tests-portable "$BUILD/tests/kernels/deltaserve_kernels_test" \
    --gtest_filter='*Prefill*:*Gathered*:*Decode*'
fi
if stage engine-tests; then gtest_run engine-tests "$BUILD/tests/engine/cuda/cuda_engine_test"; fi

if stage sanitizer; then
  filter='*PrefillAttentionTest*sparse_d128_gqa4:*PrefillAttentionTest*block8*:*PrefillAttentionTest*gqa3:*GatheredAttentionTest*chunked*:*DecodeAttentionTest*d64*:*DeltaCombine*:*RmsNorm*:*SiluMul*:*RopeKvWrite*'
  for tool in memcheck racecheck; do
    timeout 240 compute-sanitizer --tool "$tool" --error-exitcode 3 "$BUILD/tests/kernels/deltaserve_kernels_test" \
      --gtest_filter="$filter" >"$OUT/sanitizer-$tool.log" 2>&1
    summary+=("sanitizer $tool rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/sanitizer-$tool.log" | tail -1)")
  done
fi

if stage prefill; then
  # shellcheck disable=SC2086  # lists of lengths
  PYTHONUNBUFFERED=1 timeout 240 python3 scripts/gpu/sdpa_baseline.py $BASELINE_LENGTHS >"$OUT/baseline.txt" 2>"$OUT/bench.err"
  # shellcheck disable=SC2086
  timeout 400 "$BUILD/kernels/deltaserve_prefill_attention_bench" --baseline "$OUT/baseline.txt" $BENCH_LENGTHS \
    >"$OUT/prefill-bench.txt" 2>>"$OUT/bench.err"
  summary+=("prefill bench rc=$?")
  if [[ -n "$PORTABLE_LENGTHS" ]]; then
    # shellcheck disable=SC2086
    DELTASERVE_PORTABLE_ATTENTION=1 timeout 300 "$BUILD/kernels/deltaserve_prefill_attention_bench" \
      --baseline "$OUT/baseline.txt" $PORTABLE_LENGTHS >"$OUT/prefill-bench-portable.txt" 2>>"$OUT/bench.err"
    summary+=("prefill bench (portable kernel) rc=$?")
  fi
fi

if stage decode-kernel; then
  # shellcheck disable=SC2086  # list of shapes
  timeout 300 "$BUILD/kernels/deltaserve_decode_attention_bench" $DECODE_SHAPES \
    >"$OUT/decode-kernel-bench.txt" 2>"$OUT/decode-kernel-bench.err"
  summary+=("decode kernel bench rc=$?")
fi

if stage serving; then
  OUT="$OUT/serving" timeout 560 bash scripts/bench-gpu-serving.sh "$BUILD" >"$OUT/serving-bench.txt" 2>&1
  summary+=("serving bench rc=$?")
fi

echo "== $(cat "$OUT/device.txt")"
printf '%s\n' "${summary[@]}"
for table in prefill-bench prefill-bench-portable decode-kernel-bench serving-bench; do
  [[ -f "$OUT/$table.txt" ]] && { echo "== $table"; tail -30 "$OUT/$table.txt"; }
done
