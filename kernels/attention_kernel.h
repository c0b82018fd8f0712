// One compiled attention kernel and what launching it takes: the launchers in
// attention.cu pick an instance (the portable mma.sync kernel, or on sm_90 the wgmma one
// of attention_sm90.cu) and size grids and key splits from these fields.
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/paged_attention_kernel.cuh"

namespace deltaserve::kernels::detail {

struct AttentionKernel {
  void (*kernel)(AttentionProblem);
  int head_dim;
  int tile_rows;
  int tile_keys;
  int threads;
  int shared_bytes;
  // Fills what this kernel reads beyond what MakeProblem sets (the Hopper kernel's TMA
  // descriptors) before each launch; nullptr where there is nothing to fill.
  cudaError_t (*prepare)(AttentionProblem&);
};

// The warp-specialised wgmma kernel for head_dim 128 and 128-row tiles; only runs on
// compute capability 9.0 (it is compiled for sm_90a alone).
AttentionKernel Sm90AttentionKernel();

}  // namespace deltaserve::kernels::detail
