"""StackGAN++ (plugins/stackgan_pp): the generator tree, its discriminators and losses, sampling,
persistence, the converter from the original's netG and a training step, on tiny configs."""
from __future__ import annotations


import pytest
import torch
import torch.nn.functional as F
from torch import nn

from plugins.stackgan_pp.config import CONFIGS, TRAINING
from plugins.stackgan_pp.model import (DNet, StackGANpp, color_consistency, compute_mean_covariance,
                                       weights_init)
from plugins.stackgan_pp.train import discriminator_loss, generator_loss
from zoo_core.blocks.conditioning import kl_loss
from zoo_core.blocks.text_to_image import TextFeatures
from zoo_core.errors import BadInputError

PROMPTS = ["a big red circle", "a small blue square above a yellow triangle"]


def tiny(seed: int = 0, **over) -> StackGANpp:
    torch.manual_seed(seed)
    model = StackGANpp(**{**CONFIGS["tiny"], **over})
    for name, child in model.named_children():
        if name != "text_encoder":
            child.apply(weights_init)
    return model.eval()


def features(model: StackGANpp, n: int, seed: int = 0) -> TextFeatures:
    g = torch.Generator().manual_seed(seed)
    return TextFeatures(words=None, sentence=torch.randn(n, model.text_dim, generator=g))


# -- architecture ------------------------------------------------------------------------------
def test_paper_generator_has_the_reference_parameter_count():
    # StackGAN-v2 birds G_NET (GF_DIM 64, Z_DIM 100, EMBEDDING_DIM 128, TEXT.DIMENSION 1024, R_NUM 2)
    model = StackGANpp(**CONFIGS["paper-birds"])
    assert model.text_encoder is None
    assert model.num_parameters() == model.num_generator_parameters() == 21_239_696
    assert model.image_sizes == [64, 128, 256]


def test_every_branch_doubles_the_scale_and_halves_the_width():
    for name, sizes in (("tiny", [16, 32, 64]), ("paper-tiny", [64, 128, 256])):
        model = StackGANpp(**CONFIGS[name]).eval()
        g = torch.Generator().manual_seed(0)
        out = model.generate(torch.randn(2, model.z_dim, generator=g), features(model, 2))
        assert [tuple(x.shape) for x in out.images] == [(2, 3, s, s) for s in sizes]
        assert all(x.abs().max() <= 1 for x in out.images)
        assert out.mu.shape == out.logvar.shape == (2, model.c_dim) and out.attention is None
        widths = [model.img_net1.gf_dim, model.img_net2.gf_dim, model.img_net3.gf_dim]
        assert widths[1] * 2 == widths[0] and widths[2] * 2 == widths[1]
        assert model.h_net2.jointConv[0].in_channels == widths[0] + model.c_dim  # condition joins every branch


def test_discriminators_match_the_branch_sizes():
    model = tiny()
    for d, s in zip(model.make_discriminators(), model.image_sizes):
        cond, uncond = d(torch.randn(3, 3, s, s), torch.randn(3, model.c_dim))
        assert cond.shape == uncond.shape == (3,)
    paper = DNet(256, 4, 8)  # D_NET256's layout: two more down-sampling blocks, two 3x3 blocks
    assert {"img_code_s32", "img_code_s64", "img_code_s64_1", "img_code_s64_2"} <= set(dict(paper.named_children()))
    with pytest.raises(ValueError):
        model.make_discriminators()[0](torch.randn(1, 3, 64, 64))


# -- the family's defining pieces ----------------------------------------------------------------
def test_conditional_logit_reads_the_condition_and_the_unconditional_one_does_not():
    torch.manual_seed(0)
    d = DNet(16, 4, 8).eval()
    x = torch.randn(4, 3, 16, 16)
    c1, c2 = torch.randn(4, 8), torch.randn(4, 8)
    a, b = d(x, c1), d(x, c2)
    assert not torch.allclose(a[0], b[0]) and torch.equal(a[1], b[1])
    code = d.encode(x)  # one image code scored against two conditions gives the same logits
    assert all(torch.allclose(u, v) for u, v in zip(d.scores(code, c2), b))


class StubD(nn.Module):
    """Scores an image by its first pixel: cond = v + c.sum(), uncond = 2v."""

    def encode(self, x):
        return x[:, 0, 0, 0]

    def scores(self, v, c):
        return [v + c.sum(1), 2 * v]

    def forward(self, x, c):
        return self.scores(self.encode(x), c)


