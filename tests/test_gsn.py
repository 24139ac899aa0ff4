"""GSN plugin: corruption, the noisy reconstruction network, walkback, the Markov chain sampler,
persistence and training."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from plugins.gsn.config import PAPER, SMALL, TINY
from plugins.gsn.model import GSN, TorchNoise
from zoo_core.errors import BadInputError
from zoo_core.model import CHUNK
from zoo_core.rng import SampleRNG

ROOT = Path(__file__).resolve().parents[1]


def mlp_params(dims: list[int]) -> int:
    return sum(a * b + b for a, b in zip(dims, dims[1:]))


@pytest.fixture
def tiny() -> GSN:
    torch.manual_seed(0)
    return GSN(**TINY).eval()


def test_plugin_registration_does_not_import_torch():
    code = ("import sys, plugins.gsn as p; fams = p.zoo_families(); "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "print(fams[0].name, fams[0].model_class, fams[0].trainer)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["gsn", "plugins.gsn.model:GSN", "plugins.gsn.train:train"]


def test_paper_config_is_two_layers_of_1500_with_walkback():
    model = GSN(**PAPER)
    assert model.num_parameters() == mlp_params([784, 1500, 1500, 784])
    assert model.hidden == [1500, 1500] and model.walkback > 1
    assert (model.corruption, model.corruption_level, model.hidden_noise) == ("salt_and_pepper", 0.4, 2.0)
    assert model.sample(2, generator=0, steps=2).data.shape == (2, 1, 28, 28)


def test_small_config_shapes_and_weights_size(tmp_path):
    model = GSN(**SMALL)
    d = SMALL["image_size"] ** 2
    assert model.num_parameters() == mlp_params([d, *SMALL["hidden"], d])
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").stat().st_size <= 2_000_000


def test_salt_and_pepper_corruption(tiny):
    x = torch.full((400, 1, 8, 8), 0.5)
    xt = tiny.corrupt(x, TorchNoise(400, torch.Generator().manual_seed(0)))
    flipped = xt != 0.5
    assert flipped.float().mean().item() == pytest.approx(TINY["corruption_level"], abs=0.02)
    assert set(xt[flipped].unique().tolist()) == {0.0, 1.0}
    assert (xt[flipped] == 1).float().mean().item() == pytest.approx(0.5, abs=0.03)


def test_gaussian_corruption_and_zero_level():
    torch.manual_seed(0)
    model = GSN(**{**TINY, "corruption": "gaussian", "corruption_level": 0.3})
    x = torch.rand(500, 1, 8, 8)
    xt = model.corrupt(x, TorchNoise(500, torch.Generator().manual_seed(0)))
    assert (xt - x).std().item() == pytest.approx(0.3, rel=0.03)
    clean = GSN(**{**TINY, "corruption_level": 0.0})
    assert torch.equal(clean.corrupt(x, TorchNoise(500)), x)
    with pytest.raises(ValueError):
        GSN(**{**TINY, "corruption": "dropout"})


def test_hidden_noise_spares_the_layer_next_to_x():
    torch.manual_seed(0)
    one = GSN(**{**TINY, "hidden": [16]})  # one hidden layer: it is the one next to x
    x = torch.rand(4, 1, 8, 8)
    assert torch.equal(one.logits(x, TorchNoise(4, torch.Generator().manual_seed(1))), one.logits(x))
    two = GSN(**TINY)
    noisy = two.logits(x, TorchNoise(4, torch.Generator().manual_seed(1)))
    assert not torch.allclose(noisy, two.logits(x))
    quiet = GSN(**{**TINY, "hidden_noise": 0.0})
    quiet.load_state_dict(two.state_dict())
    assert torch.equal(quiet.logits(x, TorchNoise(4, torch.Generator().manual_seed(1))), two.logits(x))


def test_first_walkback_step_is_the_denoising_loss(tiny):
    x = torch.rand(6, 1, 8, 8)
    costs = tiny.walkback_loss(x, TorchNoise(6, torch.Generator().manual_seed(2)))
    assert costs.shape == (TINY["walkback"], 6)
    noise = TorchNoise(6, torch.Generator().manual_seed(2))
    logits = tiny.logits(tiny.corrupt(x, noise), noise)
    expected = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    assert torch.allclose(costs[0], expected)
    # later steps are scored against the data too, from states sampled by the chain
    assert not torch.allclose(costs[1], costs[0])


def test_walkback_gradients_reach_every_layer(tiny):
    tiny.walkback_loss(torch.rand(4, 1, 8, 8), TorchNoise(4)).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in tiny.parameters())


def test_no_steps_returns_the_uniform_start(tiny):
    out = tiny.sample(20, generator=4, steps=0).data
    start = torch.cat([SampleRNG.from_seed(4, i, CHUNK).rand(1, 8, 8) for i in (0, CHUNK)])[:20]
    assert torch.equal(out, start)


def test_samples_are_means_or_binary_draws(tiny):
    means = tiny.sample(8, generator=0).data
    assert 0 <= means.min() and means.max() <= 1 and ((means > 0) & (means < 1)).any()
    draws = tiny.sample(8, generator=0, mean=False).data
    assert set(draws.unique().tolist()) <= {0.0, 1.0}
    assert tiny.get_sampler("chain", mean="false").mean is False  # CLI strings


@pytest.mark.parametrize("options", [{}, {"mean": False}, {"chains": 3, "steps": 2, "burn_in": 1}])
def test_seeded_sampling_is_deterministic_and_prefix_stable(tiny, options):
    a = tiny.sample(20, generator=0, **options).data
    assert a.shape == (20, 1, 8, 8)
    assert torch.equal(a, tiny.sample(20, generator=0, **options).data)
    assert torch.equal(tiny.sample(4, generator=0, **options).data, a[:4])
    assert not torch.equal(tiny.sample(4, generator=1, **options).data, a[:4])


def test_each_sample_is_its_own_chain(tiny):
    gens = lambda seeds: [torch.Generator().manual_seed(s) for s in seeds]  # noqa: E731
    three = tiny.sample(3, generator=gens([5, 6, 7])).data
    assert torch.allclose(three[1:2], tiny.sample(1, generator=gens([6])).data, atol=1e-5)


def test_chains_take_successive_states(tiny):
    chained = tiny.sample(3, generator=[torch.Generator().manual_seed(9) for _ in range(3)],
                          chains=1, burn_in=1, steps=2, mean=False).data
    rng = SampleRNG([torch.Generator().manual_seed(9)])
    x = rng.rand(1, 8, 8)
    states = []
    for t in range(1 + 2 * 3):
        x, _ = tiny.transition(x, rng)
        states.append(x)
    assert torch.equal(chained, torch.cat([states[2], states[4], states[6]]))
    with pytest.raises(BadInputError):
        tiny.sample(4, generator=0, chains=2, steps=0)
    with pytest.raises(BadInputError):
        tiny.sample(4, generator=0, burn_in=-1)


def test_save_and_load_roundtrip_gives_identical_samples(tmp_path, tiny):
    tiny.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["zoo_family"] == "gsn" and config["hidden"] == TINY["hidden"]
    loaded = GSN.from_pretrained(tmp_path)
    assert loaded.config == tiny.config
    assert torch.equal(tiny.sample(5, generator=3).data, loaded.sample(5, generator=3).data)


def test_training_lowers_the_walkback_cost():
    from plugins.gsn.train import train

    gen = torch.Generator().manual_seed(0)
    data = (torch.rand(64, 1, 8, 8, generator=gen) < 0.2).float()
    data[:32, :, 2:6, 3:5] = 1.0
    torch.manual_seed(0)
    before = GSN(**TINY).walkback_loss(data, TorchNoise(64, torch.Generator().manual_seed(1))).mean()
    model, report = train("tiny", data=data, seed=0, epochs=20, batch_size=16, lr=1e-2,
                          log=None, threads=None)
    after = model.walkback_loss(data, TorchNoise(64, torch.Generator().manual_seed(1))).mean()
    assert after < before
    assert report["recipe"]["epochs"] == 20 and not model.training
    assert all(torch.isfinite(torch.tensor(v)) for v in report["final"].values())


def test_training_rejects_mismatched_data():
    from plugins.gsn.train import train

    with pytest.raises(ValueError):
        train("tiny", data=torch.rand(4, 1, 16, 16), max_steps=1, log=None, threads=None)
