"""Timing shared by the GPU scripts: CUDA-event medians after a warm-up."""
import torch


def median_ms(fn, repeats):
    """fn's median time in milliseconds over `repeats` runs, after one untimed run."""
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return sorted(times)[len(times) // 2]
