"""Function-preserving widening (zoo_core.blocks.widen) and the StackGAN++ tree made wider."""
from __future__ import annotations

import pytest
import torch

from plugins.stackgan_pp.config import CONFIGS
from plugins.stackgan_pp.model import StackGANpp, weights_init
from plugins.stackgan_pp.widen import widen
from zoo_core.blocks.widen import repeat_rows, split_columns


def test_repeat_rows_copies_each_block_in_place():
    t = torch.arange(4.0)
    assert repeat_rows(t, 2).tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    assert repeat_rows(t, 2, blocks=2).tolist() == [0, 1, 0, 1, 2, 3, 2, 3]
    with pytest.raises(ValueError, match="blocks"):
        repeat_rows(torch.arange(3.0), 2, blocks=2)


def test_split_columns_shares_sum_to_the_old_weight():
    w = torch.randn(5, 2 + 3, 3, 3)
    g = torch.Generator().manual_seed(0)
    s = split_columns(w, 3, keep=2, noise=0.5, generator=g)
    assert s.shape == (5, 2 + 9, 3, 3)
    assert torch.equal(s[:, :2], w[:, :2])
    parts = s[:, 2:].split(3, dim=1)
    torch.testing.assert_close(sum(parts), w[:, 2:], atol=1e-5, rtol=0)
    assert not torch.allclose(parts[0], parts[1])  # the noise makes the copies differ
    plain = split_columns(w, 2)  # keep=0: every input channel is copied
    assert torch.equal(plain[:, :5], w / 2) and torch.equal(plain[:, 5:], w / 2)


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
    first, _ = train("tiny", data=pair, max_steps=1, eval_every=None, log=None)
    widen(first).save_pretrained(tmp_path / "wide")
    lines: list[str] = []
    again, _ = train("tiny", data=pair, max_steps=1, init_from=str(tmp_path / "wide"), eval_every=None,
                     log=lines.append)
    assert again.gf_dim == 2 * CONFIGS["tiny"]["gf_dim"]
    assert any("gf_dim" in line for line in lines)
