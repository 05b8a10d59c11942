"Properties of cl_book.loss and cl_book.gradients across random inputs (the notebooks check single cases)."
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from cl_book.gradients import (effective_negatives, hard_relative_penalty, penalty_entropy, relative_penalty,
                               similarity_grads)
from cl_book.loss import (bank_similarities, contrastive_loss, hard_contrastive_loss, hard_simple_loss, nt_xent,
                          simple_limit_loss, simple_loss, triplet_limit_loss)


def sims(n, k, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, generator=g, dtype=dtype) * 2 - 1, torch.rand(n, k, generator=g, dtype=dtype) * 2 - 1)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 16), k=st.integers(1, 64), seed=st.integers(0, 10**6),
       tau=st.floats(0.005, 50.0))
def test_closed_form_gradient_matches_float64_autograd(n, k, seed, tau):
    pos, neg = sims(n, k, seed)
    pos.requires_grad_(); neg.requires_grad_()
    a_pos, a_neg = torch.autograd.grad(contrastive_loss(pos, neg, tau, reduction="sum"), (pos, neg))
    d_pos, d_neg = similarity_grads(pos.detach(), neg.detach(), tau)
    # autograd forms (P_ii - 1)/tau, which cancels in float64 when P_ii ~ 1: allow that absolute error
    torch.testing.assert_close(d_pos, a_pos, rtol=1e-10, atol=1e-13 / tau)
    torch.testing.assert_close(d_neg, a_neg, rtol=1e-10, atol=1e-300)
    torch.testing.assert_close(-d_pos, d_neg.sum(1), rtol=1e-10, atol=1e-300)
    torch.testing.assert_close(relative_penalty(neg.detach(), tau), d_neg / d_neg.sum(1, keepdim=True),
                               rtol=1e-10, atol=1e-300)


@settings(max_examples=60, deadline=None)
@given(k=st.integers(2, 200), seed=st.integers(0, 10**6), t1=st.floats(0.01, 20.0), ratio=st.floats(1.05, 10.0))
def test_penalty_entropy_rises_strictly_with_tau(k, seed, t1, ratio):
    _, neg = sims(3, k, seed)
    h1, h2 = penalty_entropy(neg, t1), penalty_entropy(neg, t1 * ratio)
    assert bool((h2 > h1).all())
    assert bool((effective_negatives(neg, t1) <= k + 1e-9).all()) and bool((effective_negatives(neg, t1) >= 1).all())


def test_limits_in_tau():
    pos, neg = sims(32, 100, 1)
    k = neg.shape[1]
    for tau in (1e-4, 1e-5):
        gap = (tau * contrastive_loss(pos, neg, tau, reduction="none") - triplet_limit_loss(pos, neg, reduction="none"))
        assert float(gap.abs().max()) <= tau * math.log(k + 1)
    errs = [float((t * (contrastive_loss(pos, neg, t, reduction="none") - math.log(k + 1))
                   - simple_limit_loss(pos, neg, reduction="none")).abs().max()) for t in (1e3, 1e4)]
    assert errs[1] < errs[0] / 9 and errs[1] < 1e-4  # O(1/tau)


def test_hard_loss_with_all_negatives_is_the_contrastive_loss():
    pos, neg = sims(20, 37, 2)
    for tau in (0.05, 0.7):
        torch.testing.assert_close(hard_contrastive_loss(pos, neg, tau, k=37), contrastive_loss(pos, neg, tau))
    torch.testing.assert_close(hard_simple_loss(pos, neg, k=37), simple_loss(pos, neg))
    torch.testing.assert_close(hard_relative_penalty(neg, 0.3, alpha=1.0), relative_penalty(neg, 0.3))


def test_nt_xent_matches_float64_reference_and_its_gradient():
    g = torch.Generator().manual_seed(3)
    z1 = torch.randn(24, 8, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(24, 8, generator=g, dtype=torch.float64, requires_grad=True)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = (z @ z.T / 0.1).fill_diagonal_(-float("inf"))
    ref = F.cross_entropy(logits, torch.arange(48).roll(24))
    ours = nt_xent(z1, z2, 0.1)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=0)
    g_ref = torch.autograd.grad(ref, (z1, z2))
    g_ours = torch.autograd.grad(ours, (z1, z2))
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-14)


