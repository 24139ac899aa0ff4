"""Function-preserving widening (zoo_core.blocks.widen) and the StackGAN++ tree made wider."""
from __future__ import annotations

import pytest
import torch

from plugins.stackgan_pp.config import CONFIGS
from plugins.stackgan_pp.model import StackGANpp, weights_init
from plugins.stackgan_pp.widen import widen
from zoo_core.blocks.widen import ChannelMap, widen_columns, widen_rows


def test_rows_follow_the_map_and_glu_blocks():
    t = torch.arange(4.0)
    assert widen_rows(t, ChannelMap.copies(4, 2)).tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    assert widen_rows(t, ChannelMap.copies(2, 2), glu=True).tolist() == [0, 1, 0, 1, 2, 3, 2, 3]
    half = ChannelMap.copies(4, 2, scale=0.5)
    assert widen_rows(t, half, scaled=True).tolist() == [0, 0.5, 1, 1.5, 0, 0.5, 1, 1.5]
    with pytest.raises(ValueError, match="GLU"):
        widen_rows(t, ChannelMap.copies(2, 2, scale=0.5), glu=True)
    with pytest.raises(ValueError, match="narrow channels"):
        widen_rows(torch.arange(3.0), ChannelMap.copies(4, 2))


def test_columns_read_the_copies_as_the_old_layer_read_the_originals():
    g = torch.Generator().manual_seed(0)
    w, x, cond = torch.randn(5, 2 + 3), torch.randn(3), torch.randn(2)
    # features copied three times, the first copy at half scale; a kept condition in front
    fmap = ChannelMap(torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2]), torch.tensor([0.5] * 3 + [1.0] * 6), 3)
    wide_w = widen_columns(w, fmap, keep=2, noise=0.5, generator=g)
    wide_x = torch.cat([cond, fmap.scale * x[fmap.source]])
    torch.testing.assert_close(wide_w @ wide_x, w @ torch.cat([cond, x]), atol=1e-5, rtol=0)
    assert torch.equal(wide_w[:, :2], w[:, :2])
    assert not torch.allclose(wide_w[:, 5:8], wide_w[:, 8:])  # the noise makes the copies differ
    plain = widen_columns(w[:, 2:], ChannelMap.copies(3, 2))
    assert torch.equal(plain, torch.cat([w[:, 2:] / 2, w[:, 2:] / 2], 1))
    cat = ChannelMap.copies(2, 2) + ChannelMap.copies(3, 2, scale=0.5)
    assert cat.narrow == 5 and cat.source.tolist() == [0, 1, 0, 1, 2, 3, 4, 2, 3, 4] and len(cat) == 10


def _trained_looking(r_num: int) -> StackGANpp:
    torch.manual_seed(0)
    model = StackGANpp(**{**CONFIGS["tiny"], "r_num": r_num})
    for name, child in model.named_children():
        if name != "text_encoder":
            child.apply(weights_init)
    for m in model.modules():  # batch-norm statistics away from (0, 1), so eval mode is exercised
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return model


@pytest.mark.parametrize("factor,r_num", [(2, 1), (3, 2)])
def test_widened_tree_draws_the_same_images(factor, r_num):
    model = _trained_looking(r_num)
    wide = widen(model, factor=factor)
    assert wide.gf_dim == model.gf_dim * factor and wide.config["gf_dim"] == model.gf_dim * factor
    assert wide.num_generator_parameters() > 2 * model.num_generator_parameters()
    z, s, e = torch.randn(6, model.z_dim), torch.randn(6, model.text_dim), torch.randn(6, model.c_dim)
    for mode in ("eval", "train"):
        getattr(model, mode)()
        getattr(wide, mode)()
        with torch.no_grad():
            narrow_images, mu, _ = model(z, s, e)
            wide_images, wide_mu, _ = wide(z, s, e)
        torch.testing.assert_close(wide_mu, mu)
        for a, b in zip(narrow_images, wide_images):
            torch.testing.assert_close(b, a, atol=1e-4, rtol=0)


