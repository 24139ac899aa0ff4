"""Train GAN-INT-CLS as in Reed et al. (2016), Algorithm 1 with the interpolation term:

- D sees three pairs per batch: (real image, right text) -> real; (real image, wrong text) and
  (fake image, right text) -> fake, weighted 1 : cls_weight : 1 - cls_weight (0.5 each, as the
  original's cls_weight 0.5); the wrong text of an image is the caption of another image of the
  batch;
- G is trained to make D call (G(z, t), t) real, plus GAN-INT: for half a batch of interpolated
  embeddings t = beta t1 + (1 - beta) t2 (beta 0.5) there is no real image, but G is still asked
  to fool D on (G(z, t), t), which fills the text manifold between captions;
- Adam (lr 2e-4, beta1 0.5), images scaled to [-1, 1]; BCE on logits.

The text embedding is the frozen DAMSM sentence feature (computed once for all captions); each
step pairs each image with one of its captions drawn at random. While training, the caption
accuracy of the shapes attribute classifier (mean over attributes) on 300 *train* captions
picks the best snapshot
(GANs wander); the report gives the caption accuracy of the kept weights on 500 *test* captions.

``train(config, ...)`` returns ``(model, report)`` like every zoo trainer.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from zoo_core.blocks.attn_shapes import split_twin_captions, train_twin_captions
from zoo_core.blocks.attn_training import TWIN_NEGATIVES_D, twin_note, with_twin_negatives
from zoo_core.blocks.aux_attributes import (AttributeHead, attribute_loss, aux_log, aux_note, aux_stat_keys,
                                           check_label_rows, head_labels)
from zoo_core.blocks.t2i_training import (EpochRun, attach_text_and_data, attribute_accuracy,
                                          encode_captions, resolve_damsm, text_embedding_note)
from zoo_core.training_state import load_training_state, save_training_state

from .config import SHAPES_TEXT_ENCODER, TRAINING, TRAINING_FOR, get_config
from .model import GANINTCLS

# Twin-caption hard negatives (not in the paper): what each setting of twin_negatives adds.
TWIN_NEGATIVES = {"none": None, "d": TWIN_NEGATIVES_D}
STAT_KEYS = ("loss_d", "loss_g", "d_real", "d_wrong", "d_fake")


@torch.no_grad()
def recalibrate_batchnorm(model: GANINTCLS, sentences: torch.Tensor, *, batches: int = 8, batch_size: int = 64,
                          generator: torch.Generator | None = None) -> None:
    """Re-estimate the generator's batch-norm statistics as exact averages over fresh (z, text)
    draws, so eval-mode sampling (one sample never depends on another) sees the final weights."""
    bns = [m for m in [*model.projection.modules(), *model.netG.modules()]
           if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    was = model.training
    model.train()
    for _ in range(batches):
        rows = torch.randint(0, len(sentences), (batch_size,), generator=generator)
        cols = torch.randint(0, sentences.shape[1], (batch_size,), generator=generator)
        z = torch.randn(batch_size, model.nz, generator=generator)
        model(z.to(model.device), sentences[rows, cols].to(model.device))
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.train(was)


@torch.no_grad()
def caption_accuracy(model: GANINTCLS, classifier: Any, prompts: list[str], seed: int = 0) -> dict[str, float]:
    """The attribute classifier's caption accuracy of one sample per prompt."""
    was = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    images = []
    for i in range(0, len(prompts), 100):
        text = model.encode_prompts(prompts[i:i + 100])
        z = torch.randn(len(text), model.nz, generator=gen).to(model.device)
        images.append(model(z, text.sentence).cpu())
    model.train(was)
    x01 = (torch.cat(images) + 1) / 2
    return classifier.caption_accuracy(x01, prompts)


def interpolate_embeddings(text: torch.Tensor, beta: float = 0.5) -> torch.Tensor:
    """GAN-INT: beta t1 + (1 - beta) t2 over the two halves of a batch (n // 2 rows)."""
    half = len(text) // 2
    return beta * text[:half] + (1 - beta) * text[half:2 * half]


