#!/usr/bin/env python
"""The two-view contrastive loss (NT-Xent), forward + backward, against its peers, measured in one run.

Implementations: cl_book's `nt_xent` (the fused loss: blocked log-sum-exp forward, Eq. 4 as backward), cl_book's
readable form `contrastive_loss(*two_view_similarities(z1, z2), tau)` (pos/neg similarities, autograd), a plain PyTorch reference (F.normalize, one matmul, masked diagonal, F.cross_entropy),
lightly's `NTXentLoss`, pytorch-metric-learning's `SupConLoss` with `MeanReducer` (each image's two views share a
label) and PML's `NTXentLoss` where it fits in memory. Times are medians of interleaved repetitions after a warm-up,
on one thread; ratios are to the reference measured in the same run. Peak memory is measured in a separate process
per configuration (maximum resident set size). Every implementation is also checked against a float64 reference
(loss and gradient) and for finiteness at τ = 0.01.

    bash bench/setup_peers.sh                      # once: lightly and pytorch-metric-learning into bench/.peers
    python bench/loss_bench.py                     # N = 256, 1024, 4096
    python bench/loss_bench.py --sizes 256 1024 4096 16384 --repeats 5
"""
import argparse
import json
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


def peak_memory(name, n, tau, d=128):
    "Maximum resident memory (MB) of a fresh process doing one forward + backward of `name`."
    code = (f"import sys, torch, resource; sys.argv=['x']; torch.set_num_threads(1)\n"
            f"sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'bench' / '.peers')!r}]\n"
            f"import importlib.util; spec = importlib.util.spec_from_file_location('lb', {str(Path(__file__))!r})\n"
            f"lb = importlib.util.module_from_spec(spec); spec.loader.exec_module(lb)\n"
            f"f = lb.implementations({tau})[{name!r}]\n"
            f"base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            f"z1, z2 = torch.randn({n}, {d}, requires_grad=True), torch.randn({n}, {d}, requires_grad=True)\n"
            f"lb.step(f, z1, z2)\n"
            f"print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return float(res.stdout.strip().splitlines()[-1]) if res.returncode == 0 else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096])
    ap.add_argument("--taus", type=float, nargs="+", default=[0.07, 0.5])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--json", help="also write the rows to this file")
    ap.add_argument("--large", action="store_true",
                    help="only: the fused loss on 65,536 anchors against 65,536 candidates, its time and peak memory")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.large:
        return large()
    rows = []
    print("agreement with float64 (N=64, D=32): relative loss error, relative gradient error, finite at tau=0.01")
    for name, (le, ge, fin) in agreement(0.2).items():
        print(f"  {name:22s} {le:9.1e} {ge:9.1e} {'finite' if fin else 'NOT FINITE'}")
    print(f"\n{'N':>6s} {'tau':>5s} {'implementation':22s} {'median ms':>10s} {'x reference':>12s} {'peak MB':>9s}")
    for n in args.sizes:
        for tau in args.taus:
            impl = {k: f for k, f in implementations(tau).items() if fits(k, n)}
            z1, z2 = torch.randn(n, 128, requires_grad=True), torch.randn(n, 128, requires_grad=True)
            times = {k: [] for k in impl}
            floor = []
            for f in impl.values():
                step(f, z1, z2)  # warm-up
            for _ in range(args.repeats):
                for k, f in impl.items():  # interleaved, so that load affects every implementation alike
                    t = time.perf_counter(); step(f, z1, z2); times[k].append(time.perf_counter() - t)
                a = F.normalize(torch.cat([z1, z2]), dim=1).detach().requires_grad_()
                t = time.perf_counter(); s = a @ a.T; s.backward(torch.ones_like(s)); floor.append(time.perf_counter() - t)
            ref = statistics.median(times["reference"])
            for k in impl:
                med = statistics.median(times[k])
                mem = float("nan") if args.no_memory else peak_memory(k, n, tau)
                rows.append(dict(N=n, tau=tau, impl=k, ms=1000 * med, vs_reference=ref / med, peak_mb=mem))
                print(f"{n:6d} {tau:5.2f} {k:22s} {1000 * med:10.1f} {ref / med:11.2f}x {mem:9.0f}")
            fl = statistics.median(floor)
            print(f"{n:6d} {tau:5.2f} {'(matmul + backward floor)':22s} {1000 * fl:10.1f}   fused / floor = "
                  f"{statistics.median(times['cl_book nt_xent']) / fl:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


LARGE = """
import resource, sys, time, torch
torch.set_num_threads(1)
sys.path.insert(0, {root!r})
from cl_book.loss import nt_xent
n = 32768  # pairs: 65,536 anchors, each against 65,536 candidates
z1, z2 = torch.randn(n, 128, requires_grad=True), torch.randn(n, 128, requires_grad=True)
t = time.perf_counter()
loss = nt_xent(z1, z2, 0.1, block=1024)
loss.backward()
dt = time.perf_counter() - t
ok = bool(torch.isfinite(loss) and torch.isfinite(z1.grad).all() and torch.isfinite(z2.grad).all())
print(dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, ok)
"""


def large():
    "The fused loss at 65,536 x 65,536 in a fresh process: wall time and peak resident memory of the whole process."
    res = subprocess.run([sys.executable, "-c", LARGE.format(root=str(ROOT))], capture_output=True, text=True)
    if res.returncode != 0:
        print(res.stderr[-2000:]); return
    dt, mb, ok = res.stdout.split()
    print(f"nt_xent, 65,536 anchors x 65,536 candidates, D = 128, float32, forward + backward, 1 thread: "
          f"{float(dt):.0f} s, peak memory of the whole process {float(mb):.0f} MB, finite: {ok}")


if __name__ == "__main__":
    main()
