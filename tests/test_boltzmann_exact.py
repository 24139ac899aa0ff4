"""Boltzmann plugin, exact checks on machines small enough to enumerate: energies, free energies
and log Z against brute force; AIS against the exact log Z; Gibbs chains against the exact
distribution; conditionals against energy differences and finite differences."""
from __future__ import annotations

import math

import pytest
import torch

from plugins.boltzmann.base import TorchNoise
from plugins.boltzmann.convrbm import ConvRBM
from plugins.boltzmann.crbm import CRBM
from plugins.boltzmann.dbm import DBM
from plugins.boltzmann.dbn import DBN
from plugins.boltzmann.gbrbm import GBRBM
from plugins.boltzmann.rbm import RBM
from plugins.boltzmann.ssrbm import SSRBM

from .boltzmann_helpers import all_binary, exact_rbm, randomize

pytestmark = pytest.mark.usefixtures("one_thread")  # many tiny ops: one thread is fastest


@pytest.fixture
def small_rbm():  # 9 visible + 3 hidden = 12 units: 4,096 joint states
    return randomize(RBM(image_size=3, hidden=3))


# -- enumeration: free energy, log Z, AIS, Gibbs -----------------------------------------------
def test_free_energy_matches_enumeration(small_rbm):
    vs, log_marg, _ = exact_rbm(small_rbm)
    assert torch.allclose(-small_rbm.free_energy(vs), log_marg, atol=1e-4)


def test_log_prob_with_exact_log_z_is_a_normalised_distribution(small_rbm):
    vs, log_marg, log_z = exact_rbm(small_rbm)
    small_rbm.log_z.fill_(float(log_z))
    logp = small_rbm.log_prob(vs.reshape(-1, 1, 3, 3))
    assert torch.allclose(logp, (log_marg - log_z).double(), atol=1e-4)
    assert abs(float(torch.logsumexp(logp, 0))) < 1e-4


def test_ais_is_within_its_reported_error_of_the_exact_log_z(small_rbm):
    _, _, log_z = exact_rbm(small_rbm)
    est, se = small_rbm.ais_log_z(num_chains=200, num_betas=1000, generator=0)
    assert se[0] > 0
    assert abs(float(est[0]) - float(log_z)) < 3 * float(se[0]) + 1e-3


def test_ais_with_too_few_steps_on_a_hard_model_reports_a_larger_error():
    """A sharper machine (large weights) is harder: the reported error grows, it is not hidden."""
    easy = randomize(RBM(image_size=3, hidden=3), std=0.5)
    hard = randomize(RBM(image_size=3, hidden=3), std=3.0)
    se_easy = easy.ais_log_z(num_chains=100, num_betas=20, generator=0)[1][0]
    se_hard = hard.ais_log_z(num_chains=100, num_betas=20, generator=0)[1][0]
    assert se_hard > se_easy


def test_gibbs_chains_reach_the_exact_distribution(small_rbm):
    vs, log_marg, log_z = exact_rbm(small_rbm)
    exact = torch.exp(log_marg - log_z)
    noise = TorchNoise(torch.Generator().manual_seed(0))
    v = small_rbm.init_state(500, noise)
    counts = torch.zeros(len(vs))
    weights = 2 ** torch.arange(small_rbm.num_visible - 1, -1, -1).float()
    with torch.no_grad():
        for step in range(420):
            v = small_rbm.gibbs_step(v, noise)
            if step >= 20:
                counts += torch.bincount((v @ weights).long(), minlength=len(vs)).float()
    empirical = counts / counts.sum()
    tv = 0.5 * float((empirical - exact).abs().sum())
    assert tv < 0.03, tv
    # and the test can tell: a chain at the wrong temperature is far off
    v = small_rbm.init_state(500, noise)
    counts.zero_()
    with torch.no_grad():
        for step in range(120):
            v = small_rbm.gibbs_step(v, noise, beta=0.5)
            if step >= 20:
                counts += torch.bincount((v @ weights).long(), minlength=len(vs)).float()
    assert 0.5 * float((counts / counts.sum() - exact).abs().sum()) > 0.1


