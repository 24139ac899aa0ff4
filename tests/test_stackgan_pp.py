"""StackGAN++ (plugins/stackgan_pp): the generator tree, its discriminators and losses, sampling,
persistence, the converter from the original's netG and a training step, on tiny configs."""
from __future__ import annotations

import pickle

import numpy as np
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
from zoo_core.errors import BadInputError, ZooError

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
    a, b = d(x, torch.randn(4, 8)), d(x, torch.randn(4, 8))
    assert not torch.allclose(a[0], b[0]) and torch.equal(a[1], b[1])


class StubD(nn.Module):
    """Scores an image by its first pixel: cond = v + c.sum(), uncond = 2v."""

    def forward(self, x, c):
        v = x[:, 0, 0, 0]
        return [v + c.sum(1), 2 * v]


def test_joint_discriminator_loss_labels_mismatched_pairs_fake_but_their_images_real():
    n, c = 3, torch.zeros(3, 2)
    real, wrong, fake = (torch.full((n, 3, 4, 4), v) for v in (1.0, -0.5, 2.0))
    loss, _ = discriminator_loss(StubD(), real, wrong, fake, c, uncond=0.7)

    def bce(v, y):
        return F.binary_cross_entropy_with_logits(torch.tensor(v), torch.tensor(y)).item()

    expected = (bce(1.0, 1.) + bce(-0.5, 0.) + bce(2.0, 0.)
                + 0.7 * (bce(2.0, 1.) + bce(-1.0, 1.) + bce(4.0, 0.)))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


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


# -- converter ----------------------------------------------------------------------------------
class RefGLU(nn.Module):
    def forward(self, x):
        nc = x.size(1) // 2
        return x[:, :nc] * torch.sigmoid(x[:, nc:])


def ref_conv3x3(i, o):
    return nn.Conv2d(i, o, 3, 1, 1, bias=False)


def ref_upBlock(i, o):
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), ref_conv3x3(i, o * 2),
                         nn.BatchNorm2d(o * 2), RefGLU())


class RefResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.block = nn.Sequential(ref_conv3x3(c, c * 2), nn.BatchNorm2d(c * 2), RefGLU(),
                                   ref_conv3x3(c, c), nn.BatchNorm2d(c))

    def forward(self, x):
        return self.block(x) + x


class RefCA_NET(nn.Module):
    def __init__(self, t_dim, ef_dim):
        super().__init__()
        self.ef_dim = ef_dim
        self.fc = nn.Linear(t_dim, ef_dim * 4, bias=True)
        self.relu = RefGLU()

    def forward(self, text_embedding, eps):
        x = self.relu(self.fc(text_embedding))
        mu, logvar = x[:, :self.ef_dim], x[:, self.ef_dim:]
        return eps * logvar.mul(0.5).exp() + mu, mu, logvar


