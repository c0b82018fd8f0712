"""The GEMMs of one decode step of a Llama-3.1-8B shape through torch (cuBLAS), as the
engine runs them: M = 64 rows, 32 layers of distinct random weights (no L2 reuse), the
fused QKV and gate-up projections, plus the LM head, captured in a CUDA graph. Prints
each projection's time per layer and the weight bytes it streams per second, against a
device-to-device copy of the same bytes in the same process: how near the memory roof
the dense part of a decode step runs. Needs about 31 GB of GPU memory.

    python3 scripts/gpu/decode_gemm_roofline.py [ROWS]
"""
import sys

import torch
import torch.nn.functional as F

from cuda_timing import median_ms

LAYERS, HIDDEN, VOCAB = 32, 4096, 128256
REPEATS = 10
PROJECTIONS = {"qkv": (6144, HIDDEN), "o": (HIDDEN, HIDDEN), "gate_up": (28672, HIDDEN), "down": (HIDDEN, 14336)}


def graph_of(fn):
    """fn captured in a CUDA graph, after one eager run (cuBLAS picks its workspace there)."""
    fn()
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    torch.manual_seed(0)
    weights = {name: [torch.randn(n, k, device="cuda", dtype=torch.bfloat16) for _ in range(LAYERS)]
               for name, (n, k) in PROJECTIONS.items()}
    inputs = {name: torch.randn(rows, k, device="cuda", dtype=torch.bfloat16) for name, (_, k) in PROJECTIONS.items()}
    lm_head = torch.randn(VOCAB, HIDDEN, device="cuda", dtype=torch.bfloat16)

    def projection(name):
        return lambda: [F.linear(inputs[name], w) for w in weights[name]]

    def step():
        for layer in range(LAYERS):
            for name in PROJECTIONS:
                F.linear(inputs[name], weights[name][layer])
        F.linear(inputs["qkv"], lm_head)

    step_bytes = sum(n * k * 2 * LAYERS for n, k in PROJECTIONS.values()) + lm_head.numel() * 2
    step_ms = median_ms(graph_of(step), REPEATS)
    source = torch.empty(step_bytes // 2, device="cuda", dtype=torch.bfloat16)
    target = torch.empty_like(source)
    copy_tbs = 2 * step_bytes / median_ms(lambda: target.copy_(source), REPEATS) / 1e9
    print(f"device: {torch.cuda.get_device_name()}; rows {rows}; copy {copy_tbs:.2f} TB/s (read + write)")
    print("| GEMM | N | K | us per layer | TB/s | x copy |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, (n, k) in PROJECTIONS.items():
        ms = median_ms(graph_of(projection(name)), REPEATS)
        tbs = n * k * 2 * LAYERS / ms / 1e9
        print(f"| {name} | {n} | {k} | {ms / LAYERS * 1000:.1f} | {tbs:.2f} | {tbs / copy_tbs:.2f} |")
    step_tbs = step_bytes / step_ms / 1e9
    print(f"| step (32 layers + LM head, {step_bytes / 1e9:.2f} GB) | | | {step_ms:.3f} ms | {step_tbs:.2f} | "
          f"{step_tbs / copy_tbs:.2f} |")


if __name__ == "__main__":
    main()
