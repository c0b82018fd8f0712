"""Usage: python3 scripts/gpu/trace_summary.py DIR

Sums the Kineto traces that `deltaserve --torch-profile-dir DIR` wrote (DIR/step-<n>.json,
or DIR/decode-step-<n>.json with --torch-profile-decode; Chrome-trace JSON;
docs/benchmarks.md, "Tracing the engine's steps"): per step and over all of them GPU busy
and idle time, a prompt step's attention launches split into the sparse pass and the
dense rows, GPU time by kernel
class and name, GEMMs by grid, CUDA runtime calls and the largest idle gaps. Kineto marks
kernels with cat "kernel", copies and fills "gpu_memcpy"/"gpu_memset", host-side CUDA
calls "cuda_runtime"/"cuda_driver"; times are microseconds."""
import collections
import glob
import json
import os
import sys

GPU_CATEGORIES = ('kernel', 'gpu_memcpy', 'gpu_memset')
HOST_CUDA_CATEGORIES = ('cuda_runtime', 'cuda_driver')
# Kernel names are long templates; these prefixes keep the tables readable.
NAME_CHARS, GAP_NAME_CHARS, GEMM_NAME_CHARS = 90, 50, 40


def kernel_class(name):
    """The engine's own kernels by their names, cuBLAS/CUTLASS GEMMs by their families."""
    n = name.lower()
    if 'deltacombine' in n:
        return 'delta-combine'
    if 'mergesplits' in n:
        return 'attn-merge'
    if 'attention' in n or ('sm90' in n and 'deltaserve' in n):
        return 'attention'
    if 'rmsnorm' in n:
        return 'rmsnorm'
    if 'rope' in n:
        return 'rope-kv'
    if 'silu' in n:
        return 'silu-mul'
    if any(family in n for family in ('gemm', 'nvjet', 'cutlass', 'xmma', 'cublas')):
        return 'gemm'
    return 'other'


def step_number(path):
    return int(os.path.basename(path)[:-len('.json')].rsplit('-', 1)[1])


def grid(event):
    return tuple(event.get('args', {}).get('grid', []))


def stream(event):
    return event.get('args', {}).get('stream')


