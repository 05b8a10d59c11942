"""The fused losses (`nt_xent`, `bank_loss`) equal the readable ones (values and float64 gradients) for any shape and
block size, and their memory does not grow with the square of the batch."""
import subprocess
import sys

import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from cl_book.loss import bank_loss, bank_similarities, contrastive_loss, nt_xent, two_view_similarities


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 40), d=st.integers(1, 16), block=st.integers(1, 100), tau=st.floats(0.02, 5.0),
       seed=st.integers(0, 10**6))
def test_nt_xent_equals_the_readable_two_view_loss_with_its_gradient(n, d, block, tau, seed):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)
    a = nt_xent(z1, z2, tau, block=block, reduction="sum")
    b = contrastive_loss(*two_view_similarities(z1, z2), tau, reduction="sum")
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    # gradients are O(n / tau); where they cancel to zero (d = 1: normalisation has no tangent direction) both sides
    # keep float64 round-off of that size, so the absolute tolerance scales with it
    for x, y in zip(torch.autograd.grad(a, (z1, z2)), torch.autograd.grad(b, (z1, z2))):
        torch.testing.assert_close(x, y, rtol=1e-9, atol=1e-13 * n / tau)


@settings(max_examples=30, deadline=None)
@given(b=st.integers(1, 20), m=st.integers(2, 80), block=st.integers(1, 100), tau=st.floats(0.02, 5.0),
       seed=st.integers(0, 10**6))
def test_bank_loss_equals_the_bank_similarities_path(b, m, block, tau, seed):
    g = torch.Generator().manual_seed(seed)
    bank = F.normalize(torch.randn(m, 8, generator=g, dtype=torch.float64), dim=1).requires_grad_()
    z = F.normalize(torch.randn(b, 8, generator=g, dtype=torch.float64), dim=1).requires_grad_()
    idx = torch.randint(0, m, (b,), generator=g)
    f = bank_loss(z, bank, idx, tau, block=block)
    r = contrastive_loss(*bank_similarities(z, bank, idx), tau)
    torch.testing.assert_close(f, r, rtol=1e-10, atol=1e-12)
    for x, y in zip(torch.autograd.grad(f, (z, bank)), torch.autograd.grad(r, (z, bank))):
        torch.testing.assert_close(x, y, rtol=1e-9, atol=1e-12)


PEAK = """
import resource, sys, torch, torch.nn.functional as F
torch.set_num_threads(1)
from cl_book.loss import nt_xent
n = 4096
z1, z2 = torch.randn(n, 128, requires_grad=True), torch.randn(n, 128, requires_grad=True)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if sys.argv[1] == "fused":
    loss = nt_xent(z1, z2, 0.1, block=1024)
else:
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    loss = F.cross_entropy((z @ z.T / 0.1).fill_diagonal_(-float("inf")), torch.arange(2 * n).roll(n))
loss.backward()
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)
"""


def test_fused_memory_is_a_fraction_of_the_reference():
    peak = {}
    for which in ("fused", "reference"):
        res = subprocess.run([sys.executable, "-c", PEAK, which], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        peak[which] = float(res.stdout.strip())
    # 8192 x 8192 float32 logits are 256 MB: the reference holds at least one such matrix (and, depending on the
    # allocator, more); the fused loss holds one 8192 x 1024 block
    assert peak["reference"] > 256 and peak["fused"] < 0.25 * peak["reference"], peak


@settings(max_examples=25, deadline=None)
@given(b=st.integers(1, 12), m=st.integers(3, 60), block=st.integers(1, 70), keep=st.integers(1, 60),
       seed=st.integers(0, 10**6))
def test_blocked_top_k_equals_the_full_matrix_top_k(b, m, block, keep, seed):
    from cl_book.loss import hard_bank_similarities, hardest_negatives
    keep = min(keep, m - 1)
    g = torch.Generator().manual_seed(seed)
    bank = F.normalize(torch.randn(m, 8, generator=g, dtype=torch.float64), dim=1)
    z = F.normalize(torch.randn(b, 8, generator=g, dtype=torch.float64), dim=1)
    idx = torch.randint(0, m, (b,), generator=g)
    pos, neg = hard_bank_similarities(z, bank, idx, k=keep, block=block)
    p2, n2 = bank_similarities(z, bank, idx)
    torch.testing.assert_close(pos, p2)
    torch.testing.assert_close(neg, hardest_negatives(n2, k=keep))


def test_fused_losses_pass_gradcheck_in_float64():
    "The closed-form backward against finite differences: several blocks (with a ragged last one) and a single block."
    from cl_book.loss import hard_bank_loss, hard_nt_xent
    g = torch.Generator().manual_seed(3)
    z1, z2 = (torch.randn(7, 5, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(2))
    bank = torch.randn(23, 5, generator=g, dtype=torch.float64, requires_grad=True)
    idx = torch.tensor([0, 4, 4, 22, 9, 13, 1])
    for block in (3, 512):
        assert torch.autograd.gradcheck(lambda a, b: nt_xent(a, b, 0.3, reduction="none", block=block), (z1, z2))
        assert torch.autograd.gradcheck(lambda a, b: bank_loss(a, b, idx, 0.3, reduction="none", block=block), (z1, bank))
    assert torch.autograd.gradcheck(lambda a, b: hard_nt_xent(a, b, 0.3, k=4, reduction="none"), (z1, z2))
    assert torch.autograd.gradcheck(lambda a, b: hard_bank_loss(a, b, idx, 0.3, alpha=0.2, reduction="none"), (z1, bank))
