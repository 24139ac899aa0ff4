"""Diffusion plugin: DDPM (U-Net, schedules, ancestral and DDIM samplers) and NCSN (conditional
RefineNet, geometric noise levels, annealed Langevin dynamics)."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from plugins.diffusion import schedules
from plugins.diffusion.config import DDPM_PAPER, DDPM_TINY, NCSN_PAPER, NCSN_TINY
from plugins.diffusion.ddpm import DDPM
from plugins.diffusion.ncsn import NCSN, CondInstanceNormPP, max_pool5
from plugins.diffusion.samplers import AnnealedLangevinSampler, DDIMSampler, DDPMSampler
from zoo_core.errors import BadInputError
from zoo_core.rng import SampleRNG

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is fastest


@pytest.fixture(scope="module")
def ddpm() -> DDPM:
    torch.manual_seed(0)
    model = DDPM(**DDPM_TINY).eval()
    with torch.no_grad():  # the paper zero-initialises the output layer: make it non-trivial
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


@pytest.fixture(scope="module")
def ncsn() -> NCSN:
    torch.manual_seed(0)
    return NCSN(**NCSN_TINY).eval()


def count_calls(model):
    """Wrap the model's forward with a counter of network evaluations."""
    calls = []
    forward = model.forward

    def counted(*args, **kwargs):
        calls.append(args[0].shape[0])
        return forward(*args, **kwargs)
    model.forward = counted
    return calls


class Oracle:
    """A stand-in 'model' for per-pixel Gaussian data N(mu, s^2) with its exact eps / score."""

    def __init__(self, mu=0.3, s=0.2, T=200, schedule="linear", sigmas=None, shape=(1, 4, 4)):
        self.mu, self.s, self.T, self.image_shape = mu, s, T, shape
        self.alpha_bar64 = schedules.alphas_cumprod(schedules.make_betas(schedule, T))
        self.sigmas64 = sigmas
        self.device = torch.device("cpu")

    def __call__(self, x, t):
        if self.sigmas64 is not None:  # score of N(mu, s^2 + sigma^2)
            sigma2 = float(self.sigmas64[t]) ** 2
            return -(x - self.mu) / (self.s ** 2 + sigma2)
        ab = float(self.alpha_bar64[t])  # E[eps | x_t] for Gaussian x_0
        return math.sqrt(1 - ab) * (x - math.sqrt(ab) * self.mu) / (ab * self.s ** 2 + 1 - ab)


# --- registration and configs ---------------------------------------------------------------

def test_plugin_registration_does_not_import_torch():
    code = ("import sys, plugins.diffusion as p; fams = p.zoo_families(); "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "print(' '.join(f.name for f in fams))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ddpm", "ncsn"]


def test_family_paths_resolve():
    import plugins.diffusion as p
    from zoo_core.lazy import import_object

    fams = {f.name: f for f in p.zoo_families()}
    assert fams["ddpm"].load_class() is DDPM and fams["ncsn"].load_class() is NCSN
    assert all(callable(import_object(f.trainer)) for f in fams.values())


def test_paper_ddpm_unet_has_the_papers_parameter_count():
    model = DDPM(**DDPM_PAPER)  # Ho et al.: "our CIFAR10 model has 35.7 million parameters"
    assert 35_000_000 <= model.num_parameters() <= 36_500_000
    assert model.T == 1000 and model.image_shape == (3, 32, 32)
    # attention at 16x16 only (plus the middle block), dropout in every ResBlock
    attn = [m for m in model.modules() if type(m).__name__ == "AttnBlock"]
    assert len(attn) == 2 + 3 + 1  # the 2 down and 3 up ResBlocks at 16x16, and the middle
    assert all(m.p == 0.1 for m in model.modules() if isinstance(m, torch.nn.Dropout))


def test_paper_ncsn_instantiates_with_the_papers_noise_levels():
    model = NCSN(**NCSN_PAPER)
    s = model.sigmas64
    assert len(s) == 10 and s[0] == pytest.approx(1.0) and s[-1] == pytest.approx(0.01)
    norms = [m for m in model.modules() if isinstance(m, CondInstanceNormPP)]
    assert norms and all(m.embed.num_embeddings == 10 for m in norms)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    dilations = {m.dilation[0] for m in model.modules() if isinstance(m, torch.nn.Conv2d)}
    assert {2, 4} <= dilations


# --- schedules ------------------------------------------------------------------------------

