"""Train StackGAN as hanzhanggit/StackGAN-Pytorch (trainer.py): Stage-I first, then Stage-II with
Stage-I fixed.

Each stage is a conditional GAN with a matching-aware discriminator. The discriminator's
condition is the CA mean mu (detached); its loss is

    L_D = BCE(D(x, mu), 1) + 0.5 [BCE(D(x_wrong, mu), 0) + BCE(D(G(z, c), mu), 0)]

where the wrong pair joins each real image with the next image's condition, and Stage-II's real
and fake terms average the conditional and unconditional logits. The generator minimises
BCE(D(G(z, c), mu), 1) (plus the unconditional term at Stage II) + 2.0 * KL(N(mu, sigma^2) ||
N(0, I)) (``kl_loss``, averaged over dimensions, as the original). Adam lr 2e-4, beta1 0.5.

Stage-I is trained on the real images downsampled to its size. While Stage-II trains, Stage-I
runs in eval mode (its batch-norm statistics recomputed when Stage-I finished), as at sampling
time. The text embedding is the frozen DAMSM sentence feature, computed once for all captions;
each step pairs each image with one of its captions drawn at random. The caption accuracy of the
shapes attribute classifier (mean over attributes) on 300 *train* captions picks each stage's
best snapshot (GANs
wander); the report gives the kept weights' caption accuracy on 500 *test* captions, for both
stages' images.

``train(config, ...)`` returns ``(model, report)`` like every zoo trainer.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from zoo_core.blocks.attn_shapes import split_twin_captions, train_twin_captions
from zoo_core.blocks.attn_training import TWIN_NEGATIVES_D, twin_note, with_twin_negatives
from zoo_core.blocks.aux_attributes import (AttributeHead, aux_log, aux_note, aux_stat_keys, check_label_rows,
                                           head_labels)
from zoo_core.blocks.conditioning import kl_loss
from zoo_core.blocks.t2i_training import (EpochRun, attach_text_and_data, attribute_accuracy,
                                          encode_captions, resolve_damsm, same_text_encoder,
                                          sentence_text_scale, text_embedding_note)
from zoo_core.errors import BadInputError
from zoo_core.training_state import load_training_state, save_training_state

from .config import SHAPES_TEXT_ENCODER, TRAINING, TRAINING_FOR, get_config
from .losses import discriminator_loss, generator_loss
from .model import StackGAN

STAT_KEYS = ("loss_d", "loss_g", "kl", "d_real", "d_wrong", "d_fake")
# Twin-caption hard negatives (not in the paper): what each setting of twin_negatives adds.
TWIN_NEGATIVES = {"none": None, "d": TWIN_NEGATIVES_D}



def _batchnorms(modules: list[nn.Module]) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for mod in modules for m in mod.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recalibrate_batchnorm(model: StackGAN, stage: int, sentences: torch.Tensor, *, batches: int = 8,
                          batch_size: int = 64, generator: torch.Generator | None = None) -> None:
    """Recompute one stage's batch-norm statistics as exact averages over fresh (z, eps, caption)
    draws (the other stage stays in eval mode)."""
    modules = [model.STAGE1_G] if stage == 1 else model.stage2_modules()
    bns = _batchnorms(modules)
    saved = [m.momentum for m in bns]
    was = model.training
    model.eval()
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
        m.train()
    for _ in range(batches):
        rows = torch.randint(0, len(sentences), (batch_size,), generator=generator)
        cols = torch.randint(0, sentences.shape[1], (batch_size,), generator=generator)
        z = torch.randn(batch_size, model.z_dim, generator=generator)
        eps = torch.randn(batch_size, model.c_dim, generator=generator)
        model(z.to(model.device), sentences[rows, cols].to(model.device), eps)
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.train(was)


@torch.no_grad()
def caption_accuracy(model: StackGAN, classifier: Any, prompts: list[str], seed: int = 0) -> dict[str, dict[str, float]]:
    """The attribute classifier's caption accuracy of one sample per prompt, for each stage's
    image (Stage-I upsampled bilinearly to the classifier's 64x64)."""
    was = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    stages: list[list[torch.Tensor]] = [[], []]
    for i in range(0, len(prompts), 100):
        text = model.encode_prompts(prompts[i:i + 100])
        z = torch.randn(len(text), model.z_dim, generator=gen)
        eps = torch.randn(len(text), model.c_dim, generator=gen)
        for s, img in enumerate(model(z.to(model.device), text.sentence, eps)[:2]):
            stages[s].append(img.cpu())
    model.train(was)
    out = {}
    for s, parts in enumerate(stages):
        x01 = (torch.cat(parts) + 1) / 2
        if x01.shape[-1] != 64:
            x01 = F.interpolate(x01, size=(64, 64), mode="bilinear", align_corners=False).clamp(0, 1)
        out[f"stage{s + 1}"] = classifier.caption_accuracy(x01, prompts)
    return out




def _pick_prompts(captions: list[list[str]], n: int, seed: int) -> list[str]:
    gen = torch.Generator().manual_seed(seed)
    rows = torch.randperm(len(captions), generator=gen)[:n].tolist()
    cols = torch.randint(0, len(captions[0]), (len(rows),), generator=gen).tolist()
    return [captions[r][c] for r, c in zip(rows, cols)]


def train(config: str | dict[str, Any] = "small", *, epochs: int | None = None, seed: int = 0,
          data: tuple[torch.Tensor, list[list[str]]] | None = None, damsm: Any = "auto",
          classifier: Any = "auto", batch_size: int | None = None, lr: float | None = None,
          max_steps: int | None = None, stage1_seconds: float | None = None, stage2_seconds: float | None = None,
          eval_every_s: float = 240.0, threads: int | None = 1, device: str = "cpu",
          init_from: str | Path | None = None, reset_ca: bool = False, kl_coeff: float | None = None,
          kl_warmup: int | None = None, twin_negatives: str | None = None, twin_kinds: str | None = None,
          stages: int | list[int] = (1, 2), d_aux: float = 0.0, g_aux: float = 0.0,
          disc_state: str | Path | None = None, labels: torch.Tensor | None = None,
          log: Callable[[str], None] | None = print) -> tuple[StackGAN, dict[str, Any]]:
    """Train Stage-I, then Stage-II, each against its discriminator.

    ``data`` is (images (N, 3, H, H) in [0, 1] at the final size, N caption lists); by default the
    shapes train split. ``damsm``: a trained ``DAMSMEncoders`` whose text encoder is copied in
    ("auto": the published damsm-shapes when the config's encoder has its size; None keeps the
    encoder as built). ``classifier``: the attribute classifier for snapshot selection and the
    reported caption accuracy ("auto": the published one, unless ``data`` is given; None: skip).
    ``epochs`` applies to each stage; ``max_steps`` (per stage) and the stage time caps stop early.
    ``init_from`` (a saved model folder) warm-starts both generators (discriminators start fresh
    unless ``disc_state`` has them; its text_scale is kept unless ``damsm`` brings another text
    encoder);
    ``reset_ca`` re-initialises both CA nets; ``kl_warmup`` ramps the KL weight up from 0 over that
    many steps of each stage. ``twin_negatives="d"`` (a deviation; ``data`` then also carries
    N lists of twin captions) adds each real image paired with a twin caption's condition as a
    mismatched pair (``discriminator_loss``'s ``twin_mu``); ``twin_kinds`` ("shape" unless
    asked, e.g. "shape,swap") says which twins give them. ``stages=2`` trains Stage II only (of a model
    continued with ``init_from``). ``d_aux`` / ``g_aux`` (deviations, off by default): each
    stage's discriminator gets a linear head on its image code that learns the real images'
    attributes with weight ``d_aux`` (``blocks.aux_attributes``; ``labels`` (N, 8) the scenes'
    attributes, from the train split when ``data`` is not given), and the generator is asked,
    with weight ``g_aux``, to have its images read as its captions' attributes. ``disc_state`` (a
    .safetensors file): both stages' discriminators, their heads and every optimiser's moments start
    from it when it exists, and are written to it at the end, so a later run continues this one.
    """
    dataset = "shapes" if data is None else None  # what the saved card names
    stages = [stages] if isinstance(stages, int) else list(stages)
    if not stages or any(s not in (1, 2) for s in stages) or len(set(stages)) != len(stages):
        raise BadInputError(f"stages takes 1, 2 or both, not {stages!r}")
    if 1 not in stages and init_from is None:
        raise BadInputError("training Stage II only needs a trained Stage I: give init_from")
    if threads:
        torch.set_num_threads(threads)
    cfg = get_config(config)
    hp = dict(TRAINING_FOR.get(config, TRAINING) if isinstance(config, str) else TRAINING)
    hp = with_twin_negatives(hp, twin_negatives, TWIN_NEGATIVES, twin_kinds)
    data, twin_captions = split_twin_captions(data, hp["twin_negatives"] != "none")
    labels = head_labels(d_aux, g_aux, labels, data)
    hp.update(d_aux=d_aux, g_aux=g_aux)
    stage_epochs = (hp["stage1_epochs"], hp["stage2_epochs"]) if epochs is None else (epochs, epochs)
    stage_seconds = (hp["stage1_seconds"] if stage1_seconds is None else stage1_seconds,
                     hp["stage2_seconds"] if stage2_seconds is None else stage2_seconds)
    batch_size = batch_size or hp["batch_size"]
    lr = lr or hp["lr"]
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)

    damsm_asked = damsm
    damsm = resolve_damsm(damsm, cfg, SHAPES_TEXT_ENCODER)
    source = StackGAN.from_pretrained(str(init_from)) if init_from is not None else None
    if source is not None and (damsm is None or same_text_encoder(source, damsm)):
        cfg["text_scale"] = source.text_scale
    elif damsm is not None and ("text_scale" not in cfg or source is not None):  # see StackGAN.text_scale
        from zoo_core.data.shapes import generate

        cfg["text_scale"] = sentence_text_scale(damsm, data[1] if data is not None else generate("train", n=400).captions)
    model = StackGAN(**cfg).to(device)
    if init_from is not None:
        model.load_state_dict(source.state_dict())
    if reset_ca:  # fresh conditioning augmentation (a collapsed CA -- mu stuck at the ReLU's 0 -- stays collapsed)
        for ca in (model.STAGE1_G.ca_net, model.ca_net):
            ca.fc.reset_parameters()
    classifier, images01, captions = attach_text_and_data(model, damsm, classifier, data, size=model.image_size)
    if images01.shape[-1] != model.image_size:
        raise BadInputError(f"images are {images01.shape[-1]}x{images01.shape[-1]}; this config makes {model.image_size}")
    real2 = images01.float() * 2 - 1
    real1 = F.interpolate(images01.float(), size=(model.stage1_size,) * 2, mode="bilinear",
                          align_corners=False, antialias=True).clamp(0, 1) * 2 - 1
    sentences = encode_captions(model, captions)  # (N, k, text_dim), frozen encoder
    if hp["twin_negatives"] != "none" and twin_captions is None:
        twin_captions = train_twin_captions(len(captions), hp["twin_kinds"])
    twin_sentences = encode_captions(model, twin_captions) if twin_captions is not None else None
    n_images, n_caps = sentences.shape[:2]
    check_label_rows(d_aux, labels, n_images)
    select_prompts = _pick_prompts(captions, 300, seed + 1) if classifier is not None else []
    betas = (hp["beta1"], hp["beta2"])
    discs = dict(zip((1, 2), (d.to(device) for d in model.make_discriminators())))
    heads = {s: AttributeHead(d.df_dim * 8 * 4 * 4).to(device) for s, d in discs.items()} if d_aux > 0 else {}
    stage_modules = {1: [model.STAGE1_G], 2: model.stage2_modules()}
    opts_g = {s: torch.optim.Adam([p for mod in mods for p in mod.parameters()], lr=lr, betas=betas)
              for s, mods in stage_modules.items()}
    opts_d = {s: torch.optim.Adam(d.parameters(), lr=lr, betas=betas) for s, d in discs.items()}
    opts_aux = {s: torch.optim.Adam(h.parameters(), lr=lr, betas=betas) for s, h in heads.items()}
    state_parts = ({**{f"netD{s}": d for s, d in discs.items()}, **{f"auxD{s}": h for s, h in heads.items()}},
                   {**{f"opt_g{s}": o for s, o in opts_g.items()}, **{f"opt_d{s}": o for s, o in opts_d.items()},
                    **{f"opt_aux{s}": o for s, o in opts_aux.items()}})
    if disc_state is not None and Path(disc_state).exists():
        load_training_state(disc_state, *state_parts, optional=[f"auxD{s}" for s in heads])
        if log:
            log(f"discriminators and optimiser moments continued from {disc_state}")
    kl_coeff = hp["kl_coeff"] if kl_coeff is None else kl_coeff
    kl_warmup = hp.get("kl_warmup", 0) if kl_warmup is None else kl_warmup
    start_all = time.perf_counter()
    stage_reports = []

    for stage in sorted(stages):
        disc, gen_modules, opt_g, opt_d = discs[stage], stage_modules[stage], opts_g[stage], opts_d[stage]
        head, opt_aux = heads.get(stage), opts_aux.get(stage)
        g_params = [p for mod in gen_modules for p in mod.parameters()]
        for p in g_params:
            p.requires_grad_(True)
        real_all = real1 if stage == 1 else real2
        limit = stage_seconds[stage - 1]

        def check() -> None:  # the snapshot selection's score, on the weights of the moment
            recalibrate_batchnorm(model, stage, sentences, generator=torch.Generator().manual_seed(seed + 2))
            run.offer(model, caption_accuracy(model, classifier, select_prompts, seed=seed + 3)[f"stage{stage}"])
            set_modes()

        def set_modes() -> None:  # the stage being trained in train mode, the rest in eval mode
            model.eval()
            for mod in gen_modules:
                mod.train()

        keys = STAT_KEYS + (("d_twin",) if twin_sentences is not None else ()) + aux_stat_keys(d_aux, g_aux)
        run = EpochRun(keys, max_steps=max_steps,
                       max_seconds=limit, eval_every_s=eval_every_s, check=check if classifier is not None else None,
                       log=log, label=f"stage {stage} ")
        set_modes()
        disc.train()
        for epoch in range(stage_epochs[stage - 1]):
            perm = torch.randperm(n_images, generator=gen)
            for i in range(0, max(n_images - batch_size, 0) + 1, batch_size):
                idx = perm[i:i + batch_size]
                b = len(idx)
                real = real_all[idx].to(device)
                cols = torch.randint(0, n_caps, (b,), generator=gen)
                text = sentences[idx, cols].to(device)
                z = torch.randn(b, model.z_dim, generator=gen).to(device)
                eps = torch.randn(b, model.c_dim, generator=gen).to(device)
                eps1, eps2 = model.split_eps(eps)
                if stage == 1:
                    fake, mu, logvar = model.stage1(z, text, eps1)
                else:
                    with torch.no_grad():
                        low, _, _ = model.stage1(z, text, eps1)
                    fake, mu, logvar = model.stage2(low, text, eps2)

                twin_mu = None
                if twin_sentences is not None:
                    with torch.no_grad():
                        twin_mu = model.condition_mean(stage, twin_sentences[idx, cols].to(device))
                aux_labels = labels[idx].to(device) if head is not None else None
                opt_d.zero_grad(set_to_none=True)
                if opt_aux is not None:
                    opt_aux.zero_grad(set_to_none=True)
                loss_d, stats = discriminator_loss(disc, real, fake, mu, twin_mu,
                                                   (head, aux_labels, d_aux) if head is not None else None)
                loss_d.backward()
                opt_d.step()
                if opt_aux is not None:
                    opt_aux.step()

                opt_g.zero_grad(set_to_none=True)
                kl = kl_loss(mu, logvar)
                kl_w = kl_coeff * min(1.0, run.step / kl_warmup) if kl_warmup else kl_coeff
                loss_adv, g_stats = generator_loss(disc, fake, mu, (head, aux_labels, g_aux) if g_aux > 0 else None)
                loss_g = loss_adv + kl_w * kl
                loss_g.backward()
                opt_g.step()

                stop = run.record({"loss_d": loss_d.item(), "loss_g": loss_g.item(), "kl": kl.item(), **stats, **g_stats})
                if stop:
                    break
            row = run.end_epoch(epoch)
            if log:
                log(f"stage {stage} epoch {row['epoch']:3d}  loss_d {row['loss_d']:.3f}  loss_g {row['loss_g']:.3f}  "
                    f"kl {row['kl']:.3f}  D(x,t) {row['d_real']:.2f}  D(x,wrong) {row['d_wrong']:.2f}  "
                    f"D(G,t) {row['d_fake']:.2f}{aux_log(row)}  {row['seconds']:.0f}s")
            if stop:
                break
        if classifier is not None:
            check()
            assert run.best is not None
            model.load_state_dict(run.best[1])  # this stage's best snapshot (earlier stages unchanged)
        else:
            recalibrate_batchnorm(model, stage, sentences, generator=torch.Generator().manual_seed(seed + 2))
        for p in g_params:
            p.requires_grad_(stage == 2)
        model.STAGE1_G.requires_grad_(False)  # fixed while Stage-II trains, as in the original
        stage_reports.append({
            "stage": stage, "epochs": len(run.history), "steps": run.step, "wall_time_s": round(run.seconds(), 1),
            "discriminator_parameters": sum(p.numel() for p in disc.parameters()),
            "final": run.final(run.keys),
            "history": run.history, "evaluations": run.evals})

    if disc_state is not None:
        save_training_state(disc_state, *state_parts)
    metrics: dict[str, float] = {}
    if classifier is not None:
        from zoo_core.data.shapes import load_shapes

        _, test_caps = load_shapes("test", with_captions=True)
        test_prompts = _pick_prompts(test_caps, 500, seed + 4)
        result = caption_accuracy(model, classifier, test_prompts, seed=seed + 5)
        metrics = {k: round(v, 4) for k, v in result["stage2"].items()}
        metrics["caption_accuracy_stage1"] = round(result["stage1"]["caption_accuracy"], 4)
        metrics["attribute_accuracy"] = round(attribute_accuracy(result["stage2"]), 4)
        metrics["attribute_accuracy_stage1"] = round(attribute_accuracy(result["stage1"]), 4)
        if log:
            log(f"caption accuracy (500 test captions): Stage-II {metrics['caption_accuracy']:.3f}, "
                f"Stage-I {metrics['caption_accuracy_stage1']:.3f}")
    model.eval()
    wall = time.perf_counter() - start_all
    report: dict[str, Any] = {
        "family": "stackgan",
        "dataset": dataset,
        "config": cfg,
        "recipe": {
            "data": (f"{n_images} shapes images scaled to [-1, 1] ({model.stage1_size}x{model.stage1_size} for "
                     f"Stage I, {model.image_size}x{model.image_size} for Stage II), {n_caps} captions each; "
                     f"one caption drawn per image per step"),
            "text_embedding": text_embedding_note(damsm_asked, damsm),
            "hard_negatives": twin_note(TWIN_NEGATIVES, hp),
            **({"auxiliary_attributes": aux_note(hp)} if d_aux > 0 else {}),
            "objective": (f"matching-aware conditional GAN per stage (real/right, real/wrong x 0.5, fake/right x 0.5; "
                          f"Stage II adds unconditional logits), BCE on logits, + {kl_coeff:g} x CA KL"),
            "optimizer": f"Adam lr {lr:g}, betas {betas}, generator and discriminator",
            "schedule": ("Stage I trained first, then Stage II with Stage I fixed" if len(stages) == 2 else
                         f"Stage {'I' if stages == [1] else 'II'} only (the other as continued)"),
            "kl_warmup_steps": kl_warmup,
            "batch_size": batch_size,
            "epochs": [r["epochs"] for r in stage_reports],
            "steps": [r["steps"] for r in stage_reports],
            "seed": seed,
            "discriminator_parameters": [r["discriminator_parameters"] for r in stage_reports],
            "selection": (f"per stage, the snapshot (checked every ~{eval_every_s / 60:.0f} min) with the best mean "
                          f"attribute accuracy on 300 train captions" if classifier is not None else "last weights"),
            "warm_start": (str(init_from) + (" (CA nets re-initialised)" if reset_ca else "")) if init_from is not None else None,
            "batchnorm": "running statistics recomputed over 512 fresh (z, eps, caption) draws per stage",
            "device": f"{device}, torch threads: {torch.get_num_threads()}",
        },
        "wall_time_s": round(wall, 1),
        "final": {f"stage{r['stage']}_{k}": v for r in stage_reports for k, v in r["final"].items()},
        "stages": stage_reports,
        "metrics": metrics,
    }
    return model, report
