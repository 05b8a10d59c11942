"Properties of cl_book.metrics against known values and scikit-learn on data the notebooks do not use."
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from cl_book.metrics import (alignment, knn_accuracy, linear_probe_accuracy, similarity_profile, sphere_uniformity,
                             tolerance, uniformity)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x, dtype=torch.float64)
    return x[:1200], torch.tensor(y[:1200]), x[1200:], torch.tensor(y[1200:])


@pytest.mark.parametrize("dim,t", [(2, 2.0), (3, 2.0), (16, 1.0), (128, 2.0)])
def test_uniformity_of_uniform_points_approaches_the_sphere_value(dim, t):
    g = torch.Generator().manual_seed(dim)
    z = F.normalize(torch.randn(4000, dim, generator=g, dtype=torch.float64), dim=1)
    assert abs(uniformity(z, t=t, block_size=1500) - sphere_uniformity(dim, t)) < 0.01


def test_uniformity_large_n_in_float32_is_blocked_and_exact():
    g = torch.Generator().manual_seed(0)
    z = F.normalize(torch.randn(3000, 32, generator=g), dim=1)
    exact = -torch.log(torch.exp(-2 * torch.pdist(z.double()) ** 2).mean())
    assert abs(uniformity(z, block_size=256) - float(exact)) < 1e-5


def test_tolerance_limits_and_bad_labels():
    g = torch.Generator().manual_seed(1)
    centres = F.normalize(torch.randn(4, 8, generator=g), dim=1)
    y = torch.arange(4).repeat(5)
    assert tolerance(centres[y], y) == pytest.approx(1.0, abs=1e-6)
    z = F.normalize(torch.randn(20, 8, generator=g), dim=1)
    assert tolerance(torch.cat([z, -z]), torch.arange(20).repeat(2)) == pytest.approx(-1.0, abs=1e-6)
    with pytest.raises(ValueError, match="labels"):
        tolerance(z, torch.zeros(19, dtype=torch.long))
    with pytest.raises(ValueError, match="labels"):
        tolerance(z, torch.zeros(20))  # float labels
    with pytest.raises(ValueError, match="at least 2 samples"):
        tolerance(z, torch.arange(20))
    with pytest.raises(ValueError, match="z holds NaN"):
        tolerance(z * float("nan"), torch.zeros(20, dtype=torch.long))


def test_alignment_and_profile_basic_values():
    g = torch.Generator().manual_seed(2)
    z = F.normalize(torch.randn(50, 4, generator=g), dim=1)
    assert alignment(z, z) == 0.0
    prof = similarity_profile(z, z, z, k=3)
    assert prof.positive == pytest.approx(1.0, abs=1e-6)
    assert prof.negatives.shape == (3,) and float(prof.negatives[0]) <= 1.0
    with pytest.raises(ValueError, match="index"):
        similarity_profile(z, z, z, k=3, index=torch.arange(50) + 1)


def test_knn_accuracy_agrees_with_scikit_learn(digits):
    xtr, ytr, xte, yte = digits
    ztr, zte = F.normalize(xtr, dim=1), F.normalize(xte, dim=1)
    for k, sigma in ((10, 0.07), (200, 0.07), (50, 1.0)):
        sk = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute",
                                  weights=lambda d, s=sigma: np.exp((1 - d) / s - 1 / s))
        sk_acc = sk.fit(ztr.numpy(), ytr.numpy()).score(zte.numpy(), yte.numpy())
        assert knn_accuracy(ztr, ytr, zte, yte, k=k, sigma=sigma, block_size=100) == pytest.approx(sk_acc, abs=1e-12)


def test_linear_probe_agrees_with_scikit_learn(digits):
    xtr, ytr, xte, yte = digits
    wd = 1e-2
    scaler = StandardScaler().fit(xtr.numpy())
    sk = LogisticRegression(C=1 / (wd * len(xtr)), max_iter=10_000, tol=1e-10)
    sk_acc = sk.fit(scaler.transform(xtr.numpy()), ytr.numpy()).score(scaler.transform(xte.numpy()), yte.numpy())
    ours = linear_probe_accuracy(xtr, ytr, xte, yte, weight_decay=wd)
    assert ours == pytest.approx(sk_acc, abs=0.005)
    assert ours > 0.85
    with pytest.raises(ValueError, match="weight_decay"):
        linear_probe_accuracy(xtr, ytr, xte, yte, weight_decay=-1.0)