def test_dbm_sums_h1_exactly_and_its_ais_and_bound_hold():
    dbm = randomize(DBM(image_size=2, hidden1=4, hidden2=3))  # 4 + 4 + 3 = 11 units
    vs, h1s, h2s = all_binary(4), all_binary(4), all_binary(3)
    v, h1, h2 = (t.reshape(-1, t.shape[-1]) for t in torch.meshgrid(
        torch.arange(16), torch.arange(16), torch.arange(8), indexing="ij"))
    v, h1, h2 = vs[v.flatten()], h1s[h1.flatten()], h2s[h2.flatten()]
    neg_e = -dbm.energy(v, h1, h2).reshape(16, 16, 8)
    log_z = torch.logsumexp(neg_e.flatten(), 0)
    # h1 summed out analytically
    vv, hh2 = vs[:, None].expand(-1, 8, -1).reshape(-1, 4), h2s[None].expand(16, -1, -1).reshape(-1, 3)
    assert torch.allclose(dbm.log_unnorm((vv, hh2)).reshape(16, 8), torch.logsumexp(neg_e, 1), atol=1e-4)
    est, se = dbm.ais_log_z(num_chains=200, num_betas=1000, generator=0)
    assert abs(float(est[0]) - float(log_z)) < 3 * float(se[0]) + 1e-3
    # the mean-field bound never exceeds the exact log-likelihood
    dbm.log_z.fill_(float(log_z))
    exact = torch.logsumexp(neg_e.reshape(16, -1), 1) - log_z
    bound = dbm.log_prob(vs.reshape(-1, 1, 2, 2))
    assert dbm.log_prob_is_bound
    assert (bound <= exact.double() + 1e-5).all()
    assert (bound > exact.double() - 5).all()


def test_dbn_bound_is_below_the_exact_log_likelihood_and_tightens():
    dbn = randomize(DBN(image_size=2, hidden=[3, 3]))  # v(4) -> h1(3) -> top RBM h1(3)-h2(3)
    vs, hs = all_binary(4), all_binary(3)
    low, top = dbn.layers
    # exact: p(v) = sum_h1 p(v | h1) p_top(h1)
    log_top = top.log_unnorm(hs)
    h3 = all_binary(3)
    log_z = torch.logsumexp((-top.energy(hs[:, None].expand(-1, 8, -1), h3[None].expand(8, -1, -1))).flatten(), 0)
    log_pv_h = torch.stack([(vs * low.visible_logits(h) - torch.nn.functional.softplus(low.visible_logits(h))).sum(1)
                            for h in hs], 1)
    exact = torch.logsumexp(log_pv_h + log_top - log_z, 1).double()
    dbn.log_z.fill_(float(log_z))
    x = vs.reshape(-1, 1, 2, 2)
    assert torch.equal(dbn.log_prob(x), dbn.log_prob(x))  # seeded: deterministic
    b1 = dbn.unnormalised_log_prob(x, num_samples=1, generator=0) - float(log_z)
    b1000 = dbn.unnormalised_log_prob(x, num_samples=2000, generator=0) - float(log_z)
    assert float(b1000.mean()) <= float(exact.mean()) + 0.01
    assert float(b1000.mean()) > float(b1.mean())
    assert (b1000 - exact).abs().max() < 0.1


@pytest.mark.parametrize("label", [0, 7])
def test_crbm_free_energy_and_log_z_per_label(label):
    crbm = randomize(CRBM(image_size=3, hidden=3, num_classes=10))
    vs, log_marg, log_z = exact_rbm(crbm, cond=label)
    y = torch.full((len(vs),), label, dtype=torch.long)
    assert torch.allclose(-crbm.free_energy(vs, y), log_marg, atol=1e-4)
    noise = TorchNoise(torch.Generator().manual_seed(0))
    from plugins.boltzmann.ais import ais_log_z
    est, se = ais_log_z(crbm, 100, 500, noise.generator, cond=torch.full((100,), label, dtype=torch.long))
    assert abs(est - float(log_z)) < 3 * se + 1e-3


def test_crbm_marginal_log_prob_mixes_the_labels():
    crbm = randomize(CRBM(image_size=2, hidden=2, num_classes=3))
    vs = all_binary(4)
    zs = torch.stack([exact_rbm(crbm, cond=k)[2] for k in range(3)])
    crbm.log_z.copy_(zs)
    logp = crbm.log_prob(vs.reshape(-1, 1, 2, 2))
    assert abs(float(torch.logsumexp(logp, 0))) < 1e-4  # a distribution over the 16 images
    given = torch.stack([crbm.log_prob_given(vs.reshape(-1, 1, 2, 2), [k] * 16) for k in range(3)], 1)
    assert torch.allclose(logp, torch.logsumexp(given, 1) - math.log(3))


