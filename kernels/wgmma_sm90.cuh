// Hopper (sm_90a) building blocks: mbarriers, named barriers, the async-proxy fence, TMA
// tensor loads and warpgroup MMA (wgmma) on 128-byte-swizzled shared memory. Only for
// code compiled for sm_90a (kernels/attention_sm90.cu).
#pragma once

#include <cuda.h>

#include <cstdint>

namespace deltaserve::kernels::detail {

__device__ __forceinline__ void MbarrierInit(std::uint32_t bar, std::uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count));
}

__device__ __forceinline__ void MbarrierArrive(std::uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}

// Arrives and adds `bytes` to the transaction count the current phase waits for (the
// bytes of the TMA loads that complete on this barrier).
__device__ __forceinline__ void MbarrierArriveExpectTx(std::uint32_t bar, std::uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}

// Blocks until the barrier's phase with this parity has completed.
__device__ __forceinline__ void MbarrierWait(std::uint32_t bar, std::uint32_t parity) {
  asm volatile(
      "{\n"
      ".reg .pred done;\n"
      "WAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT;\n"
      "}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}

// Synchronises the `threads` threads (whole warps) that use barrier `id` (1..15; 0 is
// __syncthreads).
__device__ __forceinline__ void NamedBarrierSync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

// Orders this thread's earlier shared-memory writes (cp.async included, once complete)
// before later reads by the async proxy, which is how wgmma reads its operands.
__device__ __forceinline__ void FenceProxyAsync() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

// Loads the box at coordinates {c0, c1, c2, c3} of the tensor `map` describes into shared
// memory at `dst` (laid out and swizzled as the descriptor says) and completes its bytes
// on mbarrier `bar`; elements out of the tensor's bounds arrive filled as the descriptor
// says, and count. `map` must be in parameter (__grid_constant__), constant or global
// memory.
__device__ __forceinline__ void TmaLoad4d(std::uint32_t dst, const CUtensorMap* map, int c0, int c1, int c2, int c3,
                                          std::uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, %5}], "
      "[%6];\n" ::"r"(dst),
      "l"(reinterpret_cast<std::uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(bar)
      : "memory");
}

// Moves registers between warpgroups of a block: a warpgroup lowers its own limit to
// kRegisters and another raises its own to theirs (every warp of the warpgroup executes it).
template <int kRegisters>
__device__ __forceinline__ void DecreaseMaxRegisters() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegisters));
}

template <int kRegisters>
__device__ __forceinline__ void IncreaseMaxRegisters() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegisters));
}

__device__ __forceinline__ void WgmmaFence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }

__device__ __forceinline__ void WgmmaCommit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }

template <int kPendingGroups>
__device__ __forceinline__ void WgmmaWait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPendingGroups) : "memory");
}

// Registers an in-flight wgmma writes are only defined after WgmmaWait; this keeps the
// compiler from moving their reads (or writes) across it.
template <int kCount>
__device__ __forceinline__ void FenceRegisters(float (&r)[kCount]) {
#pragma unroll
  for (int i = 0; i < kCount; ++i) asm volatile("" : "+f"(r[i])::"memory");
}

// The same for registers an in-flight wgmma reads (its A fragment), which must keep their
// values until WgmmaWait.
template <int kRows, int kCols>
__device__ __forceinline__ void FenceRegisters(std::uint32_t (&r)[kRows][kCols]) {
#pragma unroll
  for (int i = 0; i < kRows; ++i) {
#pragma unroll
    for (int j = 0; j < kCols; ++j) asm volatile("" : "+r"(r[i][j])::"memory");
  }
}

