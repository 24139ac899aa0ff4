"""Train StackGAN++ as in the original (hanzhanggit/StackGAN-v2 code/trainer.py, condGANTrainer):

per step, for each branch i (image side s_i) its discriminator D_i sees the real image, a
mismatched ("wrong") real image and the generated image, each with the caption's CA mean mu
(detached):
    L_D_i = BCE(D_i(x, mu), 1) + BCE(D_i(x_wrong, mu), 0) + BCE(D_i(G_i, mu), 0)              (conditional)
          + u * [BCE(D_i^u(x), 1) + BCE(D_i^u(x_wrong), 1) + BCE(D_i^u(G_i), 0)]                (unconditional)
and the generator tree minimises, jointly over the branches,
    L_G = sum_i [BCE(D_i(G_i, mu), 1) + u * BCE(D_i^u(G_i), 1)]
          + color * sum_{i>0} [lambda_1 ||mu_i - mu_{i-1}||^2 + lambda_2 ||Sigma_i - Sigma_{i-1}||^2]
          + kl * KL(N(mu, sigma^2) || N(0, I))
(the colour-consistency regulariser compares each image's mean pixel and pixel covariance with
its parent branch's, the parent detached). Adam lr 2e-4, betas (0.5, 0.999); the saved
generator is the running average of its parameters (decay 0.999), as the original saves.

Here the caption embedding is the frozen DAMSM shapes text encoder's sentence feature (the
original used char-CNN-RNN embeddings), computed once for every training caption; real images
at the three scales are the 64x64 shapes resized with antialiasing.

``train(config, ...)`` returns ``(model, report)`` like every zoo trainer; ``scripts/train.py
stackgan-pp --config small --out DIR`` runs it and saves the model folder with its report
(``zoo sample DIR --stage 0/1/2`` shows each branch).
"""
from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from zoo_core.blocks.attn_shapes import split_twin_captions, train_twin_captions
from zoo_core.blocks.attn_training import TWIN_NEGATIVES_D, twin_note, with_twin_negatives
from zoo_core.blocks.aux_attributes import AttributeHead, aux_note, check_label_rows, head_labels
from zoo_core.blocks.t2i_training import (attribute_accuracy, damsm_name, encode_captions, load_damsm,
                                          load_shapes_classifier, same_text_encoder, sentence_text_scale)
from zoo_core.errors import BadInputError
from zoo_core.training_state import load_training_state, save_training_state

from .config import TRAINING, TRAINING_FOR, get_config
from .losses import discriminator_loss, generator_loss
from .model import StackGANpp, weights_init


# Twin-caption hard negatives (not in the paper): what each setting of twin_negatives adds.
TWIN_NEGATIVES = {"none": None, "d": TWIN_NEGATIVES_D}
# what a generator continued through ``init_from`` keeps from its source (df_dim sizes the discriminators)
GENERATOR_SIZES = ("z_dim", "c_dim", "gf_dim", "r_num", "branch_num", "base_size")


def pyramid(x01_uint8: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    """Real images in [-1, 1] at each branch's size (antialiased resizing of the 64x64 data)."""
    x = x01_uint8.float() / 127.5 - 1.0
    out = []
    for s in sizes:
        out.append(x if s == x.shape[-1] else
                   F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False,
                                 antialias=s < x.shape[-1]).clamp(-1, 1))
    return out


