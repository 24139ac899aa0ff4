"""StackGAN plugin: sizes, both stages, conditioning augmentation, the matching-aware losses,
Stage-I fixed while Stage-II trains, persistence, seeded sampling, prompts, and the converter
(an original STAGE2_G state dict reproduces the original forward)."""
from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from plugins.stackgan.config import PAPER_BIRDS, SMALL, TINY
from plugins.stackgan.model import StackGAN
from plugins.stackgan.losses import discriminator_loss, generator_loss
from zoo_core.blocks.conditioning import kl_loss
from zoo_core.blocks.text_to_image import TextFeatures
from zoo_core.errors import BadInputError

from .original_layouts import conv3x3

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is fastest


def tiny(**kw) -> StackGAN:
    torch.manual_seed(0)
    return StackGAN(**{**TINY, **kw}).eval()


# -- the original's layout, written out for the parameter count and the converter test ------------
def original_generator_params(t_dim: int, c: int, z: int, gf: int, r_num: int) -> int:
    """STAGE2_G with its STAGE1_G (hanzhanggit/StackGAN-Pytorch code/model.py) from the layer
    sizes: CA fc with bias, bias-free convolutions and fc, batch norm scale + shift."""
    ca = t_dim * 2 * c + 2 * c
    s1 = gf * 8
    stage1 = ca + (z + c) * s1 * 16 + 2 * s1 * 16
    w = s1
    for _ in range(4):  # upBlocks to 64x64
        stage1 += w * (w // 2) * 9 + 2 * (w // 2)
        w //= 2
    stage1 += w * 3 * 9
    stage2 = ca + 3 * gf * 9 + gf * 2 * gf * 16 + 2 * 2 * gf + 2 * gf * 4 * gf * 16 + 2 * 4 * gf
    stage2 += (c + 4 * gf) * 4 * gf * 9 + 2 * 4 * gf  # hr_joint
    stage2 += r_num * 2 * (4 * gf * 4 * gf * 9 + 2 * 4 * gf)  # residual blocks
    w = 4 * gf
    for _ in range(4):  # upBlocks to 256x256
        stage2 += w * (w // 2) * 9 + 2 * (w // 2)
        w //= 2
    return stage1 + stage2 + w * 3 * 9


def test_paper_config_parameter_count():
    model = StackGAN(**PAPER_BIRDS)
    expected = original_generator_params(1024, 128, 100, 192, 2)
    assert model.num_parameters() == expected
    assert (model.stage1_size, model.image_size, model.text_dim) == (64, 256, 1024)


def test_plugin_registration_does_not_import_torch():
    code = ("import sys, plugins.stackgan as p; f = p.zoo_families()[0]; "
            "assert 'torch' not in sys.modules, 'torch imported'; print(f.name, f.converter)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["stackgan", "plugins.stackgan.convert:convert"]


@pytest.mark.parametrize("cfg", [TINY, SMALL], ids=["tiny", "small"])
def test_generate_shapes_of_both_stages(cfg):
    torch.manual_seed(0)
    model = StackGAN(**cfg).eval()
    text = model.encode_prompts(["a big red circle", "a small blue square above a yellow triangle"])
    out = model.generate(torch.randn(2, model.z_dim), text, torch.randn(2, model.c_dim))
    s1, s2 = cfg["stage1_size"], cfg["image_size"]
    assert [tuple(i.shape) for i in out.images] == [(2, 3, s1, s1), (2, 3, s2, s2)]
    assert all(i.abs().max() <= 1 for i in out.images)
    assert out.mu.shape == out.logvar.shape == (2, cfg["condition_dim"])


def test_conditioning_augmentation_and_kl():
    model = tiny()
    sentence = torch.randn(3, model.text_dim)
    c, mu, logvar = model.ca_net(sentence, torch.zeros(3, model.condition_dim))
    assert torch.equal(c, mu)  # eps = 0 gives the mean
    assert model.ca_net.fc.out_features == 2 * model.condition_dim  # glu=False: fc to 2 c_dim, ReLU
    assert (mu >= 0).all() and (logvar >= 0).all()  # StackGAN's CA applies a ReLU to both
    eps = torch.randn(3, model.condition_dim)
    c2, _, _ = model.ca_net(sentence, eps)
    assert torch.allclose(c2, mu + eps * torch.exp(0.5 * logvar))
    closed_form = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).mean()
    assert torch.allclose(kl_loss(mu, logvar), closed_form)
    # the sampler's CA noise changes the image for the same z and prompt
    text = model.encode_prompts(["a red circle"] * 2)
    z = torch.randn(1, model.z_dim).expand(2, -1)
    out = model.generate(z, text, torch.randn(2, model.c_dim)).images[-1]
    assert not torch.allclose(out[0], out[1])


def test_matching_aware_discriminator_loss_on_known_scores():
    model = tiny()
    _, disc = model.make_discriminators()
    disc.eval()
    real = torch.rand(4, 3, 32, 32) * 2 - 1
    fake = torch.rand(4, 3, 32, 32) * 2 - 1
    mu = torch.randn(4, model.condition_dim)
    loss, _ = discriminator_loss(disc, real, fake, mu)
    f_real, f_fake = disc(real), disc(fake)
    bce = F.binary_cross_entropy_with_logits
    cond = disc.get_cond_logits
    s_real, s_wrong, s_fake = cond(f_real, mu), cond(f_real[:-1], mu[1:]), cond(f_fake, mu)
    u_real, u_fake = disc.get_uncond_logits(f_real), disc.get_uncond_logits(f_fake)
    err_real = (bce(s_real, torch.ones(4)) + bce(u_real, torch.ones(4))) / 2
    err_fake = (bce(s_fake, torch.zeros(4)) + bce(u_fake, torch.zeros(4))) / 2
    err_wrong = bce(s_wrong, torch.zeros(3))
    assert torch.allclose(loss, err_real + 0.5 * (err_fake + err_wrong))
    # the conditional head reads the condition: another mu, another score for the same image
    assert not torch.allclose(cond(f_real, mu), cond(f_real, mu.roll(1, 0)))


def test_stage2_step_leaves_stage1_fixed():
    model = tiny()
    model.train()
    _, disc2 = model.make_discriminators()
    text = model.encode_prompts(["a red circle", "a blue square at the top", "a green star", "a big pink cross"])
    z, eps = torch.randn(4, model.z_dim), torch.randn(4, model.c_dim)
    eps1, eps2 = model.split_eps(eps)
    with torch.no_grad():
        low, _, _ = model.stage1(z, text.sentence, eps1)
    before1 = {k: v.clone() for k, v in model.STAGE1_G.state_dict().items()}
    before2 = {k: v.clone() for k, v in model.hr_joint.state_dict().items()}
    params = [p for m in model.stage2_modules() for p in m.parameters()]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=1e-2)
    fake, mu, logvar = model.stage2(low, text.sentence, eps2)
    loss = generator_loss(disc2, fake, mu)[0] + 2.0 * kl_loss(mu, logvar)
    loss.backward()
    opt.step()
    assert all(p.grad is None for p in model.STAGE1_G.parameters())
    assert all(torch.equal(v, model.STAGE1_G.state_dict()[k]) for k, v in before1.items() if "running" not in k)
    assert not torch.equal(before2["0.weight"], model.hr_joint[0].weight)


def test_text_scale_multiplies_the_sentence_before_both_ca_nets():
    scaled, plain = tiny(text_scale=4.0), tiny()
    z, sentence, eps = torch.randn(2, scaled.z_dim), torch.randn(2, scaled.text_dim), torch.randn(2, scaled.c_dim)
    a = scaled(z, sentence, eps)
    b = plain(z, 4.0 * sentence, eps)
    assert all(torch.allclose(x, y, atol=1e-6) for x, y in zip(a, b))
    assert not torch.allclose(a[1], plain(z, sentence, eps)[1])


def test_save_load_round_trip(tmp_path):
    model = tiny()
    model.save_pretrained(tmp_path / "m")
    loaded = StackGAN.from_pretrained(str(tmp_path / "m")).eval()
    a = model.sample(3, prompt="a small red circle", generator=5).data
    b = loaded.sample(3, prompt="a small red circle", generator=5).data
    assert torch.equal(a, b)


def test_seeded_sampling_and_stage_option():
    model = tiny()
    prompts = ["a big red circle", "a small blue square above a yellow triangle"]
    a = model.sample(20, prompt=prompts, generator=3).data
    b = model.sample(4, prompt=prompts, generator=3).data
    assert torch.equal(a[:4], b)
    assert not torch.equal(a[0], a[2])  # same prompt, other noise
    s0 = model.sample(2, prompt=prompts, generator=3, stage=0).data
    assert s0.shape[-1] == TINY["stage1_size"] and a.shape[-1] == TINY["image_size"]


def test_out_of_vocabulary_prompt_names_the_word():
    model = tiny()
    with pytest.raises(BadInputError, match="'zebra'"):
        model.sample(2, prompt="a red zebra above a blue square", generator=0)


# -- converter --------------------------------------------------------------------------------------
def _ref_upblock(i, o):
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv3x3(i, o), nn.BatchNorm2d(o), nn.ReLU(True))


class RefResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.block = nn.Sequential(conv3x3(c, c), nn.BatchNorm2d(c), nn.ReLU(True), conv3x3(c, c), nn.BatchNorm2d(c))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.block(x) + x)


class RefCA_NET(nn.Module):
    """The original CA_NET; eps comes from the test's queue instead of torch's global RNG."""

    def __init__(self, cfg, eps_queue):
        super().__init__()
        self.t_dim, self.c_dim, self.eps_queue = cfg.TEXT_DIMENSION, cfg.CONDITION_DIM, eps_queue
        self.fc = nn.Linear(self.t_dim, self.c_dim * 2, bias=True)
        self.relu = nn.ReLU()

    def forward(self, text_embedding):
        x = self.relu(self.fc(text_embedding))
        mu, logvar = x[:, :self.c_dim], x[:, self.c_dim:]
        std = logvar.mul(0.5).exp_()
        return self.eps_queue.pop(0).mul(std).add_(mu), mu, logvar


class RefSTAGE1_G(nn.Module):
    def __init__(self, cfg, q):
        super().__init__()
        self.gf_dim, self.ef_dim = cfg.GF_DIM * 8, cfg.CONDITION_DIM
        ngf = self.gf_dim
        self.ca_net = RefCA_NET(cfg, q)
        self.fc = nn.Sequential(nn.Linear(cfg.Z_DIM + self.ef_dim, ngf * 16, bias=False), nn.BatchNorm1d(ngf * 16), nn.ReLU(True))
        self.upsample1 = _ref_upblock(ngf, ngf // 2)
        self.upsample2 = _ref_upblock(ngf // 2, ngf // 4)
        self.upsample3 = _ref_upblock(ngf // 4, ngf // 8)
        self.upsample4 = _ref_upblock(ngf // 8, ngf // 16)
        self.img = nn.Sequential(conv3x3(ngf // 16, 3), nn.Tanh())

    def forward(self, text_embedding, noise):
        c_code, mu, logvar = self.ca_net(text_embedding)
        h = self.fc(torch.cat((noise, c_code), 1)).view(-1, self.gf_dim, 4, 4)
        h = self.upsample4(self.upsample3(self.upsample2(self.upsample1(h))))
        return None, self.img(h), mu, logvar


class RefSTAGE2_G(nn.Module):
    def __init__(self, cfg, q):
        super().__init__()
        ngf = self.gf_dim = cfg.GF_DIM
        self.ef_dim = cfg.CONDITION_DIM
        self.STAGE1_G = RefSTAGE1_G(cfg, q)
        self.ca_net = RefCA_NET(cfg, q)
        self.encoder = nn.Sequential(
            conv3x3(3, ngf), nn.ReLU(True),
            nn.Conv2d(ngf, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.Conv2d(ngf * 2, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True))
        self.hr_joint = nn.Sequential(conv3x3(self.ef_dim + ngf * 4, ngf * 4), nn.BatchNorm2d(ngf * 4), nn.ReLU(True))
        self.residual = nn.Sequential(*[RefResBlock(ngf * 4) for _ in range(cfg.R_NUM)])
        self.upsample1 = _ref_upblock(ngf * 4, ngf * 2)
        self.upsample2 = _ref_upblock(ngf * 2, ngf)
        self.upsample3 = _ref_upblock(ngf, ngf // 2)
        self.upsample4 = _ref_upblock(ngf // 2, ngf // 4)
        self.img = nn.Sequential(conv3x3(ngf // 4, 3), nn.Tanh())

    def forward(self, text_embedding, noise):
        _, stage1_img, _, _ = self.STAGE1_G(text_embedding, noise)
        encoded = self.encoder(stage1_img.detach())
        c_code, mu, logvar = self.ca_net(text_embedding)
        c_code = c_code.view(-1, self.ef_dim, 1, 1).repeat(1, 1, 16, 16)
        h = self.residual(self.hr_joint(torch.cat([encoded, c_code], 1)))
        h = self.upsample4(self.upsample3(self.upsample2(self.upsample1(h))))
        return stage1_img, self.img(h), mu, logvar


REF_CFG = SimpleNamespace(TEXT_DIMENSION=24, CONDITION_DIM=6, Z_DIM=10, GF_DIM=8, R_NUM=2)


def _reference(tmp_path):
    torch.manual_seed(1)
    queue: list[torch.Tensor] = []
    ref = RefSTAGE2_G(REF_CFG, queue)
    for m in ref.modules():  # non-trivial batch-norm statistics and affine terms
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    ref.eval()
    state = {k: v for k, v in ref.state_dict().items() if not k.endswith("num_batches_tracked")}  # a pre-0.4 file
    path = tmp_path / "netG_epoch_600.pth"
    torch.save({f"module.{k}": v for k, v in state.items()}, path)  # saved from DataParallel
    return ref, queue, path


def test_converter_reproduces_the_original_forward(tmp_path, capsys):
    from zoo_core.cli import main

    ref, queue, ckpt = _reference(tmp_path)
    out = tmp_path / "converted"
    assert main(["convert", "stackgan", str(ckpt), "--config", "paper-birds", "-o", str(out), "-q"]) == 0
    model = StackGAN.from_pretrained(str(out)).eval()
    assert (model.stage1_size, model.image_size, model.text_encoder) == (64, 256, None)

    n = 3
    noise, sentence = torch.randn(n, REF_CFG.Z_DIM), torch.randn(n, REF_CFG.TEXT_DIMENSION)
    eps1, eps2 = torch.randn(n, REF_CFG.CONDITION_DIM), torch.randn(n, REF_CFG.CONDITION_DIM)
    queue[:] = [eps1.clone(), eps2.clone()]  # Stage-I's CA draws first, then Stage-II's
    with torch.no_grad():
        ref1, ref2, ref_mu, ref_logvar = ref(sentence, noise)
        got = model.generate(noise, TextFeatures(words=None, sentence=sentence), torch.cat((eps1, eps2), 1))
    assert torch.allclose(got.images[0], ref1, atol=1e-5)
    assert torch.allclose(got.images[1], ref2, atol=1e-5)
    assert torch.allclose(got.mu, ref_mu, atol=1e-6) and torch.allclose(got.logvar, ref_logvar, atol=1e-6)

    # the converted folder samples from sentence embeddings
    emb = tmp_path / "emb.npy"
    np.save(emb, np.random.default_rng(0).standard_normal((2, REF_CFG.TEXT_DIMENSION)).astype(np.float32))
    png = tmp_path / "x.png"
    capsys.readouterr()
    assert main(["sample", str(out), "--embeddings", str(emb), "-n", "2", "-o", str(png), "-q"]) == 0
    assert png.stat().st_size > 0


def test_converter_with_a_damsm_text_encoder(tmp_path, capsys):
    from zoo_core.blocks.text_encoder import RNNEncoder
    from zoo_core.blocks.vocab import Vocabulary
    from zoo_core.cli import main

    _, _, ckpt = _reference(tmp_path)
    vocab = Vocabulary.for_shapes()
    encoder = RNNEncoder(len(vocab), ninput=8, nhidden=REF_CFG.TEXT_DIMENSION, drop_prob=0.5)
    te = tmp_path / "text_encoder200.pth"
    torch.save(encoder.state_dict(), te)
    caps = tmp_path / "captions.pickle"
    ixtoword = dict(enumerate(vocab.to_list()))
    caps.write_bytes(pickle.dumps([[[1, 2]], [[3]], ixtoword, {w: i for i, w in ixtoword.items()}], protocol=2))
    out = tmp_path / "with-encoder"
    assert main(["convert", "stackgan", str(ckpt), "--text-encoder", str(te), "--captions", str(caps),
                 "--config", "paper-birds", "-o", str(out), "-q"]) == 0
    model = StackGAN.from_pretrained(str(out)).eval()
    assert torch.equal(model.text_encoder.encoder.weight, encoder.encoder.weight)
    png = tmp_path / "y.png"
    capsys.readouterr()
    assert main(["sample", str(out), "--prompt", "a red circle", "-n", "2", "-o", str(png), "-q"]) == 0
    # an encoder whose features do not fit the generator is refused with a clear message
    small = tmp_path / "small_encoder.pth"
    torch.save(RNNEncoder(len(vocab), ninput=8, nhidden=16).state_dict(), small)
    code = main(["convert", "stackgan", str(ckpt), "--text-encoder", str(small), "--captions", str(caps),
                 "-o", str(tmp_path / "bad"), "-q"])
    assert code != 0 and "16-value" in capsys.readouterr().err