def discriminator_loss(disc: nn.Module, real: torch.Tensor, text: torch.Tensor, fake: torch.Tensor,
                       cls_weight: float = 0.5,
                       twin_text: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """GAN-CLS: (real, right text) -> real; (real, wrong text) x cls_weight and (fake, right text)
    x (1 - cls_weight) -> fake. The wrong text of image i is the caption of image i - 1.

    ``twin_text`` (a deviation, off in the paper's recipe): the embeddings of each real image's
    twin caption (its scene with one thing changed), a mismatched pair too; the wrong term becomes
    the mean of the two, so its weight stays the original's."""
    scores = {"real": disc(real, text), "wrong": disc(real, text.roll(1, 0)), "fake": disc(fake.detach(), text)}
    bce = F.binary_cross_entropy_with_logits
    err_wrong = bce(scores["wrong"], torch.zeros_like(scores["wrong"]))
    if twin_text is not None:
        scores["twin"] = disc(real, twin_text)
        err_wrong = (err_wrong + bce(scores["twin"], torch.zeros_like(scores["twin"]))) / 2
    loss = (bce(scores["real"], torch.ones_like(scores["real"])) + cls_weight * err_wrong
            + (1 - cls_weight) * bce(scores["fake"], torch.zeros_like(scores["fake"])))
    return loss, scores


def _pick_prompts(captions: list[list[str]], n: int, seed: int) -> list[str]:
    gen = torch.Generator().manual_seed(seed)
    rows = torch.randperm(len(captions), generator=gen)[:n].tolist()
    cols = torch.randint(0, len(captions[0]), (len(rows),), generator=gen).tolist()
    return [captions[r][c] for r, c in zip(rows, cols)]


def train(config: str | dict[str, Any] = "small", *, epochs: int | None = None, seed: int = 0,
          data: tuple[torch.Tensor, list[list[str]]] | None = None, damsm: Any = "auto",
          classifier: Any = "auto", batch_size: int | None = None, lr: float | None = None,
          max_steps: int | None = None, max_seconds: float | None = None, eval_every_s: float = 240.0,
          threads: int | None = 1, device: str = "cpu", init_from: str | Path | None = None,
          disc_state: str | Path | None = None, twin_negatives: str | None = None,
          twin_kinds: str | None = None, d_aux: float = 0.0, g_aux: float = 0.0, labels: torch.Tensor | None = None,
          log: Callable[[str], None] | None = print) -> tuple[GANINTCLS, dict[str, Any]]:
    """Train the generator against a matching-aware discriminator built from the same config.

    ``data`` is (images (N, 3, 64, 64) in [0, 1], N caption lists); by default the shapes train
    split. ``damsm``: a trained ``DAMSMEncoders`` whose text encoder is copied in ("auto": the
    published damsm-shapes when the config's encoder has its size; None keeps the encoder as
    built). ``classifier``: the shapes attribute classifier for snapshot selection and the
    reported caption accuracy ("auto": the published one, unless ``data`` is given; None: skip).
    ``max_steps`` / ``max_seconds`` stop early. ``init_from`` (a saved model folder) warm-starts
    the generator; ``disc_state`` (a .safetensors file) warm-starts the discriminator and the optimisers
    when it exists and receives their final state (to continue a run). ``twin_negatives="d"`` (a
    deviation; ``data`` then also carries N lists of twin captions) adds each real image paired
    with a twin caption as a mismatched pair; ``twin_kinds`` ("shape" unless asked, e.g.
    "shape,swap") says which twins give them. ``d_aux`` / ``g_aux`` (deviations, as TAC-GAN adds
    to this model; off by default): a linear head on the discriminator's image code learns the
    real images' attributes with weight ``d_aux`` (``blocks.aux_attributes``; ``labels`` (N, 8) are
    the scenes' attributes, read from the train split when ``data`` is not given), and the
    generator is asked, with weight ``g_aux``, to have its images read as its captions'
    attributes. The head and its moments are kept in ``disc_state``.
    """
    dataset = "shapes" if data is None else None  # what the saved card names
    if threads:
        torch.set_num_threads(threads)
    cfg = get_config(config)
    hp = dict(TRAINING_FOR.get(config, TRAINING) if isinstance(config, str) else TRAINING)
    hp = with_twin_negatives(hp, twin_negatives, TWIN_NEGATIVES, twin_kinds)
    data, twin_captions = split_twin_captions(data, hp["twin_negatives"] != "none")
    labels = head_labels(d_aux, g_aux, labels, data)
    hp.update(d_aux=d_aux, g_aux=g_aux)
    damsm_asked = damsm
    epochs = hp["epochs"] if epochs is None else epochs
    batch_size = batch_size or hp["batch_size"]
    lr = lr or hp["lr"]
    max_seconds = hp["max_seconds"] if max_seconds is None else max_seconds
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)

    damsm = resolve_damsm(damsm, cfg, SHAPES_TEXT_ENCODER)
    model = GANINTCLS(**cfg).to(device)
    if init_from is not None:
        model.load_state_dict(GANINTCLS.from_pretrained(str(init_from)).state_dict())
    classifier, images01, captions = attach_text_and_data(model, damsm, classifier, data)
    real_all = images01.float() * 2 - 1  # [0, 1] -> [-1, 1], the tanh range
    sentences = encode_captions(model, captions)  # (N, k, text_dim), frozen encoder
    if hp["twin_negatives"] != "none" and twin_captions is None:
        twin_captions = train_twin_captions(len(captions), hp["twin_kinds"])
    twin_sentences = encode_captions(model, twin_captions) if twin_captions is not None else None
    n_images, n_caps = sentences.shape[:2]
    select_prompts = _pick_prompts(captions, 300, seed + 1) if classifier is not None else []

    disc = model.make_discriminator().to(device)
    betas = (hp["beta1"], hp["beta2"])
    opt_g = torch.optim.Adam(model.generator_parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr, betas=betas)
    cls_w, interp_w, beta = hp["cls_weight"], hp["interp_weight"], hp["interp_beta"]
    head = AttributeHead(disc.ndf * 8 * 4 * 4).to(device) if d_aux > 0 else None
    check_label_rows(d_aux, labels, n_images)
    opt_aux = torch.optim.Adam(head.parameters(), lr=lr, betas=betas) if head is not None else None
    state_parts = ({"disc": disc, **({"aux": head} if head is not None else {})},
                   {"opt_d": opt_d, "opt_g": opt_g, **({"opt_aux": opt_aux} if opt_aux is not None else {})})
    if disc_state is not None and Path(disc_state).exists():
        load_training_state(disc_state, *state_parts, optional=["aux"])

    def check() -> None:  # the snapshot selection's score, on the weights of the moment
        recalibrate_batchnorm(model, sentences, generator=torch.Generator().manual_seed(seed + 2))
        run.offer(model, caption_accuracy(model, classifier, select_prompts, seed=seed + 3))

    stat_keys = STAT_KEYS + (("d_twin",) if twin_sentences is not None else ()) + aux_stat_keys(d_aux, g_aux)
    run = EpochRun(stat_keys, max_steps=max_steps, max_seconds=max_seconds,
                   eval_every_s=eval_every_s, check=check if classifier is not None else None, log=log)

    model.train()
    disc.train()
    for epoch in range(epochs):
        perm = torch.randperm(n_images, generator=gen)
        last_start = max(n_images - batch_size, 0)  # full batches only
        for i in range(0, last_start + 1, batch_size):
            idx = perm[i:i + batch_size]
            b = len(idx)
            real = real_all[idx].to(device)
            cols = torch.randint(0, n_caps, (b,), generator=gen)
            text = sentences[idx, cols].to(device)
            text_int = interpolate_embeddings(text, beta)  # GAN-INT
            half = len(text_int)
            z = torch.randn(b + half, model.nz, generator=gen).to(device)
            fakes = model(z, torch.cat((text, text_int)))
            fake = fakes[:b]

            # D: real/right -> 1; real/wrong and fake/right -> 0 (weights cls_w, 1 - cls_w)
            opt_d.zero_grad(set_to_none=True)
            twin = None if twin_sentences is None else twin_sentences[idx, cols].to(device)
            loss_d, scores = discriminator_loss(disc, real, text, fake, cls_w, twin)
            aux_stats = {}
            if head is not None:
                opt_aux.zero_grad(set_to_none=True)
                err_aux, aux_stats["d_aux_shape"] = attribute_loss(head, disc.netD_1(real), labels[idx].to(device))
                loss_d = loss_d + d_aux * err_aux
            loss_d.backward()
            opt_d.step()
            if opt_aux is not None:
                opt_aux.step()
            s_real, s_wrong, s_fake = scores["real"], scores["wrong"], scores["fake"]

            # G: fool D on (G(z, t), t) and on the interpolated (G(z, t_int), t_int)
            opt_g.zero_grad(set_to_none=True)
            s_gen = disc(fakes, torch.cat((text, text_int)))
            weights = torch.cat((torch.ones(b), torch.full((half,), interp_w))).to(device)
            loss_g = F.binary_cross_entropy_with_logits(s_gen, torch.ones_like(s_gen), weight=weights)
            if g_aux > 0:  # the interpolated captions have no scene, so only G(z, t) is read
                err_g_aux, aux_stats["g_aux_shape"] = attribute_loss(head, disc.netD_1(fake), labels[idx].to(device))
                loss_g = loss_g + g_aux * err_g_aux
            loss_g.backward()
            opt_g.step()

            stats = {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "d_real": torch.sigmoid(s_real).mean().item(),
                     "d_wrong": torch.sigmoid(s_wrong).mean().item(), "d_fake": torch.sigmoid(s_fake).mean().item(),
                     **aux_stats}
            if "twin" in scores:
                stats["d_twin"] = torch.sigmoid(scores["twin"]).mean().item()
            stop = run.record(stats)
            if stop:
                break
        row = run.end_epoch(epoch)
        if log:
            log(f"epoch {row['epoch']:3d}  loss_d {row['loss_d']:.3f}  loss_g {row['loss_g']:.3f}  "
                f"D(x,t) {row['d_real']:.2f}  D(x,wrong) {row['d_wrong']:.2f}  D(G,t) {row['d_fake']:.2f}"
                f"{aux_log(row)}  {row['seconds']:.0f}s")
        if stop:
            break

    metrics: dict[str, float] = {}
    if classifier is not None:
        check()
        assert run.best is not None
        model.load_state_dict(run.best[1])  # the snapshot with the best train-caption accuracy
        from zoo_core.data.shapes import load_shapes as _load

        _, test_caps = _load("test", with_captions=True)
        test_prompts = _pick_prompts(test_caps, 500, seed + 4)
        result = caption_accuracy(model, classifier, test_prompts, seed=seed + 5)
        metrics = {k: round(v, 4) for k, v in result.items()}
        metrics["attribute_accuracy"] = round(attribute_accuracy(result), 4)
    else:
        recalibrate_batchnorm(model, sentences, generator=torch.Generator().manual_seed(seed + 2))
    if disc_state is not None:
        save_training_state(disc_state, *state_parts)
    model.eval()
    report: dict[str, Any] = {
        "family": "gan-int-cls",
        "dataset": dataset,
        "config": cfg,
        "recipe": {
            "data": f"{n_images} shapes images (64x64 RGB) scaled to [-1, 1], {n_caps} captions each; "
                    f"one caption drawn per image per step",
            "text_embedding": text_embedding_note(damsm_asked, damsm),
            "hard_negatives": twin_note(TWIN_NEGATIVES, hp),
            **({"auxiliary_attributes": aux_note(hp)} if head is not None else {}),
            "objective": (f"GAN-CLS: D on (real, right) vs (real, wrong) x {cls_w:g} and (fake, right) x "
                          f"{1 - cls_w:g}; G non-saturating, plus GAN-INT: interpolated embeddings "
                          f"(beta {beta:g}) weighted {interp_w:g}; BCE on logits"),
            "optimizer": f"Adam lr {lr:g}, betas {betas} for both networks",
            "batch_size": batch_size,
            "epochs": len(run.history),
            "steps": run.step,
            "seed": seed,
            "discriminator_parameters": sum(p.numel() for p in disc.parameters()),
            "selection": (f"the snapshot (checked every ~{eval_every_s / 60:.0f} min) with the best mean "
                          f"attribute accuracy on 300 train captions" if classifier is not None else "last weights"),
            "warm_start": str(init_from) if init_from is not None else None,
            "batchnorm": "running statistics recomputed over 512 fresh (z, caption) draws",
            "device": f"{device}, torch threads: {torch.get_num_threads()}",
        },
        "wall_time_s": round(run.seconds(), 1),
        "final": run.final(stat_keys),
        "history": run.history,
        "evaluations": run.evals,
        "metrics": metrics,
    }
    if metrics and log:
        log(f"caption accuracy (500 test captions): {metrics['caption_accuracy']:.3f}")
    return model, report