@torch.no_grad()
def recalibrate_batchnorm(model: StackGANpp, sentences: torch.Tensor, *, batches: int = 32,
                          batch_size: int = 128, generator: torch.Generator | None = None) -> None:
    """Recompute the generator's batch-norm statistics (exact averages) for its current weights
    over fresh z, CA noise and training captions, so sampling in eval mode fits the weights."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for _ in range(batches):
        idx = torch.randint(len(sentences), (batch_size,), generator=generator)
        z = torch.randn(batch_size, model.z_dim, generator=generator)
        eps = torch.randn(batch_size, model.c_dim, generator=generator)
        model(z.to(model.device), sentences[idx].to(model.device), eps.to(model.device))
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.eval()


@torch.no_grad()
def caption_accuracy(model: StackGANpp, classifier: Any, prompts: list[str], seed: int = 0) -> dict[str, float]:
    """The shapes attribute classifier's caption accuracy on the last branch's images."""
    images = model.sample(len(prompts), prompt=prompts, generator=seed).data
    return classifier.caption_accuracy((images.float() + 1) / 2, prompts)


def train(config: str | dict[str, Any] = "small", *, epochs: int | None = None, seed: int = 0,
          data: tuple[torch.Tensor, list[list[str]]] | None = None, batch_size: int | None = None,
          max_steps: int | None = None, minutes: float | None = None, threads: int | None = 1,
          damsm: Any = None, classifier: Any = None, eval_every: int | None = None,
          eval_prompts: int = 500, device: str = "cpu", init_from: str | None = None,
          kl_coeff: float | None = None, uncond: float | None = None, twin_negatives: str | None = None,
          twin_kinds: str | None = None,
          keep_best: bool = False, disc_state: str | Path | None = None, d_aux: float = 0.0, g_aux: float = 0.0,
          labels: torch.Tensor | None = None,
          log: Callable[[str], None] | None = print) -> tuple[StackGANpp, dict[str, Any]]:
    """Train the generator tree and its discriminators.

    ``data`` is (uint8 images (N, 3, 64, 64), captions per image); default the shapes train
    split. ``damsm`` supplies the frozen text encoder (default: the published damsm-shapes; a
    tiny config without it keeps its random, frozen encoder). ``minutes`` / ``max_steps`` stop
    early; ``classifier`` (default: the published shapes classifier, for the small config)
    tracks caption accuracy every ``eval_every`` steps on training captions and scores
    ``eval_prompts`` test captions at the end. ``init_from`` (a saved StackGAN++ folder) continues that
    generator tree with its sizes (``GENERATOR_SIZES``; a tree widened by ``widen`` keeps its
    width); the discriminators start fresh unless
    ``disc_state`` (a .safetensors file) exists: it holds them, their heads and every optimiser's
    moments, and receives their state at the end. ``kl_coeff``
    replaces the recipe's CA KL weight and ``uncond`` its unconditional-loss weight (u above).
    ``twin_negatives="d"`` (a deviation; ``data`` then also
    carries N lists of twin captions) pairs each real image with a twin caption's condition as a
    mismatched pair (``discriminator_loss``'s ``twin_mu``); ``twin_kinds`` as for AttnGAN.
    A continued generator keeps its ``text_scale`` unless ``damsm`` brings another text encoder.
    ``keep_best`` ends with the averaged weights of the check with the best mean attribute
    accuracy on training captions, not the last ones. ``d_aux`` / ``g_aux`` (deviations, off by
    default): each discriminator gets a linear head on its image code that learns the real
    images' attributes with weight ``d_aux`` (``blocks.aux_attributes``; ``labels`` (N, 8) the
    scenes' attributes, from the train split when ``data`` is not given), and the generator tree
    is asked, with weight ``g_aux``, to have its images read as its captions' attributes.
    """
    dataset = "shapes" if data is None else None  # what the saved card names
    if threads:
        torch.set_num_threads(threads)
    name = config if isinstance(config, str) else None
    cfg = get_config(config)
    hp = dict(TRAINING_FOR.get(name, TRAINING) if name else TRAINING)
    hp = with_twin_negatives(hp, twin_negatives, TWIN_NEGATIVES, twin_kinds)
    hp["kl"] = hp["kl"] if kl_coeff is None else float(kl_coeff)
    hp["uncond"] = hp["uncond"] if uncond is None else float(uncond)
    if hp["uncond"] < 0:
        raise BadInputError(f"uncond must be 0 or more, not {uncond}")
    labels = head_labels(d_aux, g_aux, labels, data)
    hp.update(d_aux=d_aux, g_aux=g_aux)
    if keep_best and not (eval_every and (classifier is not None or name == "small")):
        raise BadInputError("keep_best needs caption-accuracy checks (eval_every and a classifier)")
    epochs = hp["epochs"] if epochs is None else epochs
    batch_size = batch_size or hp["batch_size"]
    minutes = hp.get("minutes") if minutes is None else minutes
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)

    if data is None:
        from zoo_core.data.shapes import generate

        shapes = generate("train")
        images_u8, captions = shapes.images, shapes.captions
        twin_captions = train_twin_captions(len(captions), hp["twin_kinds"]) if hp["twin_negatives"] != "none" else None
    else:
        data, twin_captions = split_twin_captions(data, hp["twin_negatives"] != "none")
        images_u8, captions = data[0], data[1]
    check_label_rows(d_aux, labels, len(images_u8))
    if images_u8.dtype != torch.uint8:
        images_u8 = (images_u8.float().clamp(0, 1) * 255).round().to(torch.uint8)

    damsm_label = damsm_name(damsm)  # before it is loaded: the name or folder asked for
    if (damsm is None and name == "small") or isinstance(damsm, str):  # a name or folder is loaded
        damsm = load_damsm(damsm)
    if damsm is not None:
        cfg["vocab"] = damsm.vocab.to_list()
        encoder = damsm.config.get("text_encoder") or cfg["text_encoder"]  # a size dict or a config name
        cfg["text_encoder"] = dict(encoder) if isinstance(encoder, dict) else encoder
        cfg["max_words"] = damsm.max_words
    source = StackGANpp.from_pretrained(str(init_from)) if init_from is not None else None
    if source is not None:
        # the generator continues with the source's sizes (e.g. a tree made wider by ``widen``)
        grown = {k: source.config[k] for k in GENERATOR_SIZES if k in source.config and source.config[k] != cfg.get(k)}
        if grown and log:
            log("generator sizes from " + str(init_from) + ": " + ", ".join(f"{k} {v}" for k, v in grown.items()))
        cfg.update(grown)
        cfg["text_scale"] = source.text_scale
        if damsm is not None and not same_text_encoder(source, damsm):  # a new encoder brings its own scale
            cfg["text_scale"] = sentence_text_scale(damsm, captions)
    elif "text_scale" not in cfg and damsm is not None:  # see StackGANpp.text_scale
        cfg["text_scale"] = sentence_text_scale(damsm, captions)
    model = StackGANpp(**cfg).to(device)
    if model.text_encoder is None:
        raise BadInputError("training needs a text encoder (a config with text_encoder set)")
    for name_, module in model.named_children():
        if name_ != "text_encoder":
            module.apply(weights_init)
    if source is not None:
        model.load_state_dict(source.state_dict())
        if log:
            log(f"generator initialised from {init_from}")
    if damsm is not None:  # after the source's weights, which carry the source's own text encoder
        model.use_text_encoder(damsm)
    discs = model.make_discriminators().to(device)
    discs.apply(weights_init)

    # every caption's sentence feature, once (the text encoder is frozen)
    per_image = len(captions[0])
    model.eval()
    sentences = encode_captions(model, captions)
    twin_sentences = encode_captions(model, twin_captions) if twin_captions is not None else None
    sizes = model.image_sizes

    betas = (hp["beta1"], hp["beta2"])
    params_g = model.generator_parameters()
    opt_g = torch.optim.Adam(params_g, lr=hp["lr_g"], betas=betas)
    opt_ds = [torch.optim.Adam(d.parameters(), lr=hp["lr_d"], betas=betas) for d in discs]
    heads = [AttributeHead(d.df_dim * 8 * 4 * 4).to(device) for d in discs] if d_aux > 0 else []
    opts_aux = [torch.optim.Adam(h.parameters(), lr=hp["lr_d"], betas=betas) for h in heads]
    state_parts = ({**{f"netD{i}": d for i, d in enumerate(discs)}, **{f"auxD{i}": h for i, h in enumerate(heads)}},
                   {"opt_g": opt_g, **{f"opt_d{i}": o for i, o in enumerate(opt_ds)},
                    **{f"opt_aux{i}": o for i, o in enumerate(opts_aux)}})
    if disc_state is not None and Path(disc_state).exists():
        # a tree widened since (``widen``) keeps the discriminators but starts fresh G moments
        fresh = load_training_state(disc_state, *state_parts, lenient=["opt_g"],
                                    optional=[f"auxD{i}" for i in range(len(heads))])
        if log:
            log(f"discriminators and optimiser moments continued from {disc_state}"
                + (" (the generator's moments start fresh: its sizes changed)" if fresh else ""))
    avg = [p.detach().clone() for p in params_g]

    if classifier is None and name == "small":
        classifier = load_shapes_classifier()
    monitor = [caps[0] for caps in captions[-eval_prompts:]]

    def averaged(batches: int = 32) -> StackGANpp:
        g = copy.deepcopy(model)
        with torch.no_grad():
            for p, a in zip(g.generator_parameters(), avg):
                p.copy_(a)
        recalibrate_batchnorm(g, sentences.view(-1, sentences.shape[-1]), batches=batches, batch_size=64,
                              generator=torch.Generator().manual_seed(seed))
        return g

    history: list[dict[str, Any]] = []
    evals: list[dict[str, Any]] = []
    best: tuple[float, int, list[torch.Tensor]] | None = None
    n = len(images_u8)
    step, start, stop = 0, time.perf_counter(), False
    model.train()
    discs.train()
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=gen)
        sums: dict[str, float] = {}
        count = 0
        for i in range(0, max(n - batch_size, 0) + 1, batch_size):
            idx = perm[i:i + batch_size]
            b = len(idx)
            # a mismatched real image for each caption: another random image of the data set
            wrong_idx = (idx + torch.randint(1, n, (b,), generator=gen)) % n
            reals = [x.to(device) for x in pyramid(images_u8[idx], sizes)]
            wrongs = [x.to(device) for x in pyramid(images_u8[wrong_idx], sizes)]
            cap = torch.randint(per_image, (b,), generator=gen)
            sent = sentences[idx, cap].to(device)
            z = torch.randn(b, model.z_dim, generator=gen).to(device)
            eps = torch.randn(b, model.c_dim, generator=gen).to(device)
            fakes, mu, logvar = model(z, sent, eps)
            twin_mu = None
            if twin_sentences is not None:
                with torch.no_grad():
                    twin_mu = model.condition_mean(twin_sentences[idx, cap].to(device))

            row: dict[str, float] = {}
            loss_d_total = 0.0
            aux_labels = labels[idx].to(device) if heads else None
            for k, (d, opt) in enumerate(zip(discs, opt_ds)):
                opt.zero_grad(set_to_none=True)
                if heads:
                    opts_aux[k].zero_grad(set_to_none=True)
                loss_d, st = discriminator_loss(d, reals[k], wrongs[k], fakes[k].detach(), mu.detach(), hp["uncond"],
                                                 twin_mu, (heads[k], aux_labels, d_aux) if heads else None)
                loss_d.backward()
                opt.step()
                if heads:
                    opts_aux[k].step()
                loss_d_total += loss_d.item()
                if k == len(discs) - 1:
                    row.update(st)
            opt_g.zero_grad(set_to_none=True)
            loss_g, gs = generator_loss(discs, fakes, mu, logvar, hp,
                                        (heads, aux_labels, g_aux) if g_aux > 0 else None)
            loss_g.backward()
            opt_g.step()
            # the average warms up (decay (1 + t) / (10 + t) until it reaches hp["ema"]) so that a
            # short run's average is not dominated by the initial weights
            decay = min(hp["ema"], (1 + step) / (10 + step))
            with torch.no_grad():
                for a, p in zip(avg, params_g):
                    a.mul_(decay).add_(p.detach(), alpha=1 - decay)
            row.update(loss_d=loss_d_total, loss_g=loss_g.item(), **gs)
            for key, v in row.items():
                sums[key] = sums.get(key, 0.0) + v
            count += 1
            step += 1
            if log and step % 50 == 0:
                log(f"step {step:5d}  " + "  ".join(f"{k} {v / count:.3f}" for k, v in sums.items())
                    + f"  {time.perf_counter() - start:.0f}s")
            if classifier is not None and eval_every and step % eval_every == 0:
                acc = caption_accuracy(averaged(8), classifier, monitor[:200], seed)
                if keep_best and (best is None or attribute_accuracy(acc) > best[0]):
                    best = (attribute_accuracy(acc), step, [a.clone() for a in avg])
                evals.append({"step": step, "seconds": round(time.perf_counter() - start, 1),
                              **{f"train_{k}": round(v, 4) for k, v in acc.items()}})
                if log:
                    log(f"  eval at step {step}: caption accuracy (training captions) {acc['caption_accuracy']:.3f}, "
                        f"colour0 {acc.get('caption_accuracy_colour0', 0):.3f}, shape0 {acc.get('caption_accuracy_shape0', 0):.3f}")
                model.train()
            if (max_steps is not None and step >= max_steps) or \
               (minutes is not None and time.perf_counter() - start > 60 * minutes):
                stop = True
                break
        history.append({"epoch": epoch + 1, "steps": step, **{k: round(v / max(count, 1), 4) for k, v in sums.items()},
                        "seconds": round(time.perf_counter() - start, 1)})
        if log:
            log(f"epoch {epoch + 1} done: {history[-1]}")
        if stop:
            break

    if disc_state is not None:
        save_training_state(disc_state, *state_parts)
    if best is not None:
        avg = best[2]
    final = averaged(hp.get("bn_batches", 32))
    wall = time.perf_counter() - start
    metrics: dict[str, float] = {}
    if classifier is not None:
        from zoo_core.data.shapes import generate

        test_caps = generate("test").captions
        prompts = [caps[i % len(caps)] for i, caps in enumerate(test_caps[:eval_prompts])]
        acc = caption_accuracy(final, classifier, prompts, seed)
        metrics = {k: round(v, 4) for k, v in acc.items()}
        if log:
            log(f"test caption accuracy ({len(prompts)} captions): {acc['caption_accuracy']:.3f}")
    last = history[-1] if history else {}
    report: dict[str, Any] = {
        "family": "stackgan-pp",
        "dataset": dataset,
        "config": {k: v for k, v in final.config.items() if k != "vocab"},
        "recipe": {
            "data": f"{n} shapes images (64x64, resized to {'/'.join(map(str, sizes))} per branch), "
                    f"{per_image} captions each, scaled to [-1, 1]",
            "text": (f"frozen DAMSM text encoder of {damsm_label} (sentence features)" if damsm is not None
                     else "frozen text encoder"),
            "hard_negatives": twin_note(TWIN_NEGATIVES, hp),
            **({"auxiliary_attributes": aux_note(hp)} if heads else {}),
            "snapshot": (f"the averaged weights at step {best[1]}, best mean attribute accuracy ({best[0]:.4f}) of "
                         f"the checks on training captions" if best is not None else "the last averaged weights"),
            "objective": ("joint conditional + unconditional BCE per branch (real / mismatched / fake), "
                          f"colour consistency (lambda_1 {hp['color_mu']:g}, lambda_2 {hp['color_cov']:g}, weight "
                          f"{hp['color']:g}), CA KL weight {hp['kl']:g}, unconditional weight {hp['uncond']:g}"),
            "optimizer": f"Adam lr G {hp['lr_g']:g} / D {hp['lr_d']:g}, betas {betas}",
            "generator_average": f"parameters averaged with decay min({hp['ema']}, (1+t)/(10+t)); batch norm recalibrated after",
            "batch_size": batch_size,
            "epochs": len(history),
            "steps": step,
            "seed": seed,
            "warm_start": str(init_from) if init_from is not None else None,
            "discriminator_parameters": sum(p.numel() for p in discs.parameters()),  # heads not counted
            "device": f"{device}, torch threads: {torch.get_num_threads()}",
        },
        "wall_time_s": round(wall, 1),
        "final": {k: last[k] for k in ("loss_d", "loss_g", "d_real", "d_wrong", "d_fake", "color", "kl",
                                       "d_aux_shape", "g_aux_shape") if k in last},
        "history": history,
        "evals": evals,
        "metrics": metrics,
    }
    return final, report
