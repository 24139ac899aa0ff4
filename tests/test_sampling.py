"""The sampling contract: seeds, per-sample independence, samplers, writers."""
from __future__ import annotations

import os

import pytest
import torch

from zoo_core.errors import BadInputError
from zoo_core.rng import SampleRNG, sample_seed
from zoo_core.writers import write_samples

from .toy import Toy


@pytest.fixture
def toy():
    torch.manual_seed(0)
    return Toy().eval()


def test_same_seed_same_samples_and_prefix_property(toy):
    a = toy.sample(40, generator=7).data
    b = toy.sample(40, generator=7).data
    assert torch.equal(a, b)
    assert torch.equal(toy.sample(5, generator=7).data, a[:5])  # -n 5 is the start of -n 40
    assert torch.equal(toy.sample(20, generator=7).data, a[:20])  # across a chunk border
    assert not torch.equal(toy.sample(5, generator=8).data, a[:5])


def test_sample_i_depends_only_on_seed_and_index():
    r1 = SampleRNG.from_seed(3, 0, 6).randn(4)
    r2 = SampleRNG.from_seed(3, 4, 2).randn(4)
    assert torch.equal(r1[4:], r2)
    assert sample_seed(3, 4) != sample_seed(4, 3)


def test_torch_generator_and_list_of_generators(toy):
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(toy.sample(3, generator=g1).data, toy.sample(3, generator=g2).data)
    gens = [torch.Generator().manual_seed(i) for i in range(3)]
    assert toy.sample(3, generator=gens).data.shape == (3, 1, 4, 4)
    with pytest.raises(BadInputError, match="2 generators for 3 samples"):
        toy.sample(3, generator=gens[:2])


def test_training_mode_is_restored_and_batchnorm_uses_running_stats(toy):
    toy.train()
    toy.sample(2, generator=0)
    assert toy.training


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_bad_n(toy, n):
    with pytest.raises(BadInputError, match="positive integer"):
        toy.sample(n, generator=0)


def test_samplers_swap_and_validate_options(toy):
    zero = toy.sample(2, sampler="zero", generator=0).data
    assert torch.equal(zero[0], zero[1])
    scaled = toy.sample(2, sampler="ancestral", generator=0, scale="0").data
    assert torch.allclose(scaled, zero)
    with pytest.raises(BadInputError, match="unknown sampler 'gibbs'.*ancestral, zero"):
        toy.sample(2, sampler="gibbs")
    with pytest.raises(BadInputError, match="no option 'steps'"):
        toy.sample(2, steps=3)
    with pytest.raises(BadInputError, match="must be float"):
        toy.sample(2, scale="big")


def test_unconditional_model_refuses_a_condition(toy):
    with pytest.raises(BadInputError, match="unconditional"):
        toy.sample(2, condition=["a red circle"])


def test_write_grid_dir_and_npz(toy, tmp_path):
    import numpy as np
    from PIL import Image

    s = toy.sample(6, generator=0)
    grid = write_samples(s, tmp_path / "g.png")[0]
    assert Image.open(grid).size[0] > 4
    files = write_samples(s, tmp_path / "each")
    assert [f.name for f in files][:2] == ["000000.png", "000001.png"] and len(files) == 6
    assert Image.open(files[0]).size == (4, 4)
    npz = write_samples(s, tmp_path / "s.npz")[0]
    assert np.load(npz)["samples"].shape == (6, 1, 4, 4)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_writer_errors_leave_no_file(toy, tmp_path):
    s = toy.sample(2, generator=0)
    with pytest.raises(BadInputError, match="does not exist"):
        write_samples(s, tmp_path / "missing" / "x.png")
    with pytest.raises(BadInputError, match="cannot write '.gif'"):
        write_samples(s, tmp_path / "x.gif")
    with pytest.raises(BadInputError, match="cannot be written as .wav"):
        write_samples(s, tmp_path / "x.wav")
    assert list(tmp_path.iterdir()) == []


def test_save_load_roundtrip(toy, tmp_path):
    toy.save_pretrained(tmp_path / "m")
    assert {p.name for p in (tmp_path / "m").iterdir()} == {"config.json", "model.safetensors", "README.md"}
    again = Toy.from_pretrained(str(tmp_path / "m"))
    assert again.config == {"size": 4, "latent": 8}
    assert torch.equal(again.sample(3, generator=1).data, toy.sample(3, generator=1).data)
