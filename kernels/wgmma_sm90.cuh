// Warpgroup building blocks of the Hopper tensor-core path (sm_90a): shared-memory matrix
// descriptors and wgmma.mma_async with bf16 inputs and fp32 accumulators. Compiled for
// other targets the wrappers trap: launchers pick the Hopper kernel only on sm_90.
#pragma once

#include <cstdint>

namespace deltaserve::kernels::detail {

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define DELTASERVE_WGMMA_ASM(...) asm volatile(__VA_ARGS__)
#else
#define DELTASERVE_WGMMA_ASM(...) __trap()
#endif

// Descriptor of a shared-memory operand in the no-swizzle layout: 8x8 core matrices of
// 128 contiguous bytes, `leading` bytes apart along K and `stride` bytes apart along M/N
// (PTX ISA, "Matrix Descriptor Format"; for MN-major operands the two swap meaning, see
// the canonical layouts there).
__device__ __forceinline__ std::uint64_t MatrixDescriptor(std::uint32_t smem_addr,
                                                          std::uint32_t leading,
                                                          std::uint32_t stride) {
  return static_cast<std::uint64_t>((smem_addr & 0x3FFFF) >> 4) |
         (static_cast<std::uint64_t>(leading >> 4) << 16) |
         (static_cast<std::uint64_t>(stride >> 4) << 32);
}

// Orders register accesses around the asynchronous wgmma: the compiler must not move
// reads or writes of an accumulator across this point.
__device__ __forceinline__ void PinRegister(float& reg) { asm volatile("" : "+f"(reg)::"memory"); }

__device__ __forceinline__ void WgmmaFence() {
  DELTASERVE_WGMMA_ASM("wgmma.fence.sync.aligned;\n" ::: "memory");
}

__device__ __forceinline__ void WgmmaCommitAndWait() {
  DELTASERVE_WGMMA_ASM("wgmma.commit_group.sync.aligned;\nwgmma.wait_group.sync.aligned 0;\n" ::: "memory");
}

// Makes this thread's generic-proxy shared-memory writes (cp.async included) visible to
// the async proxy that wgmma reads through; a barrier must follow.
__device__ __forceinline__ void FenceSharedForAsyncProxy() {
  DELTASERVE_WGMMA_ASM("fence.proxy.async.shared::cta;\n" ::: "memory");
}

// d[64x64] (+)= a[64x16] * b[16x64]; a and b K-major in shared memory. With accumulate
// false d is overwritten.
__device__ __forceinline__ void WgmmaM64N64K16(float (&d)[32], std::uint64_t a_desc,
                                               std::uint64_t b_desc, bool accumulate) {
  DELTASERVE_WGMMA_ASM(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p, 1, 1, 0, 0;\n}\n"
      :
        "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
      : "l"(a_desc), "l"(b_desc), "r"(static_cast<int>(accumulate)));
}

// d[64x128] += a[64x16] * b[16x128]; a in registers (the mma.sync A fragment layout per
// warp), b MN-major in shared memory.
__device__ __forceinline__ void WgmmaM64N128K16(float (&d)[64], const std::uint32_t (&a)[4],
                                                std::uint64_t b_desc) {
  DELTASERVE_WGMMA_ASM(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"
      :
        "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b_desc), "r"(1));
}

#undef DELTASERVE_WGMMA_ASM

}  // namespace deltaserve::kernels::detail