def test_convrbm_free_energy_sums_the_pooling_constrained_hiddens():
    crbm = randomize(ConvRBM(image_size=3, filters=2, filter_size=2, pool=2))  # 2 maps of 2x2, one block each
    vs = all_binary(9)
    states = torch.cat([torch.eye(4), torch.zeros(1, 4)])  # one block: at most one unit on
    hs = torch.stack([torch.cat([a, b]) for a in states for b in states]).reshape(-1, 2, 2, 2)
    e = torch.stack([crbm.energy(vs, h.expand(len(vs), -1, -1, -1)) for h in hs], 1)
    assert torch.allclose(-crbm.free_energy(vs), torch.logsumexp(-e, 1), atol=1e-4)
    log_z = torch.logsumexp(-e.flatten(), 0)
    est, se = crbm.ais_log_z(num_chains=100, num_betas=400, generator=0)
    assert abs(float(est[0]) - float(log_z)) < 3 * float(se[0]) + 1e-3


# -- conditionals against the energy (finite differences) -------------------------------------
def test_rbm_conditionals_are_energy_differences(small_rbm):
    gen = torch.Generator().manual_seed(1)
    v = (torch.rand(5, 9, generator=gen) < 0.5).float()
    h = (torch.rand(5, 3, generator=gen) < 0.5).float()
    for j in range(3):
        on, off = h.clone(), h.clone()
        on[:, j], off[:, j] = 1, 0
        want = torch.sigmoid(small_rbm.energy(v, off) - small_rbm.energy(v, on))
        assert torch.allclose(small_rbm.p_h_given_v(v)[:, j], want, atol=1e-5)
    for i in range(9):
        on, off = v.clone(), v.clone()
        on[:, i], off[:, i] = 1, 0
        want = torch.sigmoid(small_rbm.energy(off, h) - small_rbm.energy(on, h))
        assert torch.allclose(small_rbm.p_v_given_h(h)[:, i], want, atol=1e-5)


def _numeric_grad_and_curvature(f, v, i, eps=1e-3):
    e1, e0 = v.clone(), v.clone()
    e1[:, i] += eps
    e0[:, i] -= eps
    grad = (f(e1) - f(e0)) / (2 * eps)
    curv = (f(e1) - 2 * f(v) + f(e0)) / eps ** 2
    return grad, curv


def test_gbrbm_conditionals_match_the_energy():
    m = randomize(GBRBM(image_size=2, hidden=3), std=0.5).double()
    gen = torch.Generator().manual_seed(2)
    v = torch.randn(4, 4, generator=gen, dtype=torch.float64)
    h = (torch.rand(4, 3, generator=gen) < 0.5).double()
    mean, var = m.visible_mean(h), m.sigma ** 2
    for i in range(4):  # p(v | h) is the Gaussian whose log-density is -E: gradient and curvature
        grad, curv = _numeric_grad_and_curvature(lambda x: -m.energy(x, h), v, i)
        assert torch.allclose(grad, -(v[:, i] - mean[:, i]) / var[i], atol=1e-5)
        assert torch.allclose(curv, -1 / var[i].expand(4), rtol=1e-3)
    for j in range(3):
        on, off = h.clone(), h.clone()
        on[:, j], off[:, j] = 1, 0
        assert torch.allclose(m.p_h_given_v(v)[:, j], torch.sigmoid(m.energy(v, off) - m.energy(v, on)))
    hs = all_binary(3).double()  # and the free energy sums them
    e = torch.stack([m.energy(v, hh.expand(4, -1)) for hh in hs], 1)
    assert torch.allclose(-m.free_energy(v), torch.logsumexp(-e, 1))