def test_joint_discriminator_loss_labels_mismatched_pairs_fake_but_their_images_real():
    n, c = 3, torch.zeros(3, 2)
    real, wrong, fake = (torch.full((n, 3, 4, 4), v) for v in (1.0, -0.5, 2.0))
    loss, _ = discriminator_loss(StubD(), real, wrong, fake, c, uncond=0.7)

    def bce(v, y):
        return F.binary_cross_entropy_with_logits(torch.tensor(v), torch.tensor(y)).item()

    expected = (bce(1.0, 1.) + bce(-0.5, 0.) + bce(2.0, 0.)
                + 0.7 * (bce(2.0, 1.) + bce(-1.0, 1.) + bce(4.0, 0.)))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_twin_conditions_share_the_conditional_wrong_term():
    n, c, twin = 3, torch.zeros(3, 2), torch.full((3, 2), 0.25)  # StubD: the twin's condition adds 0.5
    real, wrong, fake = (torch.full((n, 3, 4, 4), v) for v in (1.0, -0.5, 2.0))
    loss, stats = discriminator_loss(StubD(), real, wrong, fake, c, uncond=0.0, twin_mu=twin)

    def bce(v, y):
        return F.binary_cross_entropy_with_logits(torch.tensor(v), torch.tensor(y)).item()

    expected = bce(1.0, 1.) + (bce(-0.5, 0.) + bce(1.5, 0.)) / 2 + bce(2.0, 0.)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert stats["d_twin"] == pytest.approx(torch.sigmoid(torch.tensor(1.5)).item())
    model = tiny().eval()
    sentence = torch.randn(2, model.text_dim)
    _, mu, _ = model(torch.randn(2, model.z_dim), sentence, torch.zeros(2, model.c_dim))
    assert torch.allclose(model.condition_mean(sentence), mu)