def test_schedules():
    lin = schedules.linear_betas(1000)
    assert lin[0].item() == pytest.approx(1e-4) and lin[-1].item() == pytest.approx(0.02)
    assert (lin.diff() > 0).all()
    cos = schedules.cosine_betas(1000)
    ab = schedules.alphas_cumprod(cos)
    t = torch.arange(1, 1001, dtype=torch.float64) / 1000
    f = torch.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2 / math.cos(0.008 / 1.008 * math.pi / 2) ** 2
    assert torch.allclose(ab[:990], f[:990], rtol=1e-6)  # cos^2 law (betas clipped at the very end)
    assert (cos > 0).all() and (cos <= 0.999).all() and ab[-1] < 1e-4
    ts = schedules.spaced_timesteps(1000, 50)
    assert len(ts) == 50 and ts[0] == 999 and ts[-1] == 0 and ts == sorted(ts, reverse=True)


def test_geometric_sigmas_and_step_sizes():
    s = schedules.geometric_sigmas(1.0, 0.01, 10)
    ratios = s[1:] / s[:-1]
    assert torch.allclose(ratios, ratios[0].expand_as(ratios)) and (ratios < 1).all()
    a = schedules.langevin_step_sizes(s, 2e-5)
    for i in range(10):
        assert a[i].item() == pytest.approx(2e-5 * s[i].item() ** 2 / s[-1].item() ** 2)


def test_q_sample_matches_the_product_of_alphas(ddpm):
    betas = schedules.make_betas("cosine", ddpm.T)
    t = torch.tensor([0, 7, ddpm.T - 1])
    x0, noise = torch.randn(3, *ddpm.image_shape), torch.randn(3, *ddpm.image_shape)
    ab = torch.tensor([float(torch.prod(1 - betas[: k + 1])) for k in t.tolist()]).view(-1, 1, 1, 1)
    assert torch.allclose(ddpm.q_sample(x0, t, noise), ab.sqrt() * x0 + (1 - ab).sqrt() * noise, atol=1e-6)


# --- DDPM samplers --------------------------------------------------------------------------

def test_ddim_eta0_is_deterministic_given_x_T(ddpm):
    x_T = torch.randn(4, *ddpm.image_shape)
    sampler = ddpm.get_sampler("ddim", steps=5, eta=0.0)
    a = sampler.run(ddpm, x_T.clone(), SampleRNG.from_seed(1, 0, 4))
    b = sampler.run(ddpm, x_T.clone(), SampleRNG.from_seed(2, 0, 4))  # other per-step noise
    assert torch.equal(a, b)
    noisy = ddpm.get_sampler("ddim", steps=5, eta=1.0)
    c = noisy.run(ddpm, x_T.clone(), SampleRNG.from_seed(1, 0, 4))
    d = noisy.run(ddpm, x_T.clone(), SampleRNG.from_seed(2, 0, 4))
    assert not torch.allclose(c, d)


def test_ddim_eta1_on_all_steps_is_the_ancestral_sampler(ddpm):
    x_T = torch.randn(3, *ddpm.image_shape)
    a = ddpm.get_sampler("ddpm").run(ddpm, x_T.clone(), SampleRNG.from_seed(0, 0, 3))
    b = ddpm.get_sampler("ddim", steps=ddpm.T, eta=1.0).run(ddpm, x_T.clone(), SampleRNG.from_seed(0, 0, 3))
    assert torch.allclose(a, b, atol=1e-4)


def test_fewer_steps_means_fewer_network_evaluations():
    torch.manual_seed(0)
    model = DDPM(**DDPM_TINY).eval()
    calls = count_calls(model)
    model.sample(2, generator=0, sampler="ddpm")
    full = len(calls)
    calls.clear()
    model.sample(2, generator=0, sampler="ddim", steps=4)
    assert len(calls) == 4 < full == model.T
    calls.clear()
    model.sample(2, generator=0, sampler="ddpm", steps=3)  # respaced ancestral sampling
    assert len(calls) == 3
    calls.clear()
    model.sample(2, generator=0, sampler="ddim")  # default 50 steps, at most T
    assert len(calls) == min(50, model.T)


@pytest.mark.parametrize("sampler,options", [("ddpm", {}), ("ddim", {"steps": 50}),
                                             ("ddim", {"steps": 100, "eta": 1.0})])
