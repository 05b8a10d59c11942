#!/usr/bin/env python
"""The two-view contrastive loss (NT-Xent), forward + backward, against its peers, measured in one run.

Implementations: cl_book's `nt_xent` (the fused loss: blocked log-sum-exp forward, Eq. 4 as backward, the batch's
symmetry used), cl_book's readable form `contrastive_loss(*two_view_similarities(z1, z2), tau)` (autograd over the
pos/neg similarities), a plain PyTorch reference (F.normalize, one matmul, masked diagonal, F.cross_entropy),
lightly's `NTXentLoss`, pytorch-metric-learning's `SupConLoss` with `MeanReducer` (each image's two views share a
label) and PML's `NTXentLoss` where it fits in memory. Times are medians of interleaved repetitions after a warm-up
(PML's NTXentLoss, a thousand times slower, timed after the others; above N = 4096 one step in a fresh process), on
one thread; ratios are to the reference measured in the same run;
the floor is the similarity matmul and its backward alone. Peak memory is measured in a separate process per
configuration (peak resident set size during one step, above the resident size just before it), capped at 80 % of the available memory:
an implementation that does not fit is reported as such and not timed. Every implementation is also checked against
a float64 reference (loss and gradient) and for finiteness at τ = 0.01. The rows go to
`results/bench/loss_bench.json`, written after every configuration; the book's performance appendix reads it.

    bash bench/setup_peers.sh      # once: lightly and pytorch-metric-learning into bench/.peers
    python bench/loss_bench.py     # N = 256, 1024, 4096, 16384 pairs, tau = 0.07 and 0.5 (about 25 min)
    python bench/loss_bench.py --large   # nt_xent on 65,536 x 65,536: time and peak memory
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "bench" / ".peers"))


def reference(z1, z2, tau):
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    logits = (z @ z.T / tau).fill_diagonal_(-float("inf"))
    return F.cross_entropy(logits, torch.arange(2 * n, device=z.device).roll(n))


def implementations(tau):
    from cl_book.loss import contrastive_loss, nt_xent, two_view_similarities
    impl = {"reference": lambda a, b: reference(a, b, tau),
            "cl_book nt_xent": lambda a, b: nt_xent(a, b, tau),
            "cl_book readable": lambda a, b: contrastive_loss(*two_view_similarities(a, b), tau)}
    try:
        from lightly.loss import NTXentLoss as LightlyNTXent
        lt = LightlyNTXent(temperature=tau)
        impl["lightly NTXentLoss"] = lambda a, b: lt(a, b)
    except ImportError:
        pass
    try:
        from pytorch_metric_learning.losses import NTXentLoss as PmlNTXent, SupConLoss
        from pytorch_metric_learning.reducers import MeanReducer
        sup = SupConLoss(temperature=tau, reducer=MeanReducer())
        pml = PmlNTXent(temperature=tau, reducer=MeanReducer())
        lab = lambda n: torch.arange(n).repeat(2)
        impl["PML SupConLoss"] = lambda a, b: sup(torch.cat([a, b]), lab(a.shape[0]))
        impl["PML NTXentLoss"] = lambda a, b: pml(torch.cat([a, b]), lab(a.shape[0]))
    except ImportError:
        pass
    return impl


def fits(name, n):
    return not (name == "PML NTXentLoss" and n > 256)  # it builds (2N)^3-sized tensors: 34 GB at N = 1024


def step(f, z1, z2):
    z1.grad = z2.grad = None
    loss = f(z1, z2)
    loss.backward()
    return loss


def agreement(tau, n=64, d=32):
    "Largest relative difference to a float64 reference, of the loss and of the gradient; finiteness at tau=0.01."
    g = torch.Generator().manual_seed(0)
    a64, b64 = (torch.randn(n, d, generator=g, dtype=torch.float64) for _ in range(2))
    x64, y64 = a64.clone().requires_grad_(), b64.clone().requires_grad_()
    ref = step(lambda a, b: reference(a, b, tau), x64, y64)
    gref = torch.cat([x64.grad, y64.grad])
    out = {}
    for name, f in implementations(tau).items():
        x, y = a64.float().requires_grad_(), b64.float().requires_grad_()
        loss = step(f, x, y)
        grad = torch.cat([x.grad, y.grad]).double()
        x2, y2 = a64.float().requires_grad_(), b64.float().requires_grad_()
        cold = step(implementations(0.01)[name], x2, y2)
        finite = bool(torch.isfinite(cold) and torch.isfinite(x2.grad).all() and torch.isfinite(y2.grad).all())
        out[name] = (abs(float(loss.detach()) - float(ref.detach())) / abs(float(ref.detach())),
                     float((grad - gref).norm() / gref.norm()), finite)
    return out


def memory_cap_bytes():
    "The address-space limit of each memory-measuring process: 80 % of the memory available now."
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(0.8 * int(line.split()[1]) * 1024)
    return None


def status_kb(key):
    "A `/proc/self/status` entry in kB (VmRSS: resident now, VmHWM: peak resident since the last reset)."
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(key + ":"))
    return int(line.split()[1])


def reset_peak_rss():
    "Reset the process's peak resident size to the current one (Linux: `5` to /proc/self/clear_refs); return it (kB)."
    Path("/proc/self/clear_refs").write_text("5")
    return status_kb("VmRSS")


def fresh_process_step(name, n, tau, d=128):
    "`(seconds, peak MB)` of one forward + backward of `name` in a fresh process; NaNs if it does not fit in memory."
    cap = memory_cap_bytes()
    code = (f"import sys, torch, resource; sys.argv=['x']; torch.set_num_threads(1)\n"
            + (f"resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))\n" if cap else "")
            + f"sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'bench' / '.peers')!r}]\n"
            f"import importlib.util; spec = importlib.util.spec_from_file_location('lb', {str(Path(__file__))!r})\n"
            f"lb = importlib.util.module_from_spec(spec); spec.loader.exec_module(lb)\n"
            f"f = lb.implementations({tau})[{name!r}]\n"
            f"z1, z2 = torch.randn({n}, {d}, requires_grad=True), torch.randn({n}, {d}, requires_grad=True)\n"
            f"import time; base = lb.reset_peak_rss(); t = time.perf_counter()\n"
            f"lb.step(f, z1, z2)\n"
            f"print(time.perf_counter() - t, (lb.status_kb('VmHWM') - base) / 1024)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if res.returncode != 0:
        return float("nan"), float("nan")
    seconds, mb = res.stdout.strip().splitlines()[-1].split()
    return float(seconds), float(mb)


def machine():
    "What the numbers were measured on."
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    return dict(cpu=cpu, cores=os.cpu_count(), threads=torch.get_num_threads(), torch=torch.__version__,
                python=platform.python_version(), load_average_at_start=os.getloadavg()[0],
                date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))


SLOW = ("PML NTXentLoss",)  # a thousand times slower: timed after the others, so that its 2 GB do not disturb them


def measure(n, tau, repeats, memory, d=128):
    """Rows of one (N, tau): every implementation that fits, its median time, ratios, peak memory; and the floor.

    Up to N = 4096 the times are medians of repetitions interleaved across implementations in this process; above,
    each implementation runs once, in the fresh process that also measures its memory."""
    impl = {k: f for k, f in implementations(tau).items() if fits(k, n)}
    fresh = {k: (fresh_process_step(k, n, tau, d) if memory or n > 4096 else (float("nan"), float("nan"))) for k in impl}
    fitting = {k: f for k, f in impl.items() if not (memory or n > 4096) or fresh[k][0] == fresh[k][0]}
    z1, z2 = torch.randn(n, d, requires_grad=True), torch.randn(n, d, requires_grad=True)

    def floor_step():
        a = F.normalize(torch.cat([z1, z2]), dim=1).detach().requires_grad_()
        t = time.perf_counter(); s = a @ a.T; s.backward(torch.ones_like(s))
        return time.perf_counter() - t

    floor_step()  # warm-up (the first backward of a process also starts autograd's machinery)
    times, floor = {k: [] for k in fitting}, []
    if n > 4096:
        times = {k: [fresh[k][0]] for k in fitting}
        floor.append(floor_step())
    else:
        fast = [k for k in fitting if k not in SLOW]
        for k in fitting:
            step(fitting[k], z1, z2)
        for _ in range(repeats):
            for k in fast:  # interleaved, so that load affects every implementation alike
                t = time.perf_counter(); step(fitting[k], z1, z2); times[k].append(time.perf_counter() - t)
            floor.append(floor_step())
        for k in fitting:
            if k in SLOW:
                for _ in range(min(repeats, 3)):
                    t = time.perf_counter(); step(fitting[k], z1, z2); times[k].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = [dict(N=n, tau=tau, impl=k, ms=1000 * med[k], repeats=len(times[k]), peak_mb=fresh[k][1],
                 vs_reference=med["reference"] / med[k] if "reference" in med else float("nan"),
                 vs_floor=med[k] / statistics.median(floor)) for k in fitting]
    rows += [dict(N=n, tau=tau, impl=k, ms=float("nan"), repeats=0, peak_mb=float("nan"), vs_reference=float("nan"),
                  vs_floor=float("nan"), note="did not fit in memory") for k in impl if k not in fitting]
    rows.append(dict(N=n, tau=tau, impl="matmul + backward (floor)", ms=1000 * statistics.median(floor),
                     repeats=len(floor), peak_mb=float("nan"), vs_reference=float("nan"), vs_floor=1.0))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096, 16384])
    ap.add_argument("--taus", type=float, nargs="+", default=[0.07, 0.5])
    ap.add_argument("--repeats", type=int, default=5, help="timed repetitions at N = 4096 (at least 21 up to 1024, one above 4096)")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--json", default=str(ROOT / "results" / "bench" / "loss_bench.json"),
                    help="where the rows go (the book's performance appendix reads this file); '' for nowhere")
    ap.add_argument("--large", action="store_true",
                    help="only: the fused loss on 65,536 anchors against 65,536 candidates, its time and peak memory")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.large:
        return large(args.json)
    info = machine()
    print(f"{info['cpu']}, {info['cores']} cores, 1 thread, torch {info['torch']}, load {info['load_average_at_start']:.2f}")
    print("agreement with float64 (N=64, D=32): relative loss error, relative gradient error, finite at tau=0.01")
    agree = agreement(0.2)
    for name, (le, ge, fin) in agree.items():
        print(f"  {name:26s} {le:9.1e} {ge:9.1e} {'finite' if fin else 'NOT FINITE'}")
    print(f"\n{'N':>6s} {'tau':>5s} {'implementation':26s} {'median ms':>10s} {'x reference':>12s} {'/ floor':>8s} {'peak MB':>9s}")
    rows = []
    for n in args.sizes:
        for tau in args.taus:
            repeats = 1 if n > 4096 else args.repeats if n > 1024 else max(args.repeats, 21)  # small: cheap, noisy
            new = measure(n, tau, repeats, not args.no_memory)
            for r in new:
                print(f"{n:6d} {tau:5.2f} {r['impl']:26s} {r['ms']:10.1f} {r['vs_reference']:11.2f}x "
                      f"{r['vs_floor']:8.2f} {r['peak_mb']:9.0f} {r.get('note', '')}")
            rows += new
            if args.json:  # after every configuration: an interrupted run keeps what it measured
                write_json(args.json, dict(machine=info, agreement={k: dict(loss_rel_err=v[0], grad_rel_err=v[1],
                           finite_at_0_01=v[2]) for k, v in agree.items()}, rows=rows))


def write_json(path, record):
    "Write `record` to `path` atomically, keeping any key of the file this run does not measure (e.g. `large`)."
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(path.read_text()) if path.exists() else {}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({**old, **record}, indent=1))
    os.replace(tmp, path)


LARGE = """
import resource, sys, time, torch
torch.set_num_threads(1)
sys.path.insert(0, {root!r})
from cl_book.loss import nt_xent
n = 32768  # pairs: 65,536 anchors, each against 65,536 candidates
z1, z2 = torch.randn(n, 128, requires_grad=True), torch.randn(n, 128, requires_grad=True)
t = time.perf_counter()
loss = nt_xent(z1, z2, 0.1)
loss.backward()
dt = time.perf_counter() - t
ok = bool(torch.isfinite(loss) and torch.isfinite(z1.grad).all() and torch.isfinite(z2.grad).all())
print(dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, ok)
"""


def large(json_path=None):
    "The fused loss at 65,536 x 65,536 in a fresh process: wall time and peak resident memory of the whole process."
    res = subprocess.run([sys.executable, "-c", LARGE.format(root=str(ROOT))], capture_output=True, text=True)
    if res.returncode != 0:
        print(res.stderr[-2000:]); return
    dt, mb, ok = res.stdout.split()
    print(f"nt_xent, 65,536 anchors x 65,536 candidates, D = 128, float32, forward + backward, 1 thread: "
          f"{float(dt):.0f} s, peak memory of the whole process {float(mb):.0f} MB, finite: {ok}")
    if json_path:
        write_json(json_path, dict(large=dict(anchors=65536, candidates=65536, d=128, seconds=float(dt),
                                              peak_mb_process=float(mb), finite=ok == "True", machine=machine())))


if __name__ == "__main__":
    main()
