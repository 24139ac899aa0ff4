"""Refine trained shapes DAMSM encoders on twins: scenes batched with copies that differ in one
thing only, so the contrastive DAMSM losses must tell that thing apart (scripts/train_damsm.py
``--only refine|refine-text|refine-order``).

Random batches let the encoders match captions by colour, layout and background alone, so the
first DAMSM's codes barely carry shape, and no DAMSM's sentence code says which object of a pair
the relation puts first (scripts/probe_damsm.py). The modes:

- ``heads``: the image encoder's heads (everything above the frozen trunk) against the frozen
  text encoder, on scenes and their shape twins. The text encoder stays as it is, so every
  text-to-image model holding a copy of it stays valid.
- ``text``: the text encoder as well, on scenes with their shape, colour and swap twins.
- ``order``: the text encoder and heads on scenes batched with their swap twins only (a pair's
  objects exchanged: same words, the relation's direction reversed; a single object's colour
  changed). The first stage of every generator reads only the sentence code, so unless that
  code says which colour is on top (or left), generators place the pair by chance. Single
  objects stay in the batches: refined on pairs alone, the encoders lost single objects'
  positions (an image preferred its own position phrase to another 0.87 of the time, not 1.0).

A generator then needs training against the refined encoders (``-K damsm=FOLDER``).
"""
from __future__ import annotations

import time
from typing import Any, Callable

import torch

from damsm_common import (DAMSM_RECIPE, REFINE_RECIPE, LossMeter, damsm_r_precision, r_precision_metrics,
                          scene_ids, tokenized_captions)

TWIN_KINDS = {"shape": "one object's shape changed", "colour": "one object's colour changed",
              "swap": "the two objects of a pair exchanged, a single one's colour changed"}
MODES: dict[str, dict[str, Any]] = {
    "heads": {"kinds": ("shape",), "text": False, "batch_size": REFINE_RECIPE["batch_size"]},
    "text": {"kinds": ("shape", "colour", "swap"), "text": True, "batch_size": 96},
    "order": {"kinds": ("swap",), "text": True, "batch_size": 64},
}


@torch.no_grad()
def _trunk_features(encoder: Any, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """The frozen trunk's output for every image, computed once (it never changes)."""
    return torch.cat([encoder.features(x[i:i + batch]) for i in range(0, len(x), batch)])


def refine_damsm(damsm: Any, *, steps: int, mode: str = "heads", seed: int = 0, n: int | None = None,
                 log: Callable[[str], None] = print) -> tuple[Any, dict[str, Any]]:
    """Refine ``damsm`` in one of ``MODES`` (see the module docstring) with the DAMSM word and
    sentence losses; identical scenes are masked as in training. Adam with the refine recipe's
    learning rate, cosine to a tenth; the RNN gradient clipped at 0.25 when the text encoder
    trains. ``n`` limits the scenes used (default: the whole train split). Returns the model
    and its report (metrics: real-image test R-precision)."""
    from zoo_core.blocks.damsm import damsm_loss
    from zoo_core.data import shapes

    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    m, r = MODES[mode], REFINE_RECIPE
    kinds, batch_size = m["kinds"], m["batch_size"]
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    enc = damsm.image_encoder
    heads = [enc.global_features, enc.emb_features, enc.emb_cnn_code]
    damsm.requires_grad_(False)
    trained = heads + ([damsm.text_encoder] if m["text"] else [])
    for h in trained:
        h.requires_grad_(True)
    train, twins = shapes.generate("train", n), [shapes.shape_twins("train", n, change=k) for k in kinds]
    x = torch.cat([train.images] + [t.images for t in twins]).float() / 127.5 - 1
    ids, lens = tokenized_captions(train.captions + [c for t in twins for c in t.captions], damsm.vocab,
                                   damsm.max_words)
    classes = scene_ids(torch.cat([train.labels] + [t.labels for t in twins]))
    n = len(train.captions)
    damsm.eval()
    trunk = _trunk_features(enc, x)
    params = [p for h in trained for p in h.parameters()]
    opt = torch.optim.Adam(params, lr=r["lr"], betas=r["betas"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=r["lr"] / 10)
    for h in trained:
        h.train()
    meter = LossMeter("refine", log)
    part = batch_size // (1 + len(kinds))
    for step in range(1, steps + 1):
        base = torch.randperm(n, generator=gen)[:part]
        idx = torch.cat([base + j * n for j in range(1 + len(kinds))])  # every scene with its twins
        pick = torch.randint(0, ids.size(1), (len(idx),), generator=gen)
        cap, cap_len = ids[idx, pick], lens[idx, pick]
        with torch.set_grad_enabled(m["text"]):
            words, sentence = damsm.encode_ids(cap, cap_len)
        regions = enc.emb_features(trunk[idx])
        code = enc.emb_cnn_code(enc.global_features(trunk[idx]).flatten(1))
        parts = damsm_loss(regions, code, words, sentence, cap_len, class_ids=classes[idx])
        opt.zero_grad(set_to_none=True)
        parts["loss"].backward()
        if m["text"]:
            torch.nn.utils.clip_grad_norm_(damsm.text_encoder.parameters(), DAMSM_RECIPE["rnn_grad_clip"])
        opt.step()
        sched.step()
        meter.update(step, steps, parts)
    wall = time.perf_counter() - meter.start
    damsm.eval().requires_grad_(False)
    test = shapes.generate("test")
    test_ids, test_lens = tokenized_captions(test.captions, damsm.vocab, damsm.max_words)
    rp = damsm_r_precision(damsm, test.images.float() / 255, test_ids, test_lens, scene_ids(test.labels), seed)
    report = {
        "family": "damsm",
        "config": damsm.config,
        "recipe": {"data": f"shapes v{shapes.SHAPES_VERSION} train split ({n} images x {ids.size(1)} captions) "
                           f"and its {', '.join(kinds)} twins (same scene, recaptioned: "
                           + "; ".join(TWIN_KINDS[k] for k in kinds) + ")",
                   "objective": "DAMSM word + sentence losses (gamma1 4, gamma2 5, gamma3 10), identical scenes masked; "
                                "each batch holds scenes and their twins",
                   "trained": ("text encoder and image encoder heads; the trunk (the attribute classifier's "
                               "body) frozen" if m["text"] else
                               "image encoder heads (global_features, emb_features, emb_cnn_code); the trunk (the "
                               "attribute classifier's body) and the text encoder frozen, as first trained"),
                   "mode": mode,
                   "optimizer": f"Adam lr {r['lr']} (cosine to {r['lr'] / 10}), betas {r['betas']}",
                   "batch_size": batch_size, "steps": steps, "seed": seed,
                   "device": f"cpu, {torch.get_num_threads()} thread(s)"},
        "wall_time_s": round(wall, 1),
        "history": meter.history,
        "metrics": r_precision_metrics(rp),
    }
    log(f"refined damsm ({mode}): test R-precision {rp['r_precision']:.4f} +- {rp['std']:.4f}  ({wall:.0f}s)")
    return damsm, report