def test_samplers_reproduce_a_gaussian_data_distribution(sampler, options):
    """With the exact noise predictor of N(mu, s^2) data, samples have that mean and spread."""
    oracle = Oracle(mu=0.3, s=0.2, T=100, schedule="cosine")  # alpha_bar_T ~ 0
    strategy = DDPMSampler(**options) if sampler == "ddpm" else DDIMSampler(**options)
    x = strategy(oracle, 48, SampleRNG.from_seed(0, 0, 48), None)
    assert x.mean().item() == pytest.approx(0.3, abs=0.02)
    assert x.std().item() == pytest.approx(0.2, rel=0.1)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_seeded_sampling_is_deterministic_and_prefix_stable(ddpm, sampler):
    a = ddpm.sample(18, generator=0, sampler=sampler, steps=5).data
    assert a.shape == (18, *ddpm.image_shape)
    assert torch.equal(ddpm.sample(3, generator=0, sampler=sampler, steps=5).data, a[:3])
    assert not torch.equal(ddpm.sample(3, generator=1, sampler=sampler, steps=5).data, a[:3])
    assert a.min() >= -1 and a.max() <= 1  # x_0 clipped to the data range


def test_sampler_options_are_parsed_and_validated(ddpm):
    s = ddpm.get_sampler("ddim", steps="10", eta="0.5")  # CLI strings
    assert (s.steps, s.eta) == (10, 0.5)
    assert ddpm.get_sampler("ddpm").steps is None  # T by default
    with pytest.raises(BadInputError):
        ddpm.sample(1, generator=0, sampler="ddim", steps=0)
    with pytest.raises(BadInputError):
        ddpm.sample(1, generator=0, sampler="ddim", eta=-1)
    with pytest.raises(BadInputError):
        ddpm.sample(1, generator=0, sampler="ddpm", steps=ddpm.T + 1)
    with pytest.raises(BadInputError):
        ddpm.get_sampler("langevin")


# --- NCSN ------------------------------------------------------------------------------------

def test_langevin_with_eps_zero_leaves_x_unchanged(ncsn):
    x0 = torch.rand(3, *ncsn.image_shape)
    out = AnnealedLangevinSampler(eps=0.0).run(ncsn, x0.clone(), SampleRNG.from_seed(0, 0, 3))
    assert torch.equal(out, x0)
    moved = AnnealedLangevinSampler().run(ncsn, x0.clone(), SampleRNG.from_seed(0, 0, 3))
    assert not torch.allclose(moved, x0)


class ZeroNoise:
    """An rng whose Gaussian draws are all zero."""

    def randn(self, *shape):
        return torch.zeros(2, *shape, dtype=torch.float64)


