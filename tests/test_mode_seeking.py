"""The mode-seeking term (Mao et al. 2019) as the attentional trainers use it."""
from __future__ import annotations

import pytest
import torch

from zoo_core.blocks.mode_seeking import first_rows, mode_seeking_loss, with_pairs
from zoo_core.blocks.text_to_image import GeneratorOutput, TextFeatures


def test_loss_is_the_inverse_ratio_of_image_to_noise_distance():
    images = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.5, -0.5]])  # row 2 pairs with row 0
    noise = torch.tensor([[0.0], [3.0], [2.0]])
    ratio = (0.5 + 0.5) / 2 / 2.0
    assert float(mode_seeking_loss(images, noise, 2)) == pytest.approx(1 / (ratio + 1e-5))
    # more different images for the same noise distance: a smaller loss
    assert mode_seeking_loss(images * 3, noise, 2) < mode_seeking_loss(images, noise, 2)
    with pytest.raises(ValueError, match="paired rows"):
        mode_seeking_loss(images[:2], noise[:2], 2)


def test_pairs_repeat_captions_and_conditioning_with_new_noise():
    n, k = 4, 2
    text = TextFeatures(words=torch.randn(n, 3, 5), sentence=torch.randn(n, 3),
                        ids=torch.randint(1, 9, (n, 5)), lengths=torch.tensor([5, 4, 3, 2]))
    noise, eps = torch.randn(n, 6), torch.randn(n, 2)
    noise2, eps2, text2 = with_pairs(noise, eps, text, k, torch.Generator().manual_seed(0))
    assert len(text2) == n + k and torch.equal(noise2[:n], noise)
    assert torch.equal(text2.words[n:], text.words[:k]) and torch.equal(text2.ids[n:], text.ids[:k])
    assert torch.equal(text2.lengths[n:], text.lengths[:k]) and torch.equal(eps2[n:], eps[:k])
    assert not torch.allclose(noise2[n:], noise[:k])
    out = GeneratorOutput(images=[torch.randn(n + k, 3, 4, 4)], mu=torch.randn(n + k, 2),
                          logvar=torch.randn(n + k, 2), attention=None)
    head = first_rows(out, n)
    assert head.images[0].shape[0] == n and torch.equal(head.mu, out.mu[:n]) and head.attention is None


def test_trainer_weighs_the_term_and_reports_it():
    from plugins.attngan.config import TINY
    from plugins.attngan.train import train
    from zoo_core.blocks.damsm_model import DAMSMEncoders
    from zoo_core.data.shapes import load_shapes

    torch.manual_seed(0)
    damsm = DAMSMEncoders(text_encoder="tiny", image_encoder="tiny")
    data = load_shapes("train", with_captions=True, with_attributes=True, n=8)
    runs = {w: train(TINY, steps=1, data=data, damsm=damsm, mode_seeking=w, batch_size=8, log=None)[1]
            for w in (1.0, 3.0)}
    one, three = runs[1.0]["history"][0], runs[3.0]["history"][0]
    assert one["ms"] > 0 and one["ms"] == pytest.approx(three["ms"])  # same seed: the same pairs
    assert three["loss_g"] - one["loss_g"] == pytest.approx(2 * one["ms"], rel=1e-4)
    assert "2019" in runs[1.0]["recipe"]["objective"]
    _, off = train(TINY, steps=1, data=data, damsm=damsm, batch_size=8, log=None)
    assert "ms" not in off["history"][0] and "mode seeking" not in off["recipe"]["objective"]
    with pytest.raises(ValueError, match="mode_seeking must be zero or more"):
        train(TINY, steps=1, data=data, damsm=damsm, mode_seeking=-1, log=None)