class RefINIT_STAGE_G(nn.Module):
    def __init__(self, ngf, in_dim):
        super().__init__()
        self.gf_dim = ngf
        self.fc = nn.Sequential(nn.Linear(in_dim, ngf * 4 * 4 * 2, bias=False), nn.BatchNorm1d(ngf * 4 * 4 * 2), RefGLU())
        self.upsample1 = ref_upBlock(ngf, ngf // 2)
        self.upsample2 = ref_upBlock(ngf // 2, ngf // 4)
        self.upsample3 = ref_upBlock(ngf // 4, ngf // 8)
        self.upsample4 = ref_upBlock(ngf // 8, ngf // 16)

    def forward(self, z_code, c_code):
        out = self.fc(torch.cat((c_code, z_code), 1)).view(-1, self.gf_dim, 4, 4)
        return self.upsample4(self.upsample3(self.upsample2(self.upsample1(out))))


class RefNEXT_STAGE_G(nn.Module):
    def __init__(self, ngf, efg, num_residual):
        super().__init__()
        self.ef_dim = efg
        self.jointConv = nn.Sequential(ref_conv3x3(ngf + efg, ngf * 2), nn.BatchNorm2d(ngf * 2), RefGLU())
        self.residual = nn.Sequential(*[RefResBlock(ngf) for _ in range(num_residual)])
        self.upsample = ref_upBlock(ngf, ngf // 2)

    def forward(self, h_code, c_code):
        s = h_code.size(2)
        c = c_code.view(-1, self.ef_dim, 1, 1).repeat(1, 1, s, s)
        return self.upsample(self.residual(self.jointConv(torch.cat((c, h_code), 1))))


class RefGET_IMAGE_G(nn.Module):
    def __init__(self, ngf):
        super().__init__()
        self.img = nn.Sequential(ref_conv3x3(ngf, 3), nn.Tanh())

    def forward(self, h):
        return self.img(h)


class RefG_NET(nn.Module):
    """hanzhanggit/StackGAN-v2 G_NET with B_CONDITION and BRANCH_NUM 3, at given sizes."""

    def __init__(self, gf_dim, z_dim, ef_dim, t_dim, r_num):
        super().__init__()
        self.ca_net = RefCA_NET(t_dim, ef_dim)
        self.h_net1 = RefINIT_STAGE_G(gf_dim * 16, z_dim + ef_dim)
        self.img_net1 = RefGET_IMAGE_G(gf_dim)
        self.h_net2 = RefNEXT_STAGE_G(gf_dim, ef_dim, r_num)
        self.img_net2 = RefGET_IMAGE_G(gf_dim // 2)
        self.h_net3 = RefNEXT_STAGE_G(gf_dim // 2, ef_dim, r_num)
        self.img_net3 = RefGET_IMAGE_G(gf_dim // 4)

    def forward(self, z_code, text_embedding, eps):
        c_code, mu, logvar = self.ca_net(text_embedding, eps)
        h1 = self.h_net1(z_code, c_code)
        h2 = self.h_net2(h1, c_code)
        h3 = self.h_net3(h2, c_code)
        return [self.img_net1(h1), self.img_net2(h2), self.img_net3(h3)], mu, logvar


@pytest.fixture
def original_checkpoint(tmp_path):
    """A netG_*.pth as the original wrote it: DataParallel keys, no num_batches_tracked."""
    cfg = CONFIGS["paper-tiny"]
    torch.manual_seed(3)
    ref = RefG_NET(cfg["gf_dim"], cfg["z_dim"], cfg["c_dim"], cfg["text_dim"], cfg["r_num"])
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):  # non-trivial eval statistics
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    state = {f"module.{k}": v for k, v in ref.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "netG_210000.pth"
    torch.save(state, path)
    return ref.eval(), path, cfg


def run_cli(capsys, *args):
    from zoo_core.cli import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_converted_original_generates_the_same_images(original_checkpoint, tmp_path, capsys):
    ref, path, cfg = original_checkpoint
    out_dir = tmp_path / "converted"
    code, _, err = run_cli(capsys, "convert", "stackgan-pp", path, "--config", "paper-tiny", "-o", out_dir)
    assert code == 0, err
    model = StackGANpp.from_pretrained(str(out_dir)).eval()
    assert model.text_encoder is None and model.text_dim == cfg["text_dim"]
    g = torch.Generator().manual_seed(0)
    z = torch.randn(3, cfg["z_dim"], generator=g)
    sent = torch.randn(3, cfg["text_dim"], generator=g)
    eps = torch.randn(3, cfg["c_dim"], generator=g)
    with torch.no_grad():
        want, mu, logvar = ref(z, sent, eps)
        got = model.generate(z, TextFeatures(words=None, sentence=sent), eps=eps)
    assert len(got.images) == 3
    for a, b in zip(got.images, want):
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-5)
    assert torch.allclose(got.mu, mu, atol=1e-5) and torch.allclose(got.logvar, logvar, atol=1e-5)

    emb = tmp_path / "emb.npy"
    np.save(emb, sent.numpy())
    png = tmp_path / "birds.png"
    code, _, err = run_cli(capsys, "sample", out_dir, "--embeddings", emb, "-n", 2, "--stage", 1, "-o", png, "-q")
    assert code == 0 and png.exists(), err
    code, _, err = run_cli(capsys, "sample", out_dir, "--prompt", "a red bird", "-n", 1, "-o", tmp_path / "x.png")
    assert code != 0 and "--embeddings" in err


def test_converter_refuses_a_checkpoint_of_another_config(original_checkpoint):
    from plugins.stackgan_pp.convert import convert

    _, path, _ = original_checkpoint
    with pytest.raises(ZooError, match="--config"):
        convert(path, config="tiny")


def test_converter_with_a_text_encoder_reads_prompts(original_checkpoint, tmp_path):
    from plugins.stackgan_pp.convert import convert
    from zoo_core.blocks.text_encoder import RNNEncoder

    _, path, cfg = original_checkpoint
    words = ["<end>", "a", "red", "bird", "small"]
    enc = RNNEncoder(len(words), ninput=6, nhidden=cfg["text_dim"])
    torch.save(enc.state_dict(), tmp_path / "text_encoder200.pth")
    ixtoword = dict(enumerate(words))
    with open(tmp_path / "captions.pickle", "wb") as f:
        pickle.dump([[[1, 2, 3]], [[1, 4, 3]], ixtoword, {w: i for i, w in ixtoword.items()}], f, protocol=2)
    model = convert(path, config="paper-tiny", text_encoder=str(tmp_path / "text_encoder200.pth"),
                    captions=str(tmp_path / "captions.pickle"))
    assert torch.equal(model.text_encoder.encoder.weight, enc.encoder.weight)
    assert model.sample(2, prompt="a small red bird", generator=0).data.shape == (2, 3, 256, 256)
    with pytest.raises(BadInputError, match="captions"):
        convert(path, config="paper-tiny", text_encoder=str(tmp_path / "text_encoder200.pth"))