class Totals:
    def __init__(self):
        self.span = self.busy = 0.0
        self.host_before = self.host_after = 0.0  # traced host time outside the GPU's span
        self.by_class = collections.Counter()
        self.by_name = collections.Counter()
        self.count_by_name = collections.Counter()
        self.gemms = collections.defaultdict(list)  # (name, grid) -> durations
        self.attention = collections.Counter()
        self.attention_grids = collections.Counter()
        self.runtime = collections.Counter()
        self.runtime_calls = collections.Counter()
        self.gaps = []  # (us, step file, kernel before, kernel after)

    def add_step(self, path, events):
        gpu = sorted((e for e in events if e.get('cat') in GPU_CATEGORIES), key=lambda e: e['ts'])
        if not gpu:
            return
        name = os.path.basename(path)
        start, end = gpu[0]['ts'], max(e['ts'] + e['dur'] for e in gpu)
        busy = self.merge_busy(gpu, name)
        self.span += end - start
        self.busy += busy
        print('%s: span %.1f ms, busy %.1f ms, idle %.1f ms' % (name, (end - start) / 1e3, busy / 1e3,
                                                                (end - start - busy) / 1e3))
        # How long the host works in the traced window before the first and after the last GPU work.
        spans = [e for e in events if e.get('ph') == 'X' and 'ts' in e]
        self.host_before += start - min(e['ts'] for e in spans)
        self.host_after += max(e['ts'] + e.get('dur', 0) for e in spans) - end
        if not name.startswith('decode-'):
            self.add_attention(gpu)
        for e in gpu:
            if kernel_class(e['name']) == 'gemm':
                self.gemms[(e['name'][:GEMM_NAME_CHARS], grid(e))].append(e['dur'])
            self.by_class[kernel_class(e['name'])] += e['dur']
            self.by_name[e['name'][:NAME_CHARS]] += e['dur']
            self.count_by_name[e['name'][:NAME_CHARS]] += 1
        for e in events:
            if e.get('cat') in HOST_CUDA_CATEGORIES:
                self.runtime[e['name']] += e.get('dur', 0)
                self.runtime_calls[e['name']] += 1

    def merge_busy(self, gpu, name):
        """GPU busy time as the union of overlapping launches; records the gaps between them."""
        busy = 0.0
        cur_start, cur_end = gpu[0]['ts'], gpu[0]['ts'] + gpu[0]['dur']
        previous = gpu[0]
        for e in gpu[1:]:
            if e['ts'] > cur_end:
                busy += cur_end - cur_start
                self.gaps.append((e['ts'] - cur_end, name, previous['name'][:GAP_NAME_CHARS],
                                  e['name'][:GAP_NAME_CHARS]))
                cur_start, cur_end = e['ts'], e['ts'] + e['dur']
            else:
                cur_end = max(cur_end, e['ts'] + e['dur'])
            previous = e
        return busy + cur_end - cur_start

    def add_attention(self, gpu):
        """A delta chunk launches paged attention twice a layer: the consecutive run (the
        sparse pass) on the step's stream, the gathered dense rows (anchors, tail) on a side
        stream since 7f5de2f, the two overlapping; before that both on one stream, the
        sparse pass first, so the launches alternate."""
        launches = [e for e in gpu if 'PagedAttention' in e['name']]
        streams = {stream(e) for e in launches}
        if len(streams) > 1:
            main = collections.Counter(stream(e) for e in gpu if kernel_class(e['name']) == 'gemm').most_common(1)[0][0]
            sparse = [e for e in launches if stream(e) == main]
            dense = [e for e in launches if stream(e) != main]
        else:
            sparse, dense = launches[0::2], launches[1::2]
        print('    attention: sparse %.1f ms, dense rows %.1f ms' % (sum(e['dur'] for e in sparse) / 1e3,
                                                                      sum(e['dur'] for e in dense) / 1e3))
        for kind, group in (('sparse', sparse), ('dense', dense)):
            for e in group:
                self.attention[kind] += e['dur']
                self.attention_grids[(kind, grid(e))] += 1

    def report(self):
        print('ALL: span %.1f ms busy %.1f ms idle %.1f ms' % (self.span / 1e3, self.busy / 1e3,
                                                              (self.span - self.busy) / 1e3))
        print('host time in the traced window before the first kernel %.1f ms, after the last %.1f ms' %
              (self.host_before / 1e3, self.host_after / 1e3))
        print('-- attention launches: sparse pass / dense rows, by stream where they have two, else by order (ms)')
        for kind, us in self.attention.items():
            print('  %-7s %9.1f' % (kind, us / 1e3))
        for (kind, g), n in sorted(self.attention_grids.items()):
            print('  %-7s grid %s x%d' % (kind, g, n))
        print('-- GPU time by class (ms)')
        for kind, us in self.by_class.most_common():
            print('  %-14s %9.1f' % (kind, us / 1e3))
        print('-- GEMMs by kernel and grid: count, mean us, total ms')
        for (name, g), durations in sorted(self.gemms.items(), key=lambda item: -sum(item[1])):
            print('  %5d %9.1f %9.1f  %s %s' % (len(durations), sum(durations) / len(durations),
                                                sum(durations) / 1e3, name, g))
        print('-- top kernels (ms, count)')
        for name, us in self.by_name.most_common(25):
            print('  %9.1f %6d  %s' % (us / 1e3, self.count_by_name[name], name))
        print('-- CUDA runtime calls (host ms, count)')
        for name, us in self.runtime.most_common(12):
            print('  %9.1f %7d  %s' % (us / 1e3, self.runtime_calls[name], name))
        print('-- largest GPU idle gaps (us)')
        for gap in sorted(self.gaps, reverse=True)[:12]:
            print('  %8.0f %s after %s before %s' % gap)
        print('-- gap histogram: count and total of gaps by size')
        for lo, hi in ((0, 5), (5, 20), (20, 100), (100, 1000), (1000, 1e9)):
            sizes = [gap[0] for gap in self.gaps if lo <= gap[0] < hi]
            print('  [%d, %d) us: %d gaps, %.1f ms' % (lo, hi, len(sizes), sum(sizes) / 1e3))


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__.splitlines()[0])
    paths = []
    for pattern in ('step-*.json', 'decode-step-*.json'):
        paths += sorted(glob.glob(os.path.join(argv[1], pattern)), key=step_number)
    if not paths:
        sys.exit('no step-*.json or decode-step-*.json in %s' % argv[1])
    totals = Totals()
    for path in paths:
        with open(path) as f:
            totals.add_step(path, json.load(f)['traceEvents'])
    totals.report()


if __name__ == '__main__':
    main(sys.argv)
