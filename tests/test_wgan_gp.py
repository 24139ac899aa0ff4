"""WGAN-GP plugin: gradient penalty, critic without batch norm, n_critic schedule, samplers
reused from DCGAN, persistence."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from plugins.dcgan.model import DCGAN
from plugins.dcgan.samplers import TruncationSampler
from plugins.wgan_gp.config import PAPER, SMALL, TINY, TRAINING
from plugins.wgan_gp.model import WGANGP, Critic
from plugins.wgan_gp.train import gradient_penalty, train

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is fastest


class LinearCritic(nn.Module):
    """D(x) = <w, x>: its gradient is w everywhere."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.flatten(1) * self.w).sum(1)


def test_plugin_registration_does_not_import_torch():
    code = ("import sys, plugins.wgan_gp as p; fams = p.zoo_families(); "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "print(fams[0].name, fams[0].model_class, fams[0].trainer)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["wgan-gp", "plugins.wgan_gp.model:WGANGP", "plugins.wgan_gp.train:train"]


def test_gradient_penalty_is_zero_for_unit_norm_gradients():
    torch.manual_seed(0)
    w = torch.randn(1 * 4 * 4)
    real, fake = torch.randn(8, 1, 4, 4), torch.randn(8, 1, 4, 4)
    unit = LinearCritic(w / w.norm())
    assert gradient_penalty(unit, real, fake).item() == pytest.approx(0.0, abs=1e-10)
    for scale in (0.5, 2.0, 3.0):
        critic = LinearCritic(scale * w / w.norm())
        assert gradient_penalty(critic, real, fake).item() == pytest.approx((scale - 1) ** 2, rel=1e-5)


def test_gradient_penalty_trains_the_critic_towards_unit_norm():
    torch.manual_seed(0)
    critic = LinearCritic(3 * torch.ones(16) / 4)  # gradient norm 3
    real, fake = torch.randn(8, 1, 4, 4), torch.randn(8, 1, 4, 4)
    gp = gradient_penalty(critic, real, fake)
    gp.backward()
    assert critic.w.grad is not None and critic.w.grad.norm() > 0
    # one gradient step on the penalty shrinks the weight norm towards 1
    with torch.no_grad():
        critic.w -= 0.05 * critic.w.grad
    assert 1 < critic.w.norm() < 3


def test_gradient_penalty_uses_interpolates_between_real_and_fake():
    """A critic whose gradient norm is 1 only on the real data is penalised at interpolates."""
    class Quadratic(nn.Module):
        def forward(self, x):  # grad = x, so ||grad|| = ||x||
            return 0.5 * x.flatten(1).pow(2).sum(1)
    real = torch.zeros(4, 1, 2, 2)
    real[:, 0, 0, 0] = 1.0  # ||x|| = 1 on the reals
    fake = 3 * real  # ||x|| = 3 on the fakes
    at_real = gradient_penalty(Quadratic(), real, fake, eps=torch.ones(4)).item()
    at_fake = gradient_penalty(Quadratic(), real, fake, eps=torch.zeros(4)).item()
    halfway = gradient_penalty(Quadratic(), real, fake, eps=torch.full((4,), 0.5)).item()
    assert at_real == pytest.approx(0.0) and at_fake == pytest.approx(4.0) and halfway == pytest.approx(1.0)


@pytest.mark.parametrize("cfg", [PAPER, SMALL, TINY])
def test_critic_has_no_batch_norm_and_is_per_sample(cfg):
    critic = Critic(**cfg).eval()
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in critic.modules())
    if cfg is TINY:
        x = torch.randn(5, cfg["channels"], cfg["image_size"], cfg["image_size"])
        together = critic(x)
        alone = torch.cat([critic(x[i:i + 1]) for i in range(5)])
        assert torch.allclose(together, alone, atol=1e-5)  # the penalty is per example
        assert together.shape == (5,)


