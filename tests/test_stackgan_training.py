"""StackGAN's trainer: a step of each stage, twin-caption negatives, the CA mean the
discriminators condition on, and training Stage II alone."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from plugins.stackgan.config import TINY
from plugins.stackgan.model import StackGAN
from plugins.stackgan.losses import discriminator_loss

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is fastest


def tiny(**kw) -> StackGAN:
    torch.manual_seed(0)
    return StackGAN(**{**TINY, **kw}).eval()


def test_one_training_step_of_each_stage():
    from plugins.stackgan.train import train
    from zoo_core.data.shapes import load_shapes

    x, caps = load_shapes("train", size=TINY["image_size"], with_captions=True, n=16)
    torch.manual_seed(0)
    init = StackGAN(**TINY)
    model, report = train("tiny", data=(x, caps), max_steps=2, log=None)
    assert report["recipe"]["steps"] == [2, 2]
    assert report["recipe"]["text_embedding"].startswith("frozen sentence feature of the config's own")  # no DAMSM of tiny's size
    assert all(np.isfinite(v) for v in report["final"].values())
    # both stages were updated from the same initialisation
    assert not torch.equal(init.STAGE1_G.fc[0].weight, model.STAGE1_G.fc[0].weight)
    assert not torch.equal(init.hr_joint[0].weight, model.hr_joint[0].weight)
    assert torch.equal(init.text_encoder.encoder.weight, model.text_encoder.encoder.weight)  # frozen



def test_twin_conditions_join_the_wrong_term_at_the_same_weight():
    model = tiny()
    _, disc = model.make_discriminators()
    disc.eval()
    real, fake = torch.rand(4, 3, 32, 32) * 2 - 1, torch.rand(4, 3, 32, 32) * 2 - 1
    mu, twin_mu = torch.randn(4, model.condition_dim), torch.randn(4, model.condition_dim)
    plain, _ = discriminator_loss(disc, real, fake, mu)
    loss, stats = discriminator_loss(disc, real, fake, mu, twin_mu)
    bce = F.binary_cross_entropy_with_logits
    f_real = disc(real)
    err_wrong = bce(disc.get_cond_logits(f_real[:-1], mu[1:]), torch.zeros(3))
    err_twin = bce(disc.get_cond_logits(f_real, twin_mu), torch.zeros(4))
    # the wrong term (weight 0.5) becomes the mean of the plain and the twin wrong terms
    assert torch.allclose(loss, plain + 0.5 * ((err_wrong + err_twin) / 2 - err_wrong))
    assert stats["d_twin"] == pytest.approx(torch.sigmoid(disc.get_cond_logits(f_real, twin_mu)).mean().item())



def test_condition_mean_is_each_stage_ca_mean_of_the_scaled_sentence():
    model = StackGAN(**{**TINY, "text_scale": 3.0}).eval()
    sentence = torch.randn(2, model.text_dim)
    _, mu1, _ = model.stage1(torch.randn(2, model.z_dim), sentence, torch.zeros(2, model.condition_dim))
    assert torch.allclose(model.condition_mean(1, sentence), mu1)
    _, mu2, _ = model.stage2(torch.rand(2, 3, model.stage1_size, model.stage1_size) * 2 - 1, sentence)
    assert torch.allclose(model.condition_mean(2, sentence), mu2)
    assert not torch.allclose(mu1, mu2)



def test_training_with_twin_negatives_needs_twin_captions_and_reports_them():
    from plugins.stackgan.train import train
    from zoo_core.data.shapes import load_shapes

    x, caps = load_shapes("train", size=TINY["image_size"], with_captions=True, n=16)
    with pytest.raises(ValueError, match="twin captions"):
        train("tiny", data=(x, caps), max_steps=1, twin_negatives="d", log=None)
    with pytest.raises(ValueError, match="twin_negatives must be one of"):
        train("tiny", data=(x, caps), max_steps=1, twin_negatives="d+damsm", log=None)
    twins = [list(reversed(c)) for c in caps[1:] + caps[:1]]  # any other scene's captions will do
    _, report = train("tiny", data=(x, caps, twins), max_steps=2, twin_negatives="d", twin_kinds="shape,swap",
                      classifier=None, log=None)
    assert report["recipe"]["hard_negatives"].endswith("twins: shape,swap")
    assert 0.0 < report["final"]["stage1_d_twin"] < 1.0 and 0.0 < report["final"]["stage2_d_twin"] < 1.0


def test_stage_two_alone_leaves_stage_one_as_continued(tmp_path):
    from plugins.stackgan.train import train
    from zoo_core.data.shapes import load_shapes

    x, caps = load_shapes("train", size=TINY["image_size"], with_captions=True, n=16)
    with pytest.raises(ValueError, match="give init_from"):
        train("tiny", data=(x, caps), max_steps=1, stages=2, classifier=None, log=None)
    with pytest.raises(ValueError, match="stages takes 1, 2 or both"):
        train("tiny", data=(x, caps), max_steps=1, stages=[3], classifier=None, log=None)
    first, _ = train("tiny", data=(x, caps), max_steps=1, classifier=None, log=None)
    first.save_pretrained(tmp_path / "run")
    again, report = train("tiny", data=(x, caps), max_steps=2, stages=2, init_from=str(tmp_path / "run"),
                          classifier=None, log=None)
    assert report["recipe"]["steps"] == [2] and "Stage II only" in report["recipe"]["schedule"]
    for k, v in first.STAGE1_G.state_dict().items():
        assert torch.equal(v, again.STAGE1_G.state_dict()[k]), k
    assert not torch.equal(first.hr_joint[0].weight, again.hr_joint[0].weight)


def test_disc_state_carries_both_stages_discriminators_heads_and_moments(tmp_path):
    from safetensors.torch import load_file

    from plugins.stackgan.train import train
    from zoo_core.data.shapes import load_shapes

    x, caps, labels = load_shapes("train", size=TINY["image_size"], with_captions=True, with_attributes=True, n=16)
    state = tmp_path / "disc.safetensors"
    first, _ = train("tiny", data=(x, caps), max_steps=1, classifier=None, disc_state=state, log=None)
    saved = load_file(str(state))
    assert float(saved["opt_d1@0/step"]) == 1.0 and float(saved["opt_g2@0/step"]) == 1.0
    assert not any(k.startswith("auxD") for k in saved)
    first.save_pretrained(tmp_path / "run")
    # Stage II alone continues its discriminator; an older file without heads gains fresh ones
    logs: list[str] = []
    train("tiny", data=(x, caps), labels=labels, max_steps=2, stages=2, init_from=str(tmp_path / "run"),
          classifier=None, disc_state=state, d_aux=1.0, log=logs.append)
    again = load_file(str(state))
    assert float(again["opt_d2@0/step"]) == 3.0 and float(again["opt_d1@0/step"]) == 1.0
    assert float(again["opt_aux2@0/step"]) == 2.0 and "auxD1/fc.weight" in again
    weight1, weight2 = (next(k for k in saved if k.startswith(f"netD{s}/") and k.endswith("weight")) for s in (1, 2))
    assert torch.equal(again[weight1], saved[weight1])  # Stage I's discriminator kept as it was
    assert not torch.equal(again[weight2], saved[weight2])
    assert any(line.startswith(f"discriminators and optimiser moments continued from {state}") for line in logs)
