"""The trainer: reproducibility, exact resume after a kill, bad configurations, and the paper presets on tiny fake
data written in each dataset's real on-disk format."""
import json
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from cl_book.data import IMAGENET100_CLASSES, load_dataset
from cl_book.trainer import PRESETS, TrainConfig, preset, train

TIMING = {"train_seconds", "eval_seconds", "images_per_s"}


def strip(m):
    return {k: v for k, v in m.items() if k not in TIMING}


def smoke(tmp_path, name, **kw):
    return preset("smoke", out_dir=str(tmp_path / name), **{"train_subset": 300, "epochs": 3, **kw})


def test_same_seed_same_metrics_and_another_seed_differs(tmp_path):
    a, b = train(smoke(tmp_path, "a")), train(smoke(tmp_path, "b"))
    c = train(smoke(tmp_path, "c", seed=1))
    assert strip(a) == strip(b)
    assert strip(a) != strip(c)


def test_killed_mid_epoch_resumes_to_the_uninterrupted_result(tmp_path):
    full = train(smoke(tmp_path, "full"))
    killed_dir = tmp_path / "killed"
    code = textwrap.dedent(f"""
        import os, cl_book.data as data
        from cl_book.trainer import preset, train
        orig = data.TensorBatches.epoch
        def epoch(self, seed, e):
            for i, b in enumerate(orig(self, seed, e)):
                if e == 1 and i == 1:
                    os._exit(3)   # killed in the middle of the second epoch: no clean-up runs
                yield b
        data.TensorBatches.epoch = epoch
        train(preset("smoke", out_dir={str(killed_dir)!r}, train_subset=300, epochs=3))
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 3, res.stderr
    assert not (killed_dir / "metrics.json").exists()
    ckpt = torch.load(killed_dir / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == 1
    resumed = train(smoke(tmp_path, "killed"))
    assert strip(resumed) == strip(full)
    assert len(json.loads((killed_dir / "history.json").read_text())) == 3


@pytest.mark.parametrize("kw,field", [
    (dict(dataset="cifar11"), "dataset must be one of"),
    (dict(loss="nce"), "loss must be one of"),
    (dict(tau=0.0), "tau"),
    (dict(tau=float("nan")), "tau"),
    (dict(objective="queue"), "objective must be one of"),
    (dict(loss="hard"), "exactly one of k and alpha"),
    (dict(batch_size=0), "batch_size"),
    (dict(precision="fp8"), "precision must be one of"),
])
def test_bad_config_fails_before_training_naming_the_field(tmp_path, kw, field):
    with pytest.raises(ValueError, match=field):
        train(TrainConfig(out_dir=str(tmp_path / "x"), **kw))
    assert not (tmp_path / "x").exists()


def test_k_larger_than_the_bank_and_unknown_preset_fail_early(tmp_path):
    with pytest.raises(ValueError, match="k: k must be"):
        train(smoke(tmp_path, "k", loss="hard", k=300))  # 300 images: 299 negatives
    assert not (tmp_path / "k").exists()
    with pytest.raises(ValueError, match="preset must be one of"):
        preset("cifar")


def test_missing_data_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_dataset("cifar10", root=tmp_path)
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        from cl_book.data import load_fashion_mnist
        load_fashion_mnist(root=tmp_path, system_dir=tmp_path / "none")
    with pytest.raises(FileNotFoundError, match="ImageNet"):
        load_dataset("imagenet100", root=tmp_path)


# --- tiny files in the real on-disk formats -------------------------------------------------------------------
def write_cifar(root, name, n=8):
    rng = np.random.default_rng(0)
    if name == "cifar10":
        folder, lab, meta, names = root / "cifar-10-batches-py", "labels", "batches.meta", "label_names"
        files = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
        classes = 10
    else:
        folder, lab, meta, names = root / "cifar-100-python", "fine_labels", "meta", "fine_label_names"
        files, classes = ["train", "test"], 100
    folder.mkdir(parents=True)
    for f in files:
        d = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), lab: list(rng.integers(0, classes, n))}
        (folder / f).write_bytes(pickle.dumps(d))
    (folder / meta).write_bytes(pickle.dumps({names: [f"c{i}" for i in range(classes)]}))


def write_svhn(root, n=8):
    from scipy.io import savemat
    rng = np.random.default_rng(0)
    (root / "svhn").mkdir(parents=True)
    for split in ("train", "test"):
        savemat(root / "svhn" / f"{split}_32x32.mat",
                {"X": rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8), "y": rng.integers(1, 11, (n, 1))})


def write_imagenet(root, per_class=1):
    from PIL import Image
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for wnid in IMAGENET100_CLASSES:
            d = root / "imagenet" / split / wnid
            d.mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(d / f"{wnid}_{i}.JPEG")


def test_cifar_and_svhn_readers_on_files_in_the_real_format(tmp_path):
    write_cifar(tmp_path, "cifar10"); write_cifar(tmp_path, "cifar100"); write_svhn(tmp_path)
    c10 = load_dataset("cifar10", root=tmp_path, verify=False)
    assert c10.images.shape == (40, 3, 32, 32) and c10.num_classes == 10
    c100 = load_dataset("cifar100", train=False, root=tmp_path, verify=False)
    assert c100.images.shape == (8, 3, 32, 32) and c100.num_classes == 100
    sv = load_dataset("svhn", root=tmp_path, verify=False)
    assert sv.images.shape == (8, 3, 32, 32) and int(sv.labels.max()) <= 9  # SVHN's label 10 is the digit 0
    with pytest.raises(FileNotFoundError):
        load_dataset("cifar10", root=tmp_path)  # with MD5 verification the fake files are refused


@pytest.mark.parametrize("name", ["paper-cifar10", "paper-cifar100", "paper-svhn", "paper-imagenet100"])
def test_paper_presets_run_one_batch_on_fake_data(tmp_path, name, monkeypatch):
    import cl_book.trainer as trainer
    if name == "paper-imagenet100":
        write_imagenet(tmp_path)
    elif name == "paper-svhn":
        write_svhn(tmp_path)
    else:
        write_cifar(tmp_path, name.split("-")[1], n=2 if name == "paper-cifar10" else 10)
    real = trainer.load_dataset
    monkeypatch.setattr(trainer, "load_dataset", lambda *a, **k: real(*a, **{**k, "verify": False})
                        if a[0] != "imagenet100" else real(*a, **k))
    base = PRESETS[name]
    cfg = preset(name, data_root=str(tmp_path), out_dir=str(tmp_path / "run"), epochs=1, knn_k=5, num_workers=0,
                 batch_size=4 if name != "paper-imagenet100" else 2, train_subset=None, progress=False,
                 **({"image_size": 64} if name == "paper-imagenet100" else {}))
    assert cfg.model == base.get("model", "resnet18") and cfg.lr == 0.03 and cfg.lr_milestones == (0.8, 0.95)
    m = train(cfg)
    assert np.isfinite(m["final_loss"]) and 0 <= m["knn_acc"] <= 1


@pytest.mark.parametrize("objective", ["bank", "two-view"])
def test_every_loss_trains_on_fashion_mnist(tmp_path, objective):
    from cl_book.trainer import LOSSES, load_splits
    cfg = preset("cpu", out_dir=str(tmp_path / "x"), train_subset=300, epochs=1, batch_size=64, knn_every=0,
                 linear_eval="none", progress=False, objective=objective)
    tr, te = load_splits(cfg)
    assert tr.images.shape[1:] == (1, 28, 28) and len(te) == 10_000
    te = te.subset(500)
    for loss in LOSSES:
        extra = dict(alpha=0.0819) if loss.startswith("hard") else {}
        c = preset("cpu", out_dir=str(tmp_path / loss), train_subset=300, epochs=1, batch_size=64, knn_every=0,
                   linear_eval="none", progress=False, objective=objective, loss=loss, **extra)
        m = train(c, tr, te)
        assert np.isfinite(m["final_loss"]) and np.isfinite(m["uniformity"]), loss


def test_tensorboard_scalars_are_written(tmp_path):
    pytest.importorskip("tensorboard")
    train(smoke(tmp_path, "tb", tensorboard=True, epochs=1))
    events = list((tmp_path / "tb" / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
