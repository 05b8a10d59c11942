#!/usr/bin/env python
"""Trainer throughput against a bare PyTorch loop doing the same work, and the data share of a step.

Both sides train the `cpu` preset's model with the same loss and the same batched augmentation for the same number
of steps; they are interleaved (bare, trainer, bare, trainer, ...) after a warm-up so that machine load affects both
alike, and the medians are compared. The data share is the time of drawing and augmenting a batch over the time of
a whole step.

    python bench/trainer_throughput.py [--steps 30] [--repeats 3] [--preset cpu]
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cl_book.data import TensorBatches  # noqa: E402
from cl_book.loss import contrastive_loss, two_view_similarities  # noqa: E402
from cl_book.models import ContrastiveModel, make_encoder  # noqa: E402
from cl_book.trainer import augment_for, load_splits, preset, train  # noqa: E402


def bare_loop(cfg, data, steps):
    "The same model, loss and augmentation as the trainer, written as the shortest PyTorch loop."
    torch.manual_seed(cfg.seed)
    model = ContrastiveModel(make_encoder(cfg.model, data.channels, cfg.image_size, cfg.width, cfg.blocks),
                             cfg.head, cfg.feature_dim)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    batches = TensorBatches(data, cfg.batch_size, augment_for(cfg, data), views=2)
    t0, t_data, n = time.perf_counter(), 0.0, 0
    it = batches.epoch(cfg.seed, 0)
    for _ in range(steps):
        td = time.perf_counter()
        idx, (x1, x2), _ = next(it)
        t_data += time.perf_counter() - td
        z1, z2 = model(x1)[1], model(x2)[1]
        loss = contrastive_loss(*two_view_similarities(z1, z2, normalize=False), cfg.tau)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        n += len(idx)
    dt = time.perf_counter() - t0
    return n / dt, t_data / dt


def trainer_run(cfg, data, test, steps):
    "`cl_book.trainer.train` for exactly `steps` steps (one epoch of a subset), monitors and evaluation off."
    sub = data.subset(steps * cfg.batch_size, seed=0)
    with tempfile.TemporaryDirectory() as d:
        c = preset("cpu", objective=cfg.objective, epochs=1, knn_every=0, linear_eval="none", progress=False,
                   train_subset=None, out_dir=d)
        t0 = time.perf_counter()
        train(c, sub, test.subset(200))
        total = time.perf_counter() - t0
        import json
        hist = json.loads((Path(d) / "history.json").read_text())
    return hist[0]["images_per_s"], total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = preset("cpu")
    data, test = load_splits(cfg)
    bare_loop(cfg, data, 3)  # warm-up
    bare, ours, share = [], [], []
    for _ in range(args.repeats):
        ips, s = bare_loop(cfg, data, args.steps); bare.append(ips); share.append(s)
        ours.append(trainer_run(cfg, data, test, args.steps)[0])
    b, o = statistics.median(bare), statistics.median(ours)
    print(f"preset cpu ({cfg.objective}, {cfg.model} w{cfg.width}, {cfg.image_size}px, batch {cfg.batch_size}), "
          f"{args.steps} steps x {args.repeats} interleaved repeats, 1 thread")
    print(f"{'implementation':28s} {'images/s (median)':>18s}")
    print(f"{'bare PyTorch loop':28s} {b:18.1f}")
    print(f"{'cl_book.trainer.train':28s} {o:18.1f}")
    print(f"ratio trainer / bare: {o / b:.3f}")
    print(f"data (draw + augment) share of a step: {100 * statistics.median(share):.1f} %")


if __name__ == "__main__":
    main()
