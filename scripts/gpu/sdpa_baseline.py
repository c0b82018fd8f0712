"""torch SDPA baseline for the prefill bench: one layer, 32 query heads (8 KV heads
expanded), d 128, bf16, causal. Prints "S cudnn_ms flash_ms" per length (CUDA-event
medians after a warm-up), the format deltaserve_prefill_attention_bench --baseline reads."""
import sys

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from cuda_timing import median_ms

HEADS, KV_HEADS, HEAD_DIM = 32, 8, 128


def main():
    for s in (int(a) for a in sys.argv[1:]):
        gen = torch.Generator(device="cuda").manual_seed(s)
        q = torch.randn(1, HEADS, s, HEAD_DIM, device="cuda", dtype=torch.bfloat16, generator=gen)
        k, v = (torch.randn(1, KV_HEADS, s, HEAD_DIM, device="cuda", dtype=torch.bfloat16, generator=gen)
                .repeat_interleave(HEADS // KV_HEADS, dim=1) for _ in range(2))
        times = []
        for backend in (SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION):
            with sdpa_kernel(backend):
                run = lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
                times.append(median_ms(run, 5 if s <= 32768 else 3))
        print(s, f"{times[0]:.3f}", f"{times[1]:.3f}", flush=True)
        del q, k, v
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
