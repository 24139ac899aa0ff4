"""DCGAN plugin: architecture sizes, sampling contract, persistence, one training step."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from plugins.dcgan.config import PAPER, SMALL, TINY
from plugins.dcgan.model import DCGAN, Discriminator
from plugins.dcgan.samplers import TruncationSampler
from zoo_core.errors import BadInputError
from zoo_core.rng import SampleRNG

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is fastest


def expected_generator_params(nz: int, ngf: int, channels: int, image_size: int) -> int:
    """From the paper's design: a 4x4 projection, then k4 s2 transposed convs halving the width
    while doubling the resolution, batch norm (scale + shift) after all but the last; no biases
    (batch norm makes them redundant)."""
    ups = {16: 2, 32: 3, 64: 4}[image_size]
    widths = [ngf * 2 ** (ups - 1 - i) for i in range(ups)]  # 64x64: 8ngf, 4ngf, 2ngf, ngf
    total = nz * widths[0] * 16 + 2 * widths[0]
    for a, b in zip(widths, widths[1:]):
        total += a * b * 16 + 2 * b
    return total + widths[-1] * channels * 16


def test_plugin_registration_does_not_import_torch():
    code = ("import sys, plugins.dcgan as p; fams = p.zoo_families(); "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "print(fams[0].name, fams[0].model_class, fams[0].trainer)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["dcgan", "plugins.dcgan.model:DCGAN", "plugins.dcgan.train:train"]


def test_family_paths_resolve():
    import plugins.dcgan as p
    from zoo_core.lazy import import_object

    fam = p.zoo_families()[0]
    assert fam.load_class() is DCGAN
    assert callable(import_object(fam.trainer))
    assert "unconditional-image" in fam.tasks


def test_paper_config_parameter_count_and_shapes():
    # LSUN model: z(100) -> 4x4x1024 -> 8x8x512 -> 16x16x256 -> 32x32x128 -> 64x64x3
    torch.manual_seed(0)
    model = DCGAN(**PAPER).eval()
    expected = expected_generator_params(100, 128, 3, 64)
    assert model.num_parameters() == expected
    assert 12_000_000 < expected < 13_500_000
    with torch.no_grad():
        x = model(torch.randn(2, 100))
    assert x.shape == (2, 3, 64, 64)
    assert x.abs().max() <= 1.0
    disc = model.make_discriminator().eval()
    with torch.no_grad():
        assert disc(x).shape == (2,)
    # discriminator: no batch norm on the first layer, no pooling, no linear layers
    assert isinstance(disc.main[1], torch.nn.LeakyReLU)
    assert not any(isinstance(m, (torch.nn.Linear, torch.nn.MaxPool2d, torch.nn.AvgPool2d))
                   for m in disc.modules())


def test_small_config_shapes_and_weights_size(tmp_path):
    model = DCGAN(**SMALL)
    assert model.num_parameters() == expected_generator_params(SMALL["nz"], SMALL["ngf"], 1, 32)
    out = model.sample(3, generator=0)
    assert out.data.shape == (3, 1, 32, 32)
    assert out.value_range == (-1.0, 1.0)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").stat().st_size <= 5_000_000


def test_init_is_normal_002():
    torch.manual_seed(0)
    model = DCGAN(**PAPER)
    w = model.generator[3].weight  # a 1024 -> 512 transposed conv
    assert abs(w.mean().item()) < 1e-3
    assert w.std().item() == pytest.approx(0.02, rel=0.02)


@pytest.mark.parametrize("sampler", ["ancestral", "truncation"])
def test_seeded_sampling_is_deterministic_and_prefix_stable(sampler):
    torch.manual_seed(0)
    model = DCGAN(**TINY)
    a = model.sample(20, generator=0, sampler=sampler).data
    b = model.sample(20, generator=0, sampler=sampler).data
    assert torch.equal(a, b)
    assert torch.equal(model.sample(4, generator=0, sampler=sampler).data, a[:4])
    assert not torch.equal(model.sample(4, generator=1, sampler=sampler).data, a[:4])
    assert len({tuple(x.flatten()[:8].tolist()) for x in a}) == 20  # distinct samples


@pytest.mark.parametrize("threshold", [0.25, 1.0, 2.0])
def test_truncation_noise_is_within_threshold(threshold):
    model = DCGAN(**TINY)
    sampler = model.get_sampler("truncation", threshold=threshold)
    z = sampler.noise(model, 64, SampleRNG.from_seed(0, 0, 64))
    assert z.shape == (64, TINY["nz"], 1, 1)
    assert z.abs().max() <= threshold
    # resampled, not clipped: hardly any value sits exactly on the bound
    assert (z.abs() == threshold).float().mean() < 0.01
    assert z.std() > 0.4 * min(threshold, 1.0)


def test_truncation_option_is_parsed_and_validated():
    model = DCGAN(**TINY)
    assert model.get_sampler("truncation", threshold="0.5").threshold == 0.5  # CLI strings
    assert isinstance(model.get_sampler("truncation"), TruncationSampler)
    assert model.get_sampler("truncation").threshold == 1.0
    with pytest.raises(BadInputError):
        model.sample(2, sampler="truncation", threshold=0.0, generator=0)
    with pytest.raises(BadInputError):
        model.get_sampler("ancestral", threshold=1.0)


def test_save_and_load_roundtrip_gives_identical_samples(tmp_path):
    torch.manual_seed(1)
    model = DCGAN(**TINY)
    with torch.no_grad():  # non-trivial batch-norm statistics must travel too
        model.train()
        model(torch.randn(32, TINY["nz"]))
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["zoo_family"] == "dcgan" and config["ndf"] == TINY["ndf"]
    from safetensors.torch import load_file

    keys = load_file(tmp_path / "model.safetensors").keys()
    assert all(k.startswith("generator.") for k in keys)  # generator only: no discriminator
    loaded = DCGAN.from_pretrained(tmp_path)
    assert loaded.config == model.config
    for sampler in ("ancestral", "truncation"):
        assert torch.equal(model.sample(6, generator=3, sampler=sampler).data,
                           loaded.sample(6, generator=3, sampler=sampler).data)


def test_discriminator_built_from_config():
    model = DCGAN(**SMALL)
    disc = Discriminator(**model.config)
    assert disc(torch.rand(2, 1, 32, 32)).shape == (2,)


def test_one_training_step_changes_weights():
    from plugins.dcgan.train import train

    torch.manual_seed(5)
    before = DCGAN(**TINY).state_dict()  # train() seeds torch the same way before building
    data = torch.rand(16, 1, 16, 16)
    model, report = train("tiny", data=data, seed=5, max_steps=2, batch_size=8, log=None, threads=None)
    after = model.state_dict()
    assert before.keys() == after.keys()
    changed = [k for k in before if before[k].dtype.is_floating_point and not torch.equal(before[k], after[k])]
    assert "generator.0.weight" in changed
    assert report["recipe"]["steps"] == 2
    assert all(torch.isfinite(torch.tensor(v)) for v in report["final"].values())
    assert not model.training  # returned ready to sample
    assert model.sample(2, generator=0).data.isfinite().all()


def test_training_rejects_mismatched_data():
    from plugins.dcgan.train import train

    with pytest.raises(ValueError):
        train("tiny", data=torch.rand(4, 1, 32, 32), max_steps=1, log=None, threads=None)
