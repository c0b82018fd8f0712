// Warp-level building blocks of the sm_80+ tensor-core path: cp.async, ldmatrix and
// mma.sync m16n8k16 (bf16 in, fp32 accumulate).
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

namespace deltaserve::kernels::detail {

__device__ __forceinline__ std::uint32_t SharedAddress(const void* ptr) {
  return static_cast<std::uint32_t>(__cvta_generic_to_shared(ptr));
}

// Copies 16 bytes global -> shared without passing through registers; when !valid the
// destination is zero-filled, so masked rows hold finite values.
__device__ __forceinline__ void CopyAsync16(std::uint32_t dst, const void* src, bool valid) {
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(src_bytes));
}

__device__ __forceinline__ void CommitAsyncCopies() { asm volatile("cp.async.commit_group;\n" ::); }

template <int kPendingGroups>
__device__ __forceinline__ void WaitAsyncCopies() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPendingGroups));
}

__device__ __forceinline__ void LoadMatrixX4(std::uint32_t (&frag)[4], std::uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(frag[0]), "=r"(frag[1]), "=r"(frag[2]), "=r"(frag[3])
               : "r"(addr));
}

__device__ __forceinline__ void LoadMatrixX4Transposed(std::uint32_t (&frag)[4],
                                                       std::uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(frag[0]), "=r"(frag[1]), "=r"(frag[2]), "=r"(frag[3])
               : "r"(addr));
}

// acc[16x8] += a[16x16] * b[16x8]; a row-major fragment, b column-major fragment.
__device__ __forceinline__ void MmaBf16(float (&acc)[4], const std::uint32_t (&a)[4],
                                        std::uint32_t b0, std::uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// 2^x in one MUFU instruction; exp2f adds range handling that softmax inputs (<= 0, or
// -inf for masked keys, which gives 0) never need.
__device__ __forceinline__ float FastExp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

__device__ __forceinline__ std::uint32_t PackBf16(float lo, float hi) {
  const __nv_bfloat162 packed = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const std::uint32_t*>(&packed);
}

// x through an opaque move. A fragment address derived from it inside a loop cannot be
// hoisted out as a register of its own; its constant part then folds into the ldmatrix
// immediate, which keeps the unrolled loops from holding one register per address.
__device__ __forceinline__ std::uint32_t Opaque(std::uint32_t x) {
  asm volatile("mov.b32 %0, %1;\n" : "=r"(x) : "r"(x));
  return x;
}

// Bytes per row of a [rows][kHeadDim] bf16 tile in shared memory. The 16-byte pad puts the
// 8 rows an ldmatrix reads at one column into 8 different bank groups, and unlike an XOR
// swizzle it keeps every fragment address a per-lane base plus a compile-time offset.
template <int kHeadDim>
constexpr int PaddedRowBytes() {
  return kHeadDim * 2 + 16;
}

// Byte offset of 16-byte chunk `chunk` of row `row` in such a tile.
template <int kHeadDim>
__device__ __forceinline__ std::uint32_t PaddedOffset(int row, int chunk) {
  return static_cast<std::uint32_t>(row * PaddedRowBytes<kHeadDim>() + chunk * 16);
}

}  // namespace deltaserve::kernels::detail
