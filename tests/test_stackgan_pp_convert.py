"""StackGAN++ converter: an original G_NET (reference copy with the originals' key names,
saved from DataParallel, before num_batches_tracked) converts and generates the same images."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch import nn

from plugins.stackgan_pp.config import CONFIGS
from plugins.stackgan_pp.model import StackGANpp
from zoo_core.blocks.text_to_image import TextFeatures
from zoo_core.errors import BadInputError, ZooError

from .original_layouts import CA_NET, GET_IMAGE_G, GLU, INIT_STAGE_G, ResBlock, conv3x3, upBlock


# -- converter ----------------------------------------------------------------------------------
class RefNEXT_STAGE_G(nn.Module):
    def __init__(self, ngf, efg, num_residual):
        super().__init__()
        self.ef_dim = efg
        self.jointConv = nn.Sequential(conv3x3(ngf + efg, ngf * 2), nn.BatchNorm2d(ngf * 2), GLU())
        self.residual = nn.Sequential(*[ResBlock(ngf) for _ in range(num_residual)])
        self.upsample = upBlock(ngf, ngf // 2)

    def forward(self, h_code, c_code):
        s = h_code.size(2)
        c = c_code.view(-1, self.ef_dim, 1, 1).repeat(1, 1, s, s)
        return self.upsample(self.residual(self.jointConv(torch.cat((c, h_code), 1))))


class RefG_NET(nn.Module):
    """hanzhanggit/StackGAN-v2 G_NET with B_CONDITION and BRANCH_NUM 3, at given sizes."""

    def __init__(self, gf_dim, z_dim, ef_dim, t_dim, r_num):
        super().__init__()
        self.ca_net = CA_NET(t_dim, ef_dim)
        self.h_net1 = INIT_STAGE_G(gf_dim * 16, z_dim + ef_dim)
        self.img_net1 = GET_IMAGE_G(gf_dim)
        self.h_net2 = RefNEXT_STAGE_G(gf_dim, ef_dim, r_num)
        self.img_net2 = GET_IMAGE_G(gf_dim // 2)
        self.h_net3 = RefNEXT_STAGE_G(gf_dim // 2, ef_dim, r_num)
        self.img_net3 = GET_IMAGE_G(gf_dim // 4)

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