def test_critic_normalisation_options():
    layer = Critic(**{**TINY, "critic_norm": "layernorm"})
    plain = Critic(**{**TINY, "critic_norm": "none"})
    assert any(isinstance(m, nn.GroupNorm) and m.num_groups == 1 for m in layer.modules())
    assert not any(isinstance(m, (nn.GroupNorm, nn.LayerNorm)) for m in plain.modules())
    with pytest.raises(ValueError):
        WGANGP(**{**TINY, "critic_norm": "batchnorm"})


def test_generator_is_dcgans():
    """The generator is built from DCGAN's blocks: same layers and parameter count."""
    model = WGANGP(**SMALL)
    dcgan = DCGAN(**{k: SMALL[k] for k in ("image_size", "channels", "nz", "ngf", "ndf")})
    assert model.num_parameters() == dcgan.num_parameters()
    assert [type(m) for m in model.generator] == [type(m) for m in dcgan.generator]
    x = model(torch.randn(2, SMALL["nz"]))
    assert x.shape == (2, 1, SMALL["image_size"], SMALL["image_size"]) and x.abs().max() <= 1


def test_paper_recipe():
    # Gulrajani et al., Algorithm 1: lambda = 10, n_critic = 5, Adam(1e-4, 0, 0.9), m = 64
    assert (TRAINING["gp_lambda"], TRAINING["n_critic"]) == (10, 5)
    assert (TRAINING["lr"], TRAINING["beta1"], TRAINING["beta2"], TRAINING["batch_size"]) == (1e-4, 0.0, 0.9, 64)


@pytest.mark.parametrize("sampler", ["ancestral", "truncation"])
def test_seeded_sampling_is_deterministic_and_prefix_stable(sampler):
    torch.manual_seed(0)
    model = WGANGP(**TINY)
    a = model.sample(20, generator=0, sampler=sampler).data
    assert torch.equal(model.sample(4, generator=0, sampler=sampler).data, a[:4])
    assert not torch.equal(model.sample(4, generator=1, sampler=sampler).data, a[:4])
    assert len({tuple(x.flatten()[:8].tolist()) for x in a}) == 20


def test_truncation_sampler_is_dcgans_and_truncates():
    model = WGANGP(**TINY)
    sampler = model.get_sampler("truncation", threshold="0.5")
    assert isinstance(sampler, TruncationSampler) and sampler.threshold == 0.5
    from zoo_core.rng import SampleRNG

    z = sampler.noise(model, 16, SampleRNG.from_seed(0, 0, 16))
    assert z.shape == (16, TINY["nz"], 1, 1) and z.abs().max() <= 0.5


def test_training_runs_n_critic_critic_steps_per_generator_step():
    torch.manual_seed(5)
    before = WGANGP(**TINY).state_dict()
    data = torch.rand(40, 1, 16, 16)
    model, report = train("tiny", data=data, seed=5, epochs=5, max_steps=3, batch_size=4, log=None,
                          threads=None)
    r = report["recipe"]
    assert r["generator_steps"] == 3 and r["critic_steps"] == 3 * TRAINING["n_critic"]
    changed = [k for k, v in model.state_dict().items()
               if v.dtype.is_floating_point and not torch.equal(v, before[k])]
    assert "generator.0.weight" in changed
    assert all(torch.isfinite(torch.tensor(v)) for v in report["final"].values())
    assert not model.training and model.sample(2, generator=0).data.isfinite().all()
    with pytest.raises(ValueError):
        train("tiny", data=torch.rand(4, 1, 32, 32), max_steps=1, log=None, threads=None)


def test_save_and_load_roundtrip(tmp_path):
    torch.manual_seed(1)
    model = WGANGP(**TINY)
    with torch.no_grad():
        model.train()
        model(torch.randn(32, TINY["nz"]))
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["zoo_family"] == "wgan-gp" and config["critic_norm"] == "layernorm"
    from safetensors.torch import load_file

    assert all(k.startswith("generator.") for k in load_file(tmp_path / "model.safetensors"))
    loaded = WGANGP.from_pretrained(tmp_path)
    for sampler in ("ancestral", "truncation"):
        assert torch.equal(model.sample(5, generator=3, sampler=sampler).data,
                           loaded.sample(5, generator=3, sampler=sampler).data)
