"""GAN-INT-CLS plugin: sizes, the generator's text conditioning, the matching-aware
discriminator (GAN-CLS), text interpolation (GAN-INT, the training term and the sampler),
persistence, seeded sampling, prompts and one training step."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from plugins.gan_int_cls.config import PAPER, SMALL, TINY
from plugins.gan_int_cls.model import GANINTCLS
from plugins.gan_int_cls.train import discriminator_loss, interpolate_embeddings
from zoo_core.errors import BadInputError

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is fastest


def tiny() -> GANINTCLS:
    torch.manual_seed(0)
    return GANINTCLS(**TINY).eval()


def reed_generator_params(t_dim: int, nt: int, nz: int, ngf: int) -> int:
    """reedscot/icml2016 main_cls_int.lua's netG from its layer sizes: the text projection
    (Linear with bias), the 4x4 and stride-2 transposed convolutions, the two residual blocks
    (1x1 to a quarter width, 3x3, 3x3 back) and batch norm (scale + shift); the convolutions'
    biases are zeroed before every update by the original, so they are not counted."""
    def res(c: int) -> int:
        q = c // 4
        return c * q + 2 * q + q * q * 9 + 2 * q + q * c * 9 + 2 * c

    g = ngf
    total = t_dim * nt + nt
    total += (nz + nt) * 8 * g * 16 + 2 * 8 * g + res(8 * g)
    total += 8 * g * 4 * g * 16 + 2 * 4 * g + res(4 * g)
    total += 4 * g * 2 * g * 16 + 2 * 2 * g
    total += 2 * g * g * 16 + 2 * g
    return total + g * 3 * 16


def test_paper_config_parameter_count():
    model = GANINTCLS(**PAPER)
    assert model.text_encoder is None and model.text_dim == 1024
    assert model.num_parameters() == reed_generator_params(1024, 128, 100, 128)


def test_plugin_registration_does_not_import_torch():
    code = ("import sys, plugins.gan_int_cls as p; f = p.zoo_families()[0]; "
            "assert 'torch' not in sys.modules, 'torch imported'; print(f.name, f.model_class, f.trainer)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["gan-int-cls", "plugins.gan_int_cls.model:GANINTCLS", "plugins.gan_int_cls.train:train"]


@pytest.mark.parametrize("cfg", [TINY, SMALL], ids=["tiny", "small"])
def test_generate_shape_and_text_conditioning(cfg):
    torch.manual_seed(0)
    model = GANINTCLS(**cfg).eval()
    text = model.encode_prompts(["a big red circle", "a small blue square above a yellow triangle"])
    z = torch.randn(1, model.z_dim).expand(2, -1)
    out = model.generate(z, text)
    assert len(out.images) == 1 and out.images[0].shape == (2, 3, 64, 64)
    assert out.images[0].abs().max() <= 1 and out.mu is None
    assert not torch.allclose(out.images[0][0], out.images[0][1])  # same z, other text: other image


def test_matching_aware_discriminator_scores_three_pairs():
    model = tiny()
    disc = model.make_discriminator()
    real = torch.rand(4, 3, 64, 64) * 2 - 1
    fake = torch.rand(4, 3, 64, 64) * 2 - 1
    text = model.encode_prompts(["a red circle", "a blue square at the top", "a green star on the left",
                                 "a big pink cross"]).sentence
    loss, scores = discriminator_loss(disc, real, text, fake, cls_weight=0.5)
    disc.eval()  # same numbers again in eval mode would differ (batch norm); recompute in train mode
    disc.train()
    bce = F.binary_cross_entropy_with_logits
    by_hand = (bce(disc(real, text), torch.ones(4)) + 0.5 * bce(disc(real, text.roll(1, 0)), torch.zeros(4))
               + 0.5 * bce(disc(fake, text), torch.zeros(4)))
    assert torch.allclose(loss, by_hand)
    # trained on these pairs, D learns to reject a real image with another image's caption
    opt = torch.optim.Adam(disc.parameters(), lr=2e-3, betas=(0.5, 0.999))
    for _ in range(40):
        opt.zero_grad()
        loss, scores = discriminator_loss(disc, real, text, fake)
        loss.backward()
        opt.step()
    assert torch.sigmoid(scores["real"]).min() > torch.sigmoid(scores["wrong"]).max()


def test_twin_captions_join_the_wrong_term_at_its_weight():
    model = tiny()
    disc = model.make_discriminator().eval()  # eval: the same numbers for every call
    real, fake = torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 3, 64, 64) * 2 - 1
    text = model.encode_prompts(["a red circle", "a blue square"]).sentence
    twin = model.encode_prompts(["a red star", "a blue cross"]).sentence
    loss, scores = discriminator_loss(disc, real, text, fake, cls_weight=0.5, twin_text=twin)
    bce = F.binary_cross_entropy_with_logits
    wrong = (bce(disc(real, text.roll(1, 0)), torch.zeros(2)) + bce(disc(real, twin), torch.zeros(2))) / 2
    by_hand = bce(disc(real, text), torch.ones(2)) + 0.5 * wrong + 0.5 * bce(disc(fake, text), torch.zeros(2))
    assert torch.allclose(loss, by_hand) and torch.equal(scores["twin"], disc(real, twin))
    assert "twin" not in discriminator_loss(disc, real, text, fake)[1]


def test_gan_int_interpolates_halves_of_a_batch():
    t = torch.arange(12.0).view(6, 2)
    mixed = interpolate_embeddings(t, 0.5)
    assert torch.equal(mixed, (t[:3] + t[3:]) / 2)
    assert torch.equal(interpolate_embeddings(t, 1.0), t[:3])


def test_interpolate_sampler_walks_from_prompt_to_target():
    model = tiny()
    steps = 4
    inter = model.sample(8, prompt="a big red circle", sampler="interpolate", to="a small blue square",
                         steps=steps, generator=7).data
    plain = model.sample(8, prompt="a big red circle", generator=7).data
    # the first column is the prompt itself with the row's own noise: the ancestral sample
    assert torch.allclose(inter[0], plain[0], atol=1e-6) and torch.allclose(inter[4], plain[4], atol=1e-6)
    # z fixed along a row: the last column is the target prompt with the row's noise
    target = model.sample(8, prompt="a small blue square", generator=7).data
    assert torch.allclose(inter[steps - 1], target[0], atol=1e-6)
    assert not torch.allclose(inter[1], inter[2])
    first = model.sample(4, prompt="a big red circle", sampler="interpolate", to="a small blue square",
                         steps=steps, generator=7).data
    assert torch.equal(first, inter[:4])  # sample i depends only on (seed, i)
    with pytest.raises(BadInputError, match="'unicorn'"):
        model.sample(4, prompt="a red circle", sampler="interpolate", to="a unicorn", generator=0)
    with pytest.raises(BadInputError, match="--to"):
        model.sample(4, prompt="a red circle", sampler="interpolate", generator=0)


def test_one_training_step_changes_generator_not_encoder():
    from plugins.gan_int_cls.train import train
    from zoo_core.data.shapes import load_shapes

    x, caps = load_shapes("train", with_captions=True, n=16)
    torch.manual_seed(0)
    init = GANINTCLS(**TINY)
    model, report = train("tiny", data=(x, caps), max_steps=2, log=None)
    assert report["recipe"]["steps"] == 2 and all(np.isfinite(v) for v in report["final"].values())
    assert not torch.equal(init.netG[0].weight, model.netG[0].weight)
    assert not torch.equal(init.projection[0].weight, model.projection[0].weight)
    assert torch.equal(init.text_encoder.encoder.weight, model.text_encoder.encoder.weight)  # frozen
    assert report["recipe"]["hard_negatives"] is None and "d_twin" not in report["final"]
    # tiny's encoder is not DAMSM-sized: "auto" loads none, and the report does not claim one
    assert report["recipe"]["text_embedding"].startswith("frozen sentence feature of the config's own bi-LSTM")
    from zoo_core.data.shapes import shape_twins

    twins = shape_twins("train", 16).captions
    _, with_twins = train("tiny", data=(x, caps, twins), max_steps=2, twin_negatives="d", log=None)
    assert 0 < with_twins["final"]["d_twin"] < 1 and with_twins["recipe"]["hard_negatives"].startswith("shape-twin")
    with pytest.raises(ValueError, match="twin captions"):
        train("tiny", data=(x, caps), max_steps=2, twin_negatives="d", log=None)


def test_save_load_round_trip(tmp_path):
    model = tiny()
    model.save_pretrained(tmp_path / "m")
    loaded = GANINTCLS.from_pretrained(str(tmp_path / "m")).eval()
    assert loaded.config == model.config
    a = model.sample(3, prompt="a small red circle", generator=5).data
    assert torch.equal(a, loaded.sample(3, prompt="a small red circle", generator=5).data)


def test_seeded_sampling_is_per_sample():
    model = tiny()
    prompts = ["a big red circle", "a small blue square above a yellow triangle"]
    a = model.sample(20, prompt=prompts, generator=3).data
    assert torch.equal(a[:4], model.sample(4, prompt=prompts, generator=3).data)
    assert not torch.equal(a[0], a[2])
    assert not torch.equal(a, model.sample(20, prompt=prompts, generator=4).data)


def test_out_of_vocabulary_prompt_names_the_word():
    model = tiny()
    with pytest.raises(BadInputError, match="'zebra'"):
        model.sample(2, prompt="a red zebra", generator=0)


def test_cli_sample_writes_a_grid(tmp_path, capsys):
    from zoo_core.cli import main

    tiny().save_pretrained(tmp_path / "m")
    png = tmp_path / "x.png"
    assert main(["sample", str(tmp_path / "m"), "--prompt", "a red circle", "--sampler", "interpolate",
                 "--to", "a blue square", "--steps", "4", "-n", "8", "-o", str(png), "-q"]) == 0
    assert png.stat().st_size > 0