def test_widened_copies_learn_apart():
    wide = widen(_trained_looking(1), factor=2).train()
    images, _, _ = wide(torch.randn(8, wide.z_dim), torch.randn(8, wide.text_dim), torch.randn(8, wide.c_dim))
    images[-1].pow(2).mean().backward()
    grad = wide.h_net3.upsample[1].weight.grad  # feeds a GLU: values [a, a], then gates
    half = grad.shape[0] // 4
    assert not torch.allclose(grad[:half], grad[half:2 * half])


def test_widen_refuses_a_bad_factor():
    with pytest.raises(ValueError, match="factor"):
        widen(_trained_looking(1), factor=0)


def test_trainer_continues_a_widened_tree_at_its_width(tmp_path):
    from plugins.stackgan_pp.train import train
    from zoo_core.data.shapes import generate

    data = generate("train", n=16)
    pair = (data.images, data.captions)
    state = tmp_path / "disc.safetensors"
    first, _ = train("tiny", data=pair, max_steps=1, eval_every=None, disc_state=state, log=None)
    widen(first).save_pretrained(tmp_path / "wide")
    lines: list[str] = []
    # the narrow tree's discriminators continue; only the generator's moments start fresh
    again, _ = train("tiny", data=pair, max_steps=1, init_from=str(tmp_path / "wide"), eval_every=None,
                     disc_state=state, log=lines.append)
    assert again.gf_dim == 2 * CONFIGS["tiny"]["gf_dim"]
    assert any("gf_dim" in line for line in lines)
    assert any("continued from" in line and "moments start fresh" in line for line in lines)


@pytest.mark.parametrize("family", ["attngan", "mirrorgan"])
@pytest.mark.parametrize("factor,r_num", [(2, 1), (3, 2)])
def test_widened_attentional_generator_draws_the_same_images_and_attention(family, factor, r_num):
    from zoo_core.blocks.attn_widen import widen_attentional

    if family == "attngan":
        from plugins.attngan.config import CONFIGS as ATTN
        from plugins.attngan.model import AttnGAN as cls
    else:
        from plugins.mirrorgan.config import CONFIGS as ATTN
        from plugins.mirrorgan.model import MirrorGAN as cls
    torch.manual_seed(0)
    model = cls(**{**ATTN["tiny"], "r_num": r_num, "branch_num": 3, "init_size": 16})
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    wide = widen_attentional(model, factor=factor)
    assert type(wide) is cls and wide.ngf == model.ngf * factor
    text = model.encode_prompts(["a big red circle above a small blue square", "a green star"] * 3)
    z, eps = torch.randn(6, model.z_dim), torch.randn(6, model.c_dim)
    for mode in ("eval", "train"):
        for m in (model, wide):
            getattr(m.generator_modules(), mode)()
        with torch.no_grad():
            a = model.generate(z, text, eps, attention=True)
            b = wide.generate(z, text, eps, attention=True)
        for x, y in zip(a.images, b.images):
            torch.testing.assert_close(y, x, atol=1e-4, rtol=0)
        for x, y in zip(a.attention, b.attention):
            torch.testing.assert_close(y, x, atol=1e-5, rtol=0)


def test_attngan_trainer_continues_a_narrower_generator_widened(attngan_tiny_run):
    from plugins.attngan.config import TINY
    from plugins.attngan.train import train
    from zoo_core.errors import BadInputError

    run = attngan_tiny_run
    lines: list[str] = []
    wide, _ = train("tiny", steps=1, data=run.data, damsm=run.damsm, init_from=run.folder, ngf=2 * TINY["ngf"],
                    disc_state=str(run.state), log=lines.append)  # the discriminators do not depend on ngf
    assert wide.ngf == 2 * TINY["ngf"] and any("widening" in line for line in lines)
    with pytest.raises(BadInputError, match="not a multiple"):
        train("tiny", steps=1, data=run.data, damsm=run.damsm, init_from=run.folder, ngf=TINY["ngf"] + 1, log=None)
