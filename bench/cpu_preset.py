#!/usr/bin/env python
"""Choose the `cpu` preset by measurement: trained vs random-initialised encoders of the same architecture.

Each candidate is trained (tau = 0.2, contrastive loss) and also evaluated at epochs = 0 (the same architecture,
random initialisation, identical evaluation). Runs go to results/cpu-preset/<name>/ (config.json, history.json,
metrics.json; checkpoints are not kept in git) and are skipped when finished, so the script resumes. Two runs go
side by side, one torch thread each.

    python bench/cpu_preset.py            # all candidates, then the table
    python bench/cpu_preset.py --table    # only print the table of finished runs
"""
import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results" / "cpu-preset"

# name -> overrides of the `cpu` preset
CANDIDATES = {
    "s16-w16-bank-e15": dict(objective="bank", epochs=15),
    "s16-w16-twoview-e15": dict(objective="two-view", epochs=15),
    "cpu": dict(),  # the chosen preset: two views, 10 epochs
}


def run(name, overrides, epochs=None):
    sys.path.insert(0, str(ROOT))
    from cl_book.trainer import preset, train
    over = {**overrides, **({"epochs": epochs} if epochs is not None else {})}
    suffix = "-random" if epochs == 0 else ""
    cfg = preset("cpu", out_dir=str(OUT / f"{name}{suffix}"), progress=False, **over)
    m = train(cfg)
    (OUT / f"{name}{suffix}" / "checkpoint.pt").unlink(missing_ok=True)
    return name + suffix, m


def table():
    rows = []
    for d in sorted(OUT.glob("*/metrics.json")):
        m = json.loads(d.read_text())
        rows.append((d.parent.name, m["knn_acc"], m.get("linear_acc", float("nan")), m["uniformity"], m["tolerance"],
                     m["train_seconds"] + m["eval_seconds"]))
    print(f"{'run':32s} {'kNN':>6s} {'linear':>7s} {'unif':>6s} {'tol':>6s} {'seconds':>8s}")
    for r in rows:
        print(f"{r[0]:32s} {r[1]:6.3f} {r[2]:7.3f} {r[3]:6.3f} {r[4]:6.3f} {r[5]:8.0f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    if not args.table:
        # the random-initialised encoder is the same for every candidate (same architecture and seed): one record
        jobs = [(n, o, None) for n, o in CANDIDATES.items()] + [("cpu", {}, 0)]
        with ProcessPoolExecutor(args.jobs) as ex:
            for name, m in ex.map(run, *zip(*jobs)):
                print(f"{name}: kNN {m['knn_acc']:.3f}, linear {m.get('linear_acc', float('nan')):.3f}", flush=True)
    table()