def test_colour_consistency_on_known_images():
    n, s = 2, 8
    coarse = torch.zeros(n, 3, s, s)
    fine = torch.zeros(n, 3, s, s)
    fine[:, 0, : s // 2] = 1.0   # channel 0: half the pixels +1, half -1 -> mean 0, variance 1
    fine[:, 0, s // 2:] = -1.0
    fine[:, 2] = 0.5             # channel 2: constant 0.5 -> mean 0.5, no variance
    mu, cov = compute_mean_covariance(fine)
    assert torch.allclose(mu.flatten(1), torch.tensor([[0.0, 0.0, 0.5]] * n))
    assert torch.allclose(cov, torch.diag(torch.tensor([1.0, 0.0, 0.0])).expand(n, 3, 3))
    # lambda_1 * mean over (n, 3) of squared mean differences + lambda_2 * mean over (n, 3, 3)
    assert color_consistency(fine, coarse, 1.0, 5.0).item() == pytest.approx(0.25 / 3 + 5 * 1 / 9)
    fine.requires_grad_(True)
    coarse.requires_grad_(True)
    color_consistency(fine, coarse).backward()
    assert fine.grad.abs().sum() > 0 and coarse.grad is None  # only the finer branch is pulled


def test_generator_loss_adds_the_ca_kl_term_and_the_colour_regulariser():
    model = tiny().train()
    discs = model.make_discriminators()
    g = torch.Generator().manual_seed(1)
    fakes, mu, logvar = model(torch.randn(4, model.z_dim, generator=g), features(model, 4).sentence,
                              torch.randn(4, model.c_dim, generator=g))
    base = {**TRAINING, "kl": 0.0, "color": 0.0}
    plain = generator_loss(discs, fakes, mu, logvar, base)[0]
    with_kl = generator_loss(discs, fakes, mu, logvar, {**base, "kl": 2.0})[0]
    with_color = generator_loss(discs, fakes, mu, logvar, {**base, "color": 1.0})[0]
    assert (with_kl - plain).item() == pytest.approx(2.0 * kl_loss(mu, logvar).item(), rel=1e-5)
    expected = sum(color_consistency(fakes[i], fakes[i - 1]) for i in (1, 2)).item()
    assert (with_color - plain).item() == pytest.approx(expected, rel=1e-5)


def test_ca_noise_moves_the_condition_not_its_distribution():
    model = tiny()
    text = features(model, 2)
    z = torch.randn(2, model.z_dim)
    a = model.generate(z, text, eps=torch.zeros(2, model.c_dim))
    b = model.generate(z, text, eps=torch.ones(2, model.c_dim))
    assert torch.equal(a.mu, b.mu) and torch.equal(a.logvar, b.logvar)
    assert not torch.allclose(a.images[-1], b.images[-1])
    again = model.generate(z, text, eps=torch.zeros(2, model.c_dim))
    assert torch.equal(a.images[-1], again.images[-1])


def test_text_scale_multiplies_the_sentence_embedding_before_ca():
    scaled, plain = tiny(seed=4, text_scale=3.0), tiny(seed=4)
    z, text = torch.randn(2, scaled.z_dim), features(scaled, 2)
    eps = torch.randn(2, scaled.c_dim)
    a = scaled.generate(z, text, eps=eps)
    b = plain.generate(z, TextFeatures(words=None, sentence=3.0 * text.sentence), eps=eps)
    assert torch.allclose(a.images[-1], b.images[-1], atol=1e-6) and torch.allclose(a.mu, b.mu, atol=1e-6)


# -- sampling and persistence --------------------------------------------------------------------
def test_sampling_each_stage_is_deterministic_per_sample():
    model = tiny()
    for stage, size in enumerate(model.image_sizes):
        x = model.sample(3, prompt=PROMPTS, generator=5, stage=stage).data
        assert x.shape == (3, 3, size, size)
    a = model.sample(4, prompt=PROMPTS, generator=7).data
    assert torch.equal(a, model.sample(4, prompt=PROMPTS, generator=7).data)
    assert torch.equal(a[:2], model.sample(2, prompt=PROMPTS, generator=7).data)
    assert not torch.equal(a, model.sample(4, prompt=PROMPTS, generator=8).data)
    with pytest.raises(BadInputError, match="stages"):
        model.sample(1, prompt=PROMPTS[0], stage=3)
    with pytest.raises(BadInputError, match="attention"):
        model.sample(1, prompt=PROMPTS[0], attention=True)


def test_out_of_vocabulary_prompt_names_the_word():
    with pytest.raises(BadInputError, match="'dragon'"):
        tiny().sample(1, prompt="a red dragon")


def test_save_and_load_round_trip(tmp_path):
    model = tiny()
    model.save_pretrained(tmp_path / "m")
    loaded = StackGANpp.from_pretrained(str(tmp_path / "m"))
    assert loaded.config == model.config
    assert torch.equal(model.sample(2, prompt=PROMPTS, generator=0).data,
                       loaded.sample(2, prompt=PROMPTS, generator=0).data)


# -- one training step ---------------------------------------------------------------------------
def test_one_step_lowers_each_loss_and_leaves_the_text_encoder_alone():
    torch.manual_seed(0)
    model = tiny().train()
    discs = model.make_discriminators()
    discs.apply(weights_init)
    frozen = {k: v.clone() for k, v in model.text_encoder.state_dict().items()}
    g = torch.Generator().manual_seed(2)
    sizes = model.image_sizes
    real = [torch.rand(8, 3, s, s, generator=g) * 2 - 1 for s in sizes]
    wrong = [torch.rand(8, 3, s, s, generator=g) * 2 - 1 for s in sizes]
    z, eps = torch.randn(8, model.z_dim, generator=g), torch.randn(8, model.c_dim, generator=g)
    sentence = model.encode_prompts(PROMPTS * 4).sentence

    def d_loss():
        fakes, mu, _ = model(z, sentence, eps)
        return sum(discriminator_loss(d, real[k], wrong[k], fakes[k].detach(), mu.detach())[0]
                   for k, d in enumerate(discs))

    def g_loss():
        fakes, mu, logvar = model(z, sentence, eps)
        return generator_loss(discs, fakes, mu, logvar, TRAINING)[0]

    opt_d = torch.optim.Adam(discs.parameters(), lr=1e-3, betas=(0.5, 0.999))
    before = d_loss()
    opt_d.zero_grad()
    before.backward()
    opt_d.step()
    assert d_loss().item() < before.item()

    opt_g = torch.optim.Adam(model.generator_parameters(), lr=1e-3, betas=(0.5, 0.999))
    before = g_loss()
    opt_g.zero_grad()
    before.backward()
    opt_g.step()
    assert g_loss().item() < before.item()
    assert all(torch.equal(v, model.text_encoder.state_dict()[k]) for k, v in frozen.items())


def test_trainer_runs_end_to_end_on_a_few_images():
    from plugins.stackgan_pp.train import train
    from zoo_core.data.shapes import generate

    data = generate("train", n=16)
    model, report = train("tiny", data=(data.images, data.captions), max_steps=2, eval_every=None, log=None)
    assert report["recipe"]["steps"] == 2 and not model.training
    assert set(report["final"]) >= {"loss_d", "loss_g", "color", "kl"}
    assert model.sample(2, prompt=PROMPTS, generator=0).data.shape == (2, 3, 64, 64)


def test_trainer_continues_a_saved_generator_with_its_text_scale(tmp_path):
    from plugins.stackgan_pp.train import train
    from zoo_core.blocks.damsm_model import DAMSMEncoders
    from zoo_core.blocks.t2i_training import sentence_text_scale
    from zoo_core.data.shapes import generate

    data = generate("train", n=16)
    data = (data.images, data.captions)
    torch.manual_seed(0)
    first, _ = train(CONFIGS["tiny"] | {"text_scale": 2.5}, data=data, max_steps=1, eval_every=None, log=None)
    first.save_pretrained(tmp_path / "run")
    again, report = train("tiny", data=data, max_steps=1, seed=1, init_from=str(tmp_path / "run"),
                          eval_every=None, log=None)
    fresh, _ = train("tiny", data=data, max_steps=1, seed=1, eval_every=None, log=None)
    assert again.text_scale == 2.5 and report["recipe"]["warm_start"] == str(tmp_path / "run")
    w = "ca_net.fc.weight"
    near = (again.state_dict()[w] - first.state_dict()[w]).abs().max()
    far = (fresh.state_dict()[w] - first.state_dict()[w]).abs().max()
    assert near < 0.1 * far
    # a DAMSM with the same text encoder keeps the scale; another encoder brings its own
    same = DAMSMEncoders(text_encoder="tiny", image_encoder="tiny")
    same.text_encoder.load_state_dict(first.text_encoder.state_dict())
    kept, _ = train("tiny", data=data, max_steps=1, init_from=str(tmp_path / "run"), damsm=same,
                    eval_every=None, log=None)
    assert kept.text_scale == 2.5
    other = DAMSMEncoders(text_encoder="tiny", image_encoder="tiny")
    moved, _ = train("tiny", data=data, max_steps=1, init_from=str(tmp_path / "run"), damsm=other,
                     eval_every=None, log=None)
    assert moved.text_scale == pytest.approx(sentence_text_scale(other, data[1])) and moved.text_scale != 2.5
    # ... and its weights: the continued generator reads the new encoder, not the source's
    for k, v in other.text_encoder.state_dict().items():
        assert torch.equal(moved.text_encoder.state_dict()[k], v), k


def test_trainer_twin_negatives_kl_weight_and_best_snapshot():
    from plugins.stackgan_pp.train import train
    from zoo_core.data.shapes import generate

    data = generate("train", n=16)
    pair = (data.images, data.captions)
    with pytest.raises(ValueError, match="twin captions"):
        train("tiny", data=pair, max_steps=1, eval_every=None, twin_negatives="d", log=None)
    with pytest.raises(ValueError, match="keep_best needs"):
        train("tiny", data=pair, max_steps=1, eval_every=None, keep_best=True, log=None)
    twins = [list(reversed(c)) for c in data.captions[1:] + data.captions[:1]]
    _, report = train("tiny", data=(*pair, twins), max_steps=2, eval_every=None, twin_negatives="d",
                      twin_kinds="swap", kl_coeff=0.1, uncond=0.25, log=None)
    assert "CA KL weight 0.1," in report["recipe"]["objective"]
    assert report["recipe"]["objective"].endswith("unconditional weight 0.25")
    with pytest.raises(ValueError, match="uncond must be 0 or more"):
        train("tiny", data=pair, max_steps=1, eval_every=None, uncond=-1, log=None)
    assert report["recipe"]["hard_negatives"].endswith("twins: swap")
    assert 0.0 < report["history"][-1]["d_twin"] < 1.0

    class Scores:  # a stand-in classifier whose mean attribute accuracy peaks at the second check
        calls = 0

        def caption_accuracy(self, images, prompts):
            Scores.calls += 1
            return {"caption_accuracy": 0.0, "caption_accuracy_colour0": [0.2, 0.9, 0.1, 0.3][Scores.calls - 1]}

    _, report = train("tiny", data=pair, max_steps=3, eval_every=1, eval_prompts=2, classifier=Scores(),
                      keep_best=True, log=None)
    assert report["recipe"]["snapshot"].startswith("the averaged weights at step 2, best mean attribute accuracy (0.9000)")