def test_float32_extremes_stay_finite():
    g = torch.Generator().manual_seed(4)
    pos = (torch.rand(2, generator=g) * 2 - 1).requires_grad_()
    neg = (torch.rand(2, 65_536, generator=g) * 2 - 1).requires_grad_()
    for loss in (contrastive_loss(pos, neg, 1e-3), hard_contrastive_loss(pos, neg, 1e-3, k=4096)):
        gp, gn = torch.autograd.grad(loss, (pos, neg))
        assert torch.isfinite(loss) and torch.isfinite(gp).all() and torch.isfinite(gn).all()
    d_pos, d_neg = similarity_grads(pos.detach(), neg.detach(), 1e-3)
    assert torch.isfinite(d_pos).all() and torch.isfinite(d_neg).all()
    assert torch.isfinite(penalty_entropy(neg.detach(), 1e-3)).all()
    half = contrastive_loss(pos.detach().half(), neg.detach().half(), 0.01)
    assert half.dtype == torch.float32 and torch.isfinite(half)
    bf = nt_xent(torch.randn(8, 4).bfloat16(), torch.randn(8, 4).bfloat16(), 1e-3)
    assert bf.dtype == torch.float32 and torch.isfinite(bf)


def test_bank_positive_is_own_entry_and_loss_is_permutation_invariant():
    g = torch.Generator().manual_seed(5)
    bank = F.normalize(torch.randn(40, 6, generator=g), dim=1)
    z = F.normalize(torch.randn(5, 6, generator=g), dim=1)
    idx = torch.tensor([0, 7, 7, 39, 12])
    pos, neg = bank_similarities(z, bank, idx)
    perm = torch.randperm(40, generator=g)
    inv = torch.empty_like(perm); inv[perm] = torch.arange(40)
    pos2, neg2 = bank_similarities(z, bank[perm], inv[idx])
    torch.testing.assert_close(pos, pos2)
    torch.testing.assert_close(neg.sort(1).values, neg2.sort(1).values)
    torch.testing.assert_close(contrastive_loss(pos, neg, 0.2), contrastive_loss(pos2, neg2, 0.2))


BAD = [
    (lambda p, n: contrastive_loss(p, n, 0.0), "tau"),
    (lambda p, n: contrastive_loss(p, n, float("inf")), "tau"),
    (lambda p, n: contrastive_loss(p, n, -1), "tau"),
    (lambda p, n: contrastive_loss(p[:-1], n, 0.2), "pos"),
    (lambda p, n: contrastive_loss(p, n[:, :0], 0.2), "neg"),
    (lambda p, n: contrastive_loss(p, n.T, 0.2), "pos"),
    (lambda p, n: contrastive_loss(p, n * float("nan"), 0.2), "neg"),
    (lambda p, n: hard_contrastive_loss(p, n, 0.2), "exactly one of k and alpha"),
    (lambda p, n: hard_contrastive_loss(p, n, 0.2, k=3, alpha=0.1), "exactly one of k and alpha"),
    (lambda p, n: hard_contrastive_loss(p, n, 0.2, k=11), "k must"),
    (lambda p, n: hard_contrastive_loss(p, n, 0.2, k=0), "k must"),
    (lambda p, n: hard_simple_loss(p, n, alpha=0.0), "alpha must"),
    (lambda p, n: simple_loss(p, n, lam=float("nan")), "lam"),
    (lambda p, n: relative_penalty(n, 0), "tau"),
    (lambda p, n: nt_xent(n, n[:, :5], 0.2), "z2"),
]


@pytest.mark.parametrize("call,name", BAD)
def test_bad_input_raises_value_error_naming_the_argument(call, name):
    pos, neg = sims(4, 10, 6)
    with pytest.raises(ValueError, match=name):
        call(pos, neg)
