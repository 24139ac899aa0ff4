"""The attentional generator (AttnGAN / MirrorGAN, ``attn_stages``) made ``factor`` times wider
(``ngf``) computing the same images (``widen``): Net2WiderNet by channel copies, so a trained
small generator continues with wider stages instead of training again from scratch.

Every stage's features come as ``factor`` copies. The word attention's projected words come as
copies at 1 / factor, so a region's dot product with a word, summed over the copies, is the old
one, and so are the attention maps; the word context then carries the same 1 / factor, which
the residual blocks keep (their last batch norm is scaled alike) and the up-sampling block
undoes. MirrorGAN's sentence attention (a softmax over channels, which copies divide among
themselves) gives its sentence context at 1 / factor too."""
from __future__ import annotations

import torch

from ..errors import BadInputError
from .attn_stages import AttentionalT2I
from .widen import ChannelMap, Layer, glu_block_rules, init_stage_rules, residual_block_rules, widen_state


def attentional_layers(model: AttentionalT2I, factor: int) -> dict[str, Layer]:
    """The widening rule of every module of ``model``'s generator whose width changes."""
    copies = ChannelMap.copies
    layers: dict[str, Layer] = {}
    h = init_stage_rules(layers, "h_net1", model.h_net1, factor)
    layers["img_net1.img.0"] = Layer(cols=h)
    ngf = model.ngf
    for i in range(2, model.branch_num + 1):
        stage = f"h_net{i}"
        words = copies(ngf, factor, 1.0 / factor)
        layers[f"{stage}.att.conv_context"] = Layer(rows=words)
        x = h + words
        if model.sentence_attention:
            layers[f"{stage}.att.linear"] = Layer(rows=copies(ngf, factor))
            layers[f"{stage}.att.conv_sentence_vis"] = Layer(rows=copies(ngf, factor), cols=copies(ngf, factor))
            x = copies(2 * ngf, factor)
            layers[f"{stage}.conv"] = Layer(rows=x, cols=h + words + copies(ngf, factor, 1.0 / factor))
        for r in range(model.r_num):
            residual_block_rules(layers, f"{stage}.residual.{r}", x, factor)
        h = glu_block_rules(layers, f"{stage}.upsample", x, ngf, factor)
        layers[f"img_net{i}.img.0"] = Layer(cols=h)
    return layers


def widen_attentional(model: AttentionalT2I, factor: int = 2, noise: float = 0.25, seed: int = 0) -> AttentionalT2I:
    """A new model of ``model``'s class with ``ngf * factor`` drawing the same images (eval mode,
    and train mode for the same batch); the CA net and the text encoder are copied as they are."""
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be a whole number >= 1, got {factor!r}")
    config = {k: v for k, v in model.config.items() if k != "zoo_family"}
    config["ngf"] = model.ngf * factor
    wide = type(model)(**config)
    gen = torch.Generator().manual_seed(seed)
    wide.load_state_dict(widen_state(model.state_dict(), wide.state_dict(), attentional_layers(model, factor),
                                     noise=noise, generator=gen))
    return wide.to(model.device)


def widened_to(model: AttentionalT2I, ngf: int) -> AttentionalT2I:
    """``model`` itself if its stages are ``ngf`` wide, else widened to ``ngf`` (a multiple of its
    width): how a trainer continues a saved generator at a larger ``ngf``."""
    if ngf == model.ngf:
        return model
    if ngf < model.ngf or ngf % model.ngf:
        raise BadInputError(f"ngf {ngf} is not a multiple of the saved generator's {model.ngf}; "
                            f"give ngf={2 * model.ngf} (or leave it out to keep {model.ngf})")
    return widen_attentional(model, ngf // model.ngf)
