"""EBM plugin: the energy network, the Langevin update and sampler, the replay buffer, training."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from plugins.ebm.config import PAPER, SMALL, TINY
from plugins.ebm.langevin import LangevinSampler, ReplayBuffer, langevin, langevin_step
from plugins.ebm.model import EBM, ResBlock
from zoo_core.errors import BadInputError
from zoo_core.model import CHUNK
from zoo_core.rng import SampleRNG

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny() -> EBM:
    torch.manual_seed(0)
    return EBM(**TINY).eval()


def conv_params(cin: int, cout: int, k: int) -> int:
    return cin * cout * k * k + cout


def resnet_params(channels: int, w: int) -> int:
    """The paper's ResNet32: 3x3 conv, blocks [w, w, 2w, 2w, 2w, 2w] (two 3x3 convs each, a
    1x1 shortcut where the width changes), a dense layer 2w -> 1."""
    total = conv_params(channels, w, 3)
    for cin, cout in [(w, w), (w, w), (w, 2 * w), (2 * w, 2 * w), (2 * w, 2 * w), (2 * w, 2 * w)]:
        total += conv_params(cin, cout, 3) + conv_params(cout, cout, 3)
        total += conv_params(cin, cout, 1) if cin != cout else 0
    return total + 2 * w + 1


def test_plugin_registration_does_not_import_torch():
    code = ("import sys, plugins.ebm as p; fams = p.zoo_families(); "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "print(fams[0].name, fams[0].model_class, fams[0].trainer)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ebm", "plugins.ebm.model:EBM", "plugins.ebm.train:train"]


def test_family_paths_resolve():
    import plugins.ebm as p
    from zoo_core.lazy import import_object

    fam = p.zoo_families()[0]
    assert fam.load_class() is EBM
    assert callable(import_object(fam.trainer))
    assert list(EBM.samplers) == ["langevin"]


def test_paper_config_is_the_resnet32_with_spectral_norm():
    model = EBM(**PAPER).eval()
    assert model.num_parameters() == resnet_params(3, 128)
    blocks = [m for m in model.modules() if isinstance(m, ResBlock)]
    assert [b.down for b in blocks] == [True, False, True, False, True, False]
    layers = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert layers and all(torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    with torch.no_grad():
        assert model(torch.rand(2, 3, 32, 32)).shape == (2,)
    assert (PAPER["sample_steps"], PAPER["step_size"], PAPER["noise"]) == (60, 10.0, 0.005)


def test_small_config_shapes_and_weights_size(tmp_path):
    model = EBM(**SMALL)
    e, size = SMALL["energy_size"], SMALL["image_size"]
    with torch.no_grad():
        assert model(torch.rand(3, 1, e, e)).shape == (3,)
    assert model.sample(2, generator=0, steps=1).data.shape == (2, 1, size, size)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").stat().st_size <= 2_000_000


def test_upsampling_from_the_energy_resolution_is_the_data_loaders():
    from zoo_core.data.digits import load_digits

    model = EBM(**{**TINY, "image_size": 32, "energy_size": 8})
    assert torch.allclose(model.to_image(load_digits("test", size=8)), load_digits("test", size=32), atol=1e-6)
    # step size 0 and no noise: the sample is the upsampled uniform start
    out = model.sample(3, generator=0, step_size=0.0, noise=0.0).data
    start = SampleRNG.from_seed(0, 0, CHUNK).rand(1, 8, 8)[:3]
    assert torch.equal(out, model.to_image(start))
    with pytest.raises(ValueError):
        EBM(**{**TINY, "energy_size": 16})


def test_energy_of_an_image_does_not_depend_on_its_batch(tiny):
    x = torch.rand(5, 1, 8, 8)
    with torch.no_grad():
        assert torch.allclose(tiny(x)[2:3], tiny(x[2:3]), atol=1e-6)
    with pytest.raises(BadInputError):
        tiny(torch.rand(2, 1, 16, 16))


def test_langevin_step_is_the_documented_update():
    # E(x) = 0.5 |x - c|^2 has gradient x - c: one step is x - step/2 (x - c) + noise * eps
    c = torch.tensor([[0.3, -1.0, 2.0]])
    energy = lambda x: 0.5 * (x - c).pow(2).sum(1)  # noqa: E731
    x = torch.tensor([[1.0, 0.5, -0.5]])
    eps = torch.tensor([[0.1, -0.2, 0.3]])
    out = langevin_step(energy, x, eps, step_size=0.4, noise=0.5, grad_clip=None,
                        value_range=(-10.0, 10.0))
    assert torch.allclose(out, x - 0.2 * (x - c) + 0.5 * eps)
    # the gradient is clipped per pixel, and the result clamped to the data range
    clipped = langevin_step(energy, x, eps, step_size=0.4, noise=0.0, grad_clip=0.1, value_range=(0.0, 1.0))
    assert torch.allclose(clipped, (x - 0.2 * (x - c).clamp(-0.1, 0.1)).clamp(0, 1))


def test_langevin_samples_a_gaussian_energy():
    # exp(-E) with E = |x|^2 / (2 s^2) is N(0, s^2): unadjusted Langevin with noise sqrt(step)
    # has that stationary law up to O(step)
    s = 0.5
    energy = lambda x: x.pow(2).sum(1) / (2 * s * s)  # noqa: E731
    gen = torch.Generator().manual_seed(0)
    x = langevin(energy, torch.full((4000, 2), 3.0), 400, step_size=0.01, noise=0.1,
                 value_range=(-100.0, 100.0), generator=gen)
    assert x.mean().abs() < 0.03
    assert x.std().item() == pytest.approx(s, rel=0.05)


def test_zero_step_size_and_no_noise_leave_samples_unchanged(tiny):
    out = tiny.sample(20, generator=3, step_size=0.0, noise=0.0, steps=7).data
    start = torch.cat([SampleRNG.from_seed(3, i, CHUNK).rand(1, 8, 8) for i in (0, CHUNK)])[:20]
    assert torch.equal(out, start)
    # and with the default settings the chain does move
    assert not torch.allclose(tiny.sample(20, generator=3).data, start)


def test_langevin_descends_the_energy_without_noise(tiny):
    start = tiny.sample(16, generator=0, steps=0).data
    moved = tiny.sample(16, generator=0, noise=0.0, step_size=1.0, steps=5).data
    with torch.no_grad():
        assert (tiny(moved) < tiny(start)).all()


@pytest.mark.parametrize("options", [{}, {"chains": 3, "steps": 2, "burn_in": 1}])
def test_seeded_sampling_is_deterministic_and_prefix_stable(tiny, options):
    a = tiny.sample(20, generator=0, **options).data
    assert a.shape == (20, 1, 8, 8) and 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, tiny.sample(20, generator=0, **options).data)
    assert torch.equal(tiny.sample(4, generator=0, **options).data, a[:4])
    assert not torch.equal(tiny.sample(4, generator=1, **options).data, a[:4])
    assert len({tuple(x.flatten()[:8].tolist()) for x in a}) == 20


def test_sample_depends_only_on_its_own_stream(tiny):
    gens = lambda seeds: [torch.Generator().manual_seed(s) for s in seeds]  # noqa: E731
    three = tiny.sample(3, generator=gens([5, 6, 7])).data
    alone = tiny.sample(1, generator=gens([6])).data
    assert torch.allclose(three[1:2], alone, atol=1e-6)


def test_chains_give_successive_states_of_one_chain(tiny):
    gen = lambda: [torch.Generator().manual_seed(9), torch.Generator().manual_seed(10)]  # noqa: E731
    chained = tiny.sample(2, generator=gen(), chains=1, burn_in=2, steps=3).data
    first = tiny.sample(1, generator=gen()[:1], steps=5).data  # burn_in + steps from the same stream
    assert torch.allclose(chained[0:1], first, atol=1e-6)
    assert not torch.allclose(chained[0], chained[1])
    with pytest.raises(BadInputError):
        tiny.sample(4, generator=0, chains=2, steps=0)


def test_sampler_defaults_come_from_the_model_and_options_parse(tiny):
    sampler = tiny.get_sampler("langevin", steps="4", step_size="0.5", noise="0")  # CLI strings
    assert sampler.settings(tiny) == {"steps": 4, "step_size": 0.5, "noise": 0.0}
    assert LangevinSampler().settings(tiny) == {"steps": TINY["sample_steps"],
                                                "step_size": TINY["step_size"], "noise": TINY["noise"]}
    with pytest.raises(BadInputError):
        tiny.sample(2, generator=0, step_size=-1.0)
    with pytest.raises(BadInputError):
        tiny.get_sampler("langevin", temperature=1.0)


def test_replay_buffer_reuse_restart_and_write_back():
    gen = torch.Generator().manual_seed(0)
    buf = ReplayBuffer(50, (1, 4, 4), reinit=0.0, generator=gen)
    buf.data.fill_(0.5)
    x, slots = buf.sample(20)
    assert torch.equal(x, torch.full_like(x, 0.5))  # reused
    buf.push(torch.zeros_like(x), slots)
    assert torch.equal(buf.data[slots], torch.zeros_like(x))
    buf.reinit = 1.0
    fresh, _ = buf.sample(20)
    assert not torch.equal(fresh, buf.data[:20]) and 0 <= fresh.min() and fresh.max() < 1
    # max_age: a chain extended max_age times starts again from noise
    aged = ReplayBuffer(4, (1, 2, 2), reinit=0.0, max_age=2, generator=gen)
    aged.data.fill_(0.5)
    for _ in range(2):
        x, slots = aged.sample(4)
        aged.push(x, torch.arange(4))
    x, _ = aged.sample(4)
    assert not (x == 0.5).any()


def test_save_and_load_roundtrip_gives_identical_samples(tmp_path):
    torch.manual_seed(1)
    model = EBM(**{**TINY, "arch": "resnet", "spectral_norm": True})
    with torch.no_grad():
        model.train()
        model(torch.rand(4, 1, 8, 8))  # power iteration moves the spectral-norm vectors
    model.eval()
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["zoo_family"] == "ebm" and config["spectral_norm"] is True
    loaded = EBM.from_pretrained(tmp_path)
    assert torch.equal(model.sample(3, generator=2).data, loaded.sample(3, generator=2).data)


def test_one_training_step_changes_weights():
    from plugins.ebm.train import train

    torch.manual_seed(5)
    before = EBM(**TINY).state_dict()
    model, report = train("tiny", data=torch.rand(16, 1, 8, 8), seed=5, max_steps=2, batch_size=8,
                          log=None, threads=None)
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert report["recipe"]["steps"] == 2
    assert all(torch.isfinite(torch.tensor(v)) for v in report["final"].values())
    assert not model.training


def test_training_lowers_the_energy_of_data_below_noise():
    from plugins.ebm.train import train

    gen = torch.Generator().manual_seed(0)
    data = torch.zeros(32, 1, 8, 8)
    data[:, :, 2:6, 3:5] = 1.0  # one bar, slightly jittered
    data = (data + 0.05 * torch.rand(data.shape, generator=gen)).clamp(0, 1)
    model, _ = train("tiny", data=data, seed=0, epochs=15, batch_size=16, lr=3e-3, log=None, threads=None)
    noise = torch.rand(32, 1, 8, 8, generator=gen)
    with torch.no_grad():
        assert model(data).mean() < model(noise).mean()


def test_training_rejects_mismatched_data():
    from plugins.ebm.train import train

    with pytest.raises(ValueError):
        train("tiny", data=torch.rand(4, 1, 16, 16), max_steps=1, log=None, threads=None)