def test_ssrbm_conditionals_match_the_energy():
    m = randomize(SSRBM(image_size=2, hidden=2), std=0.5).double()
    with torch.no_grad():
        m.log_alpha.add_(1.0)
    m.constrain()
    gen = torch.Generator().manual_seed(3)
    v = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    h = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
    s = torch.randn(3, 2, generator=gen, dtype=torch.float64)
    prec = m.visible_precision(h)
    mean = (h * s) @ m.W.t() / prec
    for i in range(4):  # p(v | s, h) = N(C^-1 W (s h), C^-1)
        grad, curv = _numeric_grad_and_curvature(lambda x: -m.energy(x, s, h), v, i)
        assert torch.allclose(grad, -(v[:, i] - mean[:, i]) * prec[:, i], atol=1e-5)
        assert torch.allclose(curv, -prec[:, i], rtol=1e-3)
    for j in range(2):  # p(s | v, h)
        grad, curv = _numeric_grad_and_curvature(lambda t: -m.energy(v, t, h), s, j)
        slab = m.slab_mean(v, h)
        assert torch.allclose(grad, -(s[:, j] - slab[:, j]) * m.alpha[j], atol=1e-5)
    # p(h | v) integrates the slabs out: quadrature over s on a grid
    grid = torch.linspace(-30, 30, 6001, dtype=torch.float64)
    ds = float(grid[1] - grid[0])

    def log_marg(vv, hh):  # log of the integral over s of exp(-E(v, s, h)), by quadrature
        total = -0.5 * (vv * vv * m.lam).sum() + (m.b * hh).sum() - 0.5 * (hh * ((vv * vv) @ m.phi.t())).sum()
        for j in range(2):
            integrand = hh[j] * grid * (vv @ m.W[:, j]) - 0.5 * m.alpha[j] * (grid - m.mu[j] * hh[j]) ** 2
            total = total + torch.logsumexp(integrand, 0) + math.log(ds)
        return total
    for row in range(3):
        for j in range(2):
            on, off = h[row].clone(), h[row].clone()
            on[j], off[j] = 1, 0
            want = torch.sigmoid(log_marg(v[row], on) - log_marg(v[row], off))
            assert torch.allclose(m.p_h_given_v(v[row:row + 1])[0, j], want, atol=1e-6)
    # E[v | h] (slabs integrated out) is where the s-marginal of exp(-E) peaks in v
    vm = m.visible_mean_given_h(h)
    for row in range(3):
        def neg_log(vv, row=row):
            total = 0.5 * (vv * vv * m.visible_precision(h[row:row + 1])[0]).sum()
            for j in range(2):
                integrand = h[row, j] * grid * (vv @ m.W[:, j]) - 0.5 * m.alpha[j] * (grid - m.mu[j] * h[row, j]) ** 2
                total = total - torch.logsumexp(integrand, 0)
            return total
        x = vm[row].clone().requires_grad_(True)
        (g,) = torch.autograd.grad(neg_log(x), x)
        assert g.abs().max() < 1e-5
    # the constraint keeps the model normalisable
    M = torch.diag(m.lam) - (m.W / m.alpha) @ m.W.t()
    assert torch.linalg.eigvalsh(M).min() > 0


def test_convrbm_pooling_block_is_a_softmax_of_energies():
    m = randomize(ConvRBM(image_size=5, filters=2, filter_size=2, pool=2), std=0.5)
    gen = torch.Generator().manual_seed(4)
    v = (torch.rand(1, 25, generator=gen) < 0.5).float()
    p = m.p_h_given_v(v)
    base = torch.zeros(1, 2, 4, 4)  # everything off; vary block (k=1, rows 2-3, cols 0-1)
    es = []
    for state in range(5):
        h = base.clone()
        if state < 4:
            h[0, 1, 2 + state // 2, state % 2] = 1
        es.append(m.energy(v, h))
    probs = torch.softmax(-torch.cat(es), 0)
    assert torch.allclose(p[0, 1, 2:4, 0:2].flatten(), probs[:4], atol=1e-5)
    h = (torch.rand(1, 2, 4, 4, generator=gen) < 0.2).float()
    for i in (0, 7, 24):
        on, off = v.clone(), v.clone()
        on[:, i], off[:, i] = 1, 0
        want = torch.sigmoid(m.energy(off, h) - m.energy(on, h))
        assert torch.allclose(torch.sigmoid(m.visible_logits(h))[:, i], want, atol=1e-5)


def test_dbm_conditionals_are_energy_differences():
    m = randomize(DBM(image_size=2, hidden1=3, hidden2=2))
    gen = torch.Generator().manual_seed(5)
    v, h1, h2 = ((torch.rand(4, n, generator=gen) < 0.5).float() for n in (4, 3, 2))
    for j in range(3):
        on, off = h1.clone(), h1.clone()
        on[:, j], off[:, j] = 1, 0
        want = torch.sigmoid(m.energy(v, off, h2) - m.energy(v, on, h2))
        assert torch.allclose(torch.sigmoid(m.h1_logits(v, h2))[:, j], want, atol=1e-5)
