#!/usr/bin/env bash
# On the GPU host (repo root as cwd): build kernels/ and tests/kernels/, run the kernel
# tests, compute-sanitizer (memcheck, racecheck) on a reduced filter, then the prefill
# benchmark against torch SDPA. Logs go to $OUT; the last thing printed is one table.
#
# Needs: nvcc at /usr/local/cuda, cmake + ninja + torch from the image's python3, and the
# GoogleTest .debs in .gpu-debs/ (apt-get download libgtest-dev libgmock-dev googletest on
# a Debian 12 machine; carry the folder). BENCH_LENGTHS overrides the benchmark lengths.
set -uo pipefail
OUT=${OUT:-/tmp/gpu-check-out}
BUILD=${BUILD:-/tmp/deltaserve-gpu-build}
DEPS=/tmp/deltaserve-gpu-deps
BENCH_LENGTHS=${BENCH_LENGTHS:-"8192 32768 131072 524288 1048576"}
BASELINE_LENGTHS=${BASELINE_LENGTHS:-"8192 32768 131072"}
mkdir -p "$OUT" "$DEPS"

for deb in .gpu-debs/*.deb; do dpkg -x "$deb" "$DEPS"; done
export CUDACXX=/usr/local/cuda/bin/nvcc
if [ -x /opt/gcc/bin/g++ ]; then export CXX=/opt/gcc/bin/g++ CUDAHOSTCXX=/opt/gcc/bin/g++; fi

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/device.txt"
build_status=ok
{
  cmake -S scripts/gpu -B "$BUILD" -G Ninja -DDELTASERVE_WERROR=ON -DDELTASERVE_GPU_TESTS=ON \
    -DGTest_DIR="$DEPS/usr/lib/x86_64-linux-gnu/cmake/GTest" &&
  cmake --build "$BUILD" -j "$(nproc)"
} >"$OUT/build.log" 2>&1 || build_status=FAILED
echo "build: $build_status"
if [ "$build_status" != ok ]; then tail -40 "$OUT/build.log"; exit 1; fi

TEST_BIN="$BUILD/tests_kernels/deltaserve_kernels_test"
timeout 300 "$TEST_BIN" 2>&1 | tee "$OUT/tests.log" | grep -E "^\[  (FAILED|PASSED) |Failure|error" | head -40
tests_line=$(grep -E "^\[  PASSED  \]|tests? ran" "$OUT/tests.log" | tr '\n' ' ')
failed=$(grep -c "^\[  FAILED  \].*(" "$OUT/tests.log")

SANITIZE_FILTER='*PrefillAttentionTest*sparse_d128_gqa4:*PrefillAttentionTest*gqa3:*GatheredAttentionTest*chunked*:*DecodeAttentionTest*d64*:*DeltaCombine*:*RmsNorm*:*SiluMul*:*RopeKvWrite*'
sanitizer=()
for tool in memcheck racecheck; do
  timeout 240 compute-sanitizer --tool "$tool" --error-exitcode 3 "$TEST_BIN" --gtest_filter="$SANITIZE_FILTER" \
    >"$OUT/sanitizer-$tool.log" 2>&1
  rc=$?
  sanitizer+=("$tool rc=$rc $(grep -E '^\[  PASSED' "$OUT/sanitizer-$tool.log") $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/sanitizer-$tool.log" | tail -1)")
done

PYTHONUNBUFFERED=1 timeout 240 python3 scripts/gpu/sdpa_baseline.py $BASELINE_LENGTHS >"$OUT/baseline.txt" 2>"$OUT/bench.err"
# shellcheck disable=SC2086
timeout 400 "$BUILD/kernels/deltaserve_prefill_attention_bench" --baseline "$OUT/baseline.txt" $BENCH_LENGTHS \
  >"$OUT/bench.txt" 2>>"$OUT/bench.err"
bench_rc=$?

echo "tests: $tests_line failed=$failed"
printf 'sanitizer: %s\n' "${sanitizer[@]}"
echo "bench rc=$bench_rc ($(cat "$OUT/device.txt"))"
cat "$OUT/bench.txt"
