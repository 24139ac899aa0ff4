"""Train AttnGAN on the shapes data set as in the paper (Xu et al. 2018, section 3):

    L_G = sum_i [ L_adv,cond(G_i) + L_adv,uncond(G_i) ] + lambda * L_DAMSM + L_KL(CA)

with the DAMSM encoders pretrained and frozen (zoo-models/damsm-shapes): the text encoder
gives the word and sentence features the generator reads, the image encoder scores the last
stage's images against their captions (words_loss + sent_loss, both directions). Each stage has
its own discriminator (matched / mismatched / fake pairs, conditional and unconditional logits).
The loop itself is shared with MirrorGAN (zoo_core.blocks.attn_training.train_with_recipe).

``train(config, ...)`` returns ``(model, report)`` for scripts/train.py.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F

from zoo_core.blocks.attn_report import training_report
from zoo_core.blocks.attn_shapes import evaluators, shapes_data
from zoo_core.blocks.attn_training import (TWIN_NEGATIVES_D, recipe_with, run_length, setup_attentional,
                                           train_with_recipe, twin_note, with_sizes, with_twin_negatives)
from zoo_core.blocks.attn_widen import widened_to
from zoo_core.blocks.damsm import GAMMA3, losses_with_twins, sent_loss, sentence_scores, word_scores, words_loss
from zoo_core.blocks.mode_seeking import objective_note
from zoo_core.blocks.soften import soften as soften_images, softens
from zoo_core.blocks.t2i_training import damsm_name

from .config import TRAINING, TRAINING_FOR, get_config
from .model import AttnGAN

# Shape-twin hard negatives (not in the paper): what each setting of twin_negatives adds.
TWIN_NEGATIVES = {
    "none": None,
    "d": TWIN_NEGATIVES_D,
    "d+damsm": f"{TWIN_NEGATIVES_D} and as extra negatives in the DAMSM term's image -> text halves",
}

def damsm_loss_term(damsm: Any, lam: float, twins: bool = False, softened: bool = False,
                    first: float = 0.0) -> Callable:
    """AttnGAN's generator DAMSM term: lambda * (words_loss + sent_loss) of the last stage.

    ``twins`` (a deviation, off in the paper's recipe): the image -> text halves also rank each
    image's caption above its scene's shape twin caption (``batch["twin_text"]``), a negative
    only shape tells apart. ``softened`` (a deviation, off in the paper's recipe): the image
    encoder reads the last stage's images softened (``blocks.soften``), so that pixel-level
    detail cannot match the words. ``first`` (a deviation, 0 in the paper's recipe) adds
    ``first`` * the same term on the first stage's images, resized (bilinear) to the last
    stage's size, so that the coarse stage has to lay out shapes rather than leave every shape
    to the refiners."""

    def scored(image: torch.Tensor, text: Any, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        regions, code = damsm.image_encoder(image)
        cls = batch["class_ids"]
        twin = batch.get("twin_text") if twins else None
        if twin is None:
            w0, w1, _ = words_loss(regions, text.words, text.lengths, cls)
            s0, s1 = sent_loss(code, text.sentence, cls)
        else:
            words = word_scores(regions, torch.cat([text.words, twin.words]), torch.cat([text.lengths, twin.lengths]))
            w0, w1 = losses_with_twins(words * GAMMA3, cls)
            s0, s1 = losses_with_twins(sentence_scores(code, torch.cat([text.sentence, twin.sentence])) * GAMMA3, cls)
        return w0 + w1, s0 + s1

    def extra(model: Any, out: Any, batch: dict[str, Any], text: Any):
        image = out.images[-1]
        w, s = scored(soften_images(image) if softened and softens(image.shape[-1]) else image, text, batch)
        loss, stats = lam * (w + s), {"w_loss": float(w.detach()), "s_loss": float(s.detach())}
        if first > 0 and len(out.images) > 1:
            coarse = F.interpolate(out.images[0], size=image.shape[-2:], mode="bilinear", align_corners=False)
            w0, s0 = scored(coarse, text, batch)
            loss = loss + first * (w0 + s0)
            stats["w0_loss"], stats["s0_loss"] = float(w0.detach()), float(s0.detach())
        return loss, stats

    return extra


def train(config: str | dict[str, Any] = "small", *, epochs: int | None = None, seed: int = 0,
          steps: int | None = None, minutes: float | None = None, max_steps: int | None = None,
          data: Any = None, damsm: Any = None, evaluate: Any = None, eval_every: int | None = None,
          threads: int | None = 1, device: str = "cpu", batch_size: int | None = None,
          disc_state: str | None = None, init_from: str | None = None, twin_negatives: str | None = None,
          keep_best: bool = False, damsm_lambda: float | None = None, lr_g: float | None = None,
          lr_d: float | None = None, twin_kinds: str | None = None, r_num: int | None = None,
          mode_seeking: float | None = None, d_warmup: int | None = None, d_aux: float | None = None,
          g_aux: float | None = None, d_aux_pretrain: int | None = None, ndf: int | None = None,
          ngf: int | None = None, kl_weight: float | None = None, soften: bool | None = None,
          damsm_soften: bool | None = None, damsm_first: float | None = None,
          log: Callable[[str], None] | None = print) -> tuple[AttnGAN, dict[str, Any]]:
    """Train an AttnGAN generator on shapes.

    ``epochs`` (passes over the 8,000 training images) or ``steps`` / ``max_steps`` / ``minutes``
    bound the run (defaults: the config's recipe). ``damsm`` is a DAMSMEncoders (default: the
    published damsm-shapes); ``data`` = (x01, captions[, attribute labels]) replaces the train split.
    ``init_from`` (a saved AttnGAN folder of the same config) continues that generator; the
    discriminators start fresh unless ``disc_state`` (a .safetensors file, written at the end of
    the run that used it) holds them and the optimisers' moments. ``device`` and ``batch_size``
    override where and in what batches it trains. ``twin_negatives`` (a deviation from the
    paper, default the recipe's: none) adds shape-twin captions as hard negatives: "d" for the
    discriminators' mismatched pairs, "d+damsm" for those and the generator's DAMSM term.
    ``keep_best`` ends with the averaged weights of the check (every 300 steps unless
    ``eval_every``) scoring best on 500 training captions, instead of the last ones.
    ``damsm_lambda`` (the paper: 5 on CUB, 50 on COCO), ``lr_g`` / ``lr_d`` and ``kl_weight`` (the
    CA's KL term, the paper's 1) replace the recipe's.
    ``twin_kinds`` ("shape" unless asked; "shape,swap" etc.) says which twins give the negatives.
    ``r_num`` replaces the config's residual blocks per stage (the paper's 2); blocks a continued
    generator lacks start as the identity. ``ngf`` replaces the stages' width; a continued
    generator narrower by a whole factor is widened first, drawing what it drew
    (``blocks.attn_widen``). ``mode_seeking`` (not in the paper) weighs a term
    rewarding different images from different noise for one caption (``blocks.mode_seeking``).
    ``d_warmup`` steps first train only the discriminators (for a continued generator whose
    discriminators were not kept); ``ndf`` replaces the discriminators' width. ``d_aux`` (not in
    the paper) weighs attribute heads on the discriminators' image codes trained on real images,
    ``g_aux`` a generator term asking them to read its images as the captions' attributes, and
    ``d_aux_pretrain`` steps train trunks and heads on real images first (``blocks.aux_attributes``).
    ``soften`` (not in the paper; needs ``d_aux``) has the heads read the 64x64 images softened
    and ``keep_best`` rank checks by their softened scores (``attn_training.train_attentional``);
    ``damsm_soften`` (not in the paper) has the DAMSM term read them softened, and ``damsm_first``
    (not in the paper) weighs the same term on the first stage's images (``damsm_loss_term``).
    """
    dataset = "shapes" if data is None else None  # what the saved card names
    damsm_asked = damsm
    hp = dict(TRAINING_FOR.get(config, TRAINING)) if isinstance(config, str) else dict(TRAINING)
    hp = recipe_with(hp, batch_size, damsm_lambda=damsm_lambda, lr_g=lr_g, lr_d=lr_d, mode_seeking=mode_seeking,
                     d_warmup=d_warmup, d_aux=d_aux, g_aux=g_aux,
                     d_aux_pretrain=d_aux_pretrain, kl_weight=kl_weight, soften=soften,
                     damsm_soften=damsm_soften, damsm_first=damsm_first)
    hp = with_twin_negatives(hp, twin_negatives, TWIN_NEGATIVES, twin_kinds)
    twins = hp["twin_negatives"]
    model, damsm = setup_attentional(AttnGAN, with_sizes(get_config(config), r_num, ndf, ngf), damsm=damsm,
                                     seed=seed, threads=threads, device=device)
    if init_from is not None:
        source = AttnGAN.from_pretrained(str(init_from))
        if source.ngf != model.ngf and log:
            log(f"widening the generator from ngf {source.ngf} to {model.ngf} (channel copies, same images)")
        added = model.load_growing(widened_to(source, model.ngf).state_dict())
        model.use_text_encoder(damsm)  # the generator reads the text encoder of the DAMSM it trains against
        if log:
            log(f"generator initialised from {init_from}" + (f"; new identity blocks {', '.join(added)}" if added else ""))
    batches = shapes_data(model, data, twins=twins != "none", kinds=hp["twin_kinds"])
    steps, minutes = run_length(hp, batches.n, epochs=epochs, steps=steps, max_steps=max_steps, minutes=minutes)
    evaluate, final_evaluate = evaluators(evaluate, by_default=isinstance(config, str) and config == "small",
                                          keep_best=keep_best, softened=hp["soften"])
    hp["keep_best"] = keep_best
    damsm_term = damsm_loss_term(damsm, hp["damsm_lambda"], twins == "d+damsm", hp["damsm_soften"], hp["damsm_first"])
    run, metrics = train_with_recipe(model, batches, damsm_term, hp,
                                     steps=steps, minutes=minutes, seed=seed, evaluate=evaluate,
                                     eval_every=eval_every, log=log, disc_state=disc_state,
                                     final_evaluate=final_evaluate)
    recipe = {
        "objective": f"adversarial (cond + uncond, every stage) + {hp['damsm_lambda']:g} x DAMSM "
                     f"(words + sentence, both directions, last stage{', read softened' if hp['damsm_soften'] else ''}) "
                     + (f"+ {hp['damsm_first']:g} x DAMSM (first stage, resized up) " if hp["damsm_first"] else "")
                     + f"+ {hp['kl_weight']:g} x KL(CA)"
                     + objective_note(hp["mode_seeking"]),
        "hard_negatives": twin_note(TWIN_NEGATIVES, hp),
        "text_encoder": f"the DAMSM bi-LSTM of {damsm_name(damsm_asked)}, frozen; its image encoder scores G",
        "warm_start": str(init_from) if init_from is not None else None,
    }
    if init_from is not None and added:
        recipe["warm_start"] += f" (residual blocks added as identity: {', '.join(added)})"
    report = training_report("attngan", model, batches, hp, run, metrics, recipe=recipe, dataset=dataset,
                             seed=seed, device=device)
    return model.cpu(), report