// Descriptor of a 128-byte-swizzled operand tile starting at shared address `addr` (its
// swizzle pattern anchored on a 1024-byte boundary). K-major: rows of 64 bf16 at 128 B,
// 8-row groups `stride_bytes` apart (leading_bytes unused). MN-major: `leading_bytes`
// between 64-element column blocks, `stride_bytes` between 8-row (K) groups.
__device__ __forceinline__ std::uint64_t Sw128Descriptor(std::uint32_t addr, std::uint32_t leading_bytes,
                                                         std::uint32_t stride_bytes) {
  return static_cast<std::uint64_t>((addr & 0x3FFFF) >> 4) |
         (static_cast<std::uint64_t>(leading_bytes >> 4) << 16) |
         (static_cast<std::uint64_t>(stride_bytes >> 4) << 32) | (1ull << 62);
}

// The 64 fp32 accumulators of an m64n128 wgmma: operands %0..%63 of the asm statement.
#define DS_WGMMA_ACCUMULATORS "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"
#define DS_WGMMA_ACCUMULATOR_OPERANDS(d) \
  "+f"((d)[0]), "+f"((d)[1]), "+f"((d)[2]), "+f"((d)[3]), "+f"((d)[4]), "+f"((d)[5]), "+f"((d)[6]), "+f"((d)[7]), \
  "+f"((d)[8]), "+f"((d)[9]), "+f"((d)[10]), "+f"((d)[11]), "+f"((d)[12]), "+f"((d)[13]), "+f"((d)[14]), "+f"((d)[15]), \
  "+f"((d)[16]), "+f"((d)[17]), "+f"((d)[18]), "+f"((d)[19]), "+f"((d)[20]), "+f"((d)[21]), "+f"((d)[22]), "+f"((d)[23]), \
  "+f"((d)[24]), "+f"((d)[25]), "+f"((d)[26]), "+f"((d)[27]), "+f"((d)[28]), "+f"((d)[29]), "+f"((d)[30]), "+f"((d)[31]), \
  "+f"((d)[32]), "+f"((d)[33]), "+f"((d)[34]), "+f"((d)[35]), "+f"((d)[36]), "+f"((d)[37]), "+f"((d)[38]), "+f"((d)[39]), \
  "+f"((d)[40]), "+f"((d)[41]), "+f"((d)[42]), "+f"((d)[43]), "+f"((d)[44]), "+f"((d)[45]), "+f"((d)[46]), "+f"((d)[47]), \
  "+f"((d)[48]), "+f"((d)[49]), "+f"((d)[50]), "+f"((d)[51]), "+f"((d)[52]), "+f"((d)[53]), "+f"((d)[54]), "+f"((d)[55]), \
  "+f"((d)[56]), "+f"((d)[57]), "+f"((d)[58]), "+f"((d)[59]), "+f"((d)[60]), "+f"((d)[61]), "+f"((d)[62]), "+f"((d)[63])

// d[64x128] (+)= a[64x16] * b[16x128], a and b K-major in shared memory; accumulate when
// accumulate != 0. d holds the thread's accumulator fragment (mma.sync's C layout per 8
// columns: d[4 t + 2 h + e] is row 16 warp + lane / 4 + 8 h, column 8 t + 2 (lane % 4) + e).
__device__ __forceinline__ void WgmmaM64N128K16SS(float (&d)[64], std::uint64_t a, std::uint64_t b,
                                                  int accumulate) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
      DS_WGMMA_ACCUMULATORS ", "
      "%64, %65, p, 1, 1, 0, 0;\n"
      "}\n"
      : DS_WGMMA_ACCUMULATOR_OPERANDS(d)
      : "l"(a), "l"(b), "r"(accumulate));
}

// d[64x128] += a[64x16] * b[16x128], a from registers (mma.sync's A fragment layout per
// warp), b MN-major in shared memory.
__device__ __forceinline__ void WgmmaM64N128K16RS(float (&d)[64], const std::uint32_t (&a)[4], std::uint64_t b) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, 1, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
      DS_WGMMA_ACCUMULATORS ", "
      "{%64, %65, %66, %67}, %68, p, 1, 1, 1;\n"
      "}\n"
      : DS_WGMMA_ACCUMULATOR_OPERANDS(d)
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));
}

}  // namespace deltaserve::kernels::detail