class ConstantScore(Oracle):
    """Score 1 everywhere; records (level, x) at every call."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def __call__(self, x, level):
        self.seen.append((level, x[0, 0, 0, 0].item()))
        return torch.ones_like(x)


def test_langevin_step_sizes_follow_the_annealing_schedule():
    """With a constant score of 1 and no noise, each step moves x by alpha_i / 2 exactly."""
    L, steps, eps = 4, 3, 1e-3
    sigma_1, sigma_L = 1.0, 0.05
    oracle = ConstantScore(sigmas=schedules.geometric_sigmas(sigma_1, sigma_L, L))
    oracle.steps_per_level, oracle.step_eps = steps, eps
    out = AnnealedLangevinSampler(denoise=False).run(oracle, torch.zeros(2, *oracle.image_shape, dtype=torch.float64),
                                                             ZeroNoise())
    assert [lv for lv, _ in oracle.seen] == [i for i in range(L) for _ in range(steps)]
    xs = [x for _, x in oracle.seen] + [out[0, 0, 0, 0].item()]
    for k in range(L * steps):
        i = k // steps
        sigma_i = sigma_1 * (sigma_L / sigma_1) ** (i / (L - 1))
        assert xs[k + 1] - xs[k] == pytest.approx(eps * sigma_i ** 2 / sigma_L ** 2 / 2, rel=1e-9)


def test_annealed_langevin_samples_a_gaussian_from_its_score():
    oracle = Oracle(mu=0.4, s=0.25, sigmas=schedules.geometric_sigmas(1.0, 0.01, 10), shape=(1, 8, 8))
    oracle.steps_per_level, oracle.step_eps = 30, 2e-4
    x = AnnealedLangevinSampler(denoise=True)(oracle, 48, SampleRNG.from_seed(0, 0, 48), None)
    assert x.mean().item() == pytest.approx(0.4, abs=0.03)
    assert x.std().item() == pytest.approx(0.25, rel=0.15)


def test_langevin_options():
    ncsn = NCSN(**NCSN_TINY).eval()
    s = ncsn.get_sampler("langevin", steps_per_level="2", eps="1e-4", denoise="true")
    assert (s.steps_per_level, s.eps, s.denoise) == (2, 1e-4, True)
    calls = count_calls(ncsn)
    ncsn.sample(2, generator=0, steps_per_level=2, denoise=True)
    assert len(calls) == 2 * len(ncsn.sigmas64) + 1
    with pytest.raises(BadInputError):
        ncsn.sample(1, generator=0, steps_per_level=0)
    with pytest.raises(BadInputError):
        ncsn.sample(1, generator=0, eps=-1.0)


def test_ncsn_sampling_is_seeded_and_per_sample(ncsn):
    a = ncsn.sample(17, generator=0, steps_per_level=1).data
    assert torch.equal(ncsn.sample(2, generator=0, steps_per_level=1).data, a[:2])
    x = torch.rand(4, *ncsn.image_shape)
    together = ncsn(x, torch.tensor([0, 1, 2, 3]))
    alone = torch.cat([ncsn(x[i:i + 1], i) for i in range(4)])
    assert torch.allclose(together, alone, atol=1e-5)  # no batch statistics anywhere
    assert not torch.allclose(ncsn(x, 0), ncsn(x, 3))  # the noise level conditions the score


def test_max_pool5_is_a_5x5_max_pool():
    x = torch.randn(2, 3, 7, 6)
    assert torch.equal(max_pool5(x), torch.nn.functional.max_pool2d(x, 5, 1, 2))


# --- persistence and training -----------------------------------------------------------------

@pytest.mark.parametrize("cls,cfg,sampler,opts", [(DDPM, DDPM_TINY, "ddim", {"steps": 3}),
                                                  (NCSN, NCSN_TINY, "langevin", {"steps_per_level": 1})])
def test_save_and_load_roundtrip(tmp_path, cls, cfg, sampler, opts):
    torch.manual_seed(1)
    model = cls(**cfg)
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["zoo_family"] == cls.family
    from safetensors.torch import load_file

    keys = load_file(tmp_path / "model.safetensors").keys()
    assert all(k.startswith("net.") for k in keys)  # schedules are recomputed, not stored
    loaded = cls.from_pretrained(tmp_path)
    assert torch.equal(model.sample(3, generator=2, sampler=sampler, **opts).data,
                       loaded.sample(3, generator=2, sampler=sampler, **opts).data)


@pytest.mark.parametrize("family", ["ddpm", "ncsn"])
def test_training_steps_reduce_nothing_to_nan_and_change_weights(family):
    from plugins.diffusion.train import train_ddpm, train_ncsn

    trainer, cfg = (train_ddpm, DDPM_TINY) if family == "ddpm" else (train_ncsn, NCSN_TINY)
    data = torch.rand(16, 1, cfg["image_size"], cfg["image_size"])
    model, report = trainer("tiny", data=data, seed=3, max_steps=2, batch_size=8, log=None, threads=None)
    assert report["recipe"]["steps"] == 2 and math.isfinite(report["final"]["loss"])
    torch.manual_seed(3)
    fresh = type(model)(**cfg).state_dict()
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, fresh[k])]
    assert changed
    assert not model.training
    with pytest.raises(ValueError):
        trainer("tiny", data=torch.rand(4, 1, 5, 5), max_steps=1, log=None, threads=None)


def test_dsm_loss_is_minimised_by_the_true_score():
    """For Gaussian data the exact score of the perturbed data beats a wrong one."""
    torch.manual_seed(0)
    model = NCSN(**NCSN_TINY)
    mu, s = 0.5, 0.1
    x = mu + s * torch.randn(512, *model.image_shape)
    sig = model.sigmas

    def with_score(f):
        model.forward = lambda xt, level: f(xt, sig[level].view(-1, 1, 1, 1))
        return model.loss(x, generator=torch.Generator().manual_seed(0)).item()
    exact = with_score(lambda xt, sg: -(xt - mu) / (s ** 2 + sg ** 2))
    wrong = with_score(lambda xt, sg: -(xt - mu) / (2 * s ** 2 + sg ** 2))
    assert exact < wrong
