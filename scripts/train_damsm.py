#!/usr/bin/env python
"""Train the shapes DAMSM encoders and the shapes attribute classifier (text-to-image foundation).

    python scripts/train_damsm.py [--out runs] [--only damsm|classifier|refine] [--damsm-steps 900]
        [--classifier-epochs 6] [--damsm-trunk classifier|scratch] [--seed 0]
        [--damsm-from damsm.shapes] [--refine-steps 600]   (--only refine-text: see 3.)

1. The attribute classifier (one head per attribute of zoo_core.data.shapes.ATTRIBUTES),
   cross-entropy summed over heads, AdamW one-cycle; test accuracy per attribute. Its feature
   scale is calibrated to unit RMS on the train split (FID features). Saved to
   OUT/shapes-classifier.
2. DAMSM (AttnGAN section 3.2): the SMALL bi-LSTM text encoder and the SMALL image encoder
   (64x64 -> 8x8 regions + global code). As the original starts from a frozen ImageNet
   Inception, the image encoder's convolutional trunk starts from the classifier's (frozen;
   ``--damsm-trunk scratch`` trains it too); the rest is trained on the shapes train split with the
   word and sentence losses (gamma1 = 4, gamma2 = 5, gamma3 = 10), Adam(lr 2e-3, betas 0.5 /
   0.999) and the RNN gradient clipped at 0.25 as in the original pretrain_DAMSM.py; one random
   caption of each image per step. Pairs of different images with identical attributes are
   not counted as mismatches (the original's class_ids masking). Saved to OUT/damsm-shapes.
   Reported: the R-precision of real test images (1 true caption among 100, mismatches drawn
   from scenes with other attributes), i.e. the ceiling a generator can reach.

3. ``--only refine``: the image encoder's heads retrained against the frozen text encoder on
   batches of scenes and their shape twins (see ``refine_image_encoder``). Saved to
   OUT/damsm-shapes-twins. ``--only refine-text``: the text encoder as well, on scenes with
   their shape, colour and swap twins. Saved to OUT/damsm-shapes-text-twins.

Each folder holds config.json, model.safetensors and training.json (the report). Both run on
one CPU thread.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

DAMSM_RECIPE = {"steps": 900, "batch_size": 32, "lr": 2e-3, "betas": (0.5, 0.999), "rnn_grad_clip": 0.25}
REFINE_RECIPE = {"steps": 600, "batch_size": 64, "lr": 1e-3, "betas": (0.5, 0.999)}
TWIN_KINDS = {"shape": "one object's shape changed", "colour": "one object's colour changed",
              "swap": "the two objects of a pair exchanged, a single one's colour changed"}
TEXT_REFINE_BATCH = 96  # 24 scenes, each with its shape, colour and swap twins
CLASSIFIER_RECIPE = {"epochs": 6, "batch_size": 64, "lr": 3e-3, "weight_decay": 1e-4, "warmup": 0.15}


def scene_ids(labels: torch.Tensor) -> torch.Tensor:
    """One id per distinct attribute combination (the DAMSM class_ids)."""
    return torch.unique(labels, dim=0, return_inverse=True)[1]


def r_precision_metrics(rp: dict[str, float]) -> dict[str, Any]:
    """The report's metrics from damsm_r_precision's result, with the protocol named."""
    return {"test_r_precision": round(rp["r_precision"], 4), "test_r_precision_std": round(rp["std"], 4),
            "r_precision_protocol": "1000 real test images vs their first caption, 1 true among 100"}


class LossMeter:
    """Running means of the DAMSM word and sentence losses, logged and kept every 50 steps."""

    def __init__(self, label: str, log: Callable[[str], None], every: int = 50) -> None:
        self.label, self.log, self.every = label, log, every
        self.start, self.history = time.perf_counter(), []
        self.sums, self.count = {"w": 0.0, "s": 0.0}, 0

    def update(self, step: int, steps: int, parts: dict[str, torch.Tensor]) -> None:
        self.sums["w"] += (parts["w_loss0"] + parts["w_loss1"]).item()
        self.sums["s"] += (parts["s_loss0"] + parts["s_loss1"]).item()
        self.count += 1
        if step % self.every == 0 or step == steps:
            row = {"step": step, "w_loss": round(self.sums["w"] / self.count, 4),
                   "s_loss": round(self.sums["s"] / self.count, 4),
                   "seconds": round(time.perf_counter() - self.start, 1)}
            self.history.append(row)
            self.log(f"{self.label} step {step:4d}  w_loss {row['w_loss']:.3f}  s_loss {row['s_loss']:.3f}  "
                     f"{row['seconds']:.0f}s")
            self.sums, self.count = {"w": 0.0, "s": 0.0}, 0


def tokenized_captions(captions: list[list[str]], vocab, max_words: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids (N, K, max_words), lengths (N, K)) for K captions per image."""
    flat = [c for cs in captions for c in cs]
    ids, lens = vocab.encode_batch(flat, max_words=max_words, pad_to=max_words)
    k = len(captions[0])
    return ids.view(len(captions), k, -1), lens.view(len(captions), k)


@torch.no_grad()
def damsm_r_precision(model, images01: torch.Tensor, ids: torch.Tensor, lens: torch.Tensor,
                      groups: torch.Tensor, seed: int = 0) -> dict[str, float]:
    """R-precision of images against their first caption (1 among 100)."""
    from zoo_core.blocks.damsm import r_precision

    model.eval()
    codes, sents = [], []
    for i in range(0, len(images01), 250):
        codes.append(model.encode_images(images01[i:i + 250] * 2 - 1)[1])
        sents.append(model.encode_ids(ids[i:i + 250, 0], lens[i:i + 250, 0])[1])
    return r_precision(torch.cat(codes), torch.cat(sents), candidates=100, groups=groups,
                       generator=torch.Generator().manual_seed(seed))


def train_damsm(*, steps: int, seed: int = 0, trunk: Any = None,
                log: Callable[[str], None] = print) -> tuple[Any, dict[str, Any]]:
    """``trunk``: a trained ShapesAttributeClassifier whose ``body`` initialises and freezes the
    image encoder's convolutional trunk (as the original freezes its ImageNet Inception)."""
    from zoo_core.blocks.damsm import damsm_loss
    from zoo_core.blocks.damsm_model import DAMSMEncoders
    from zoo_core.blocks.vocab import Vocabulary
    from zoo_core.data import shapes

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    vocab = Vocabulary.for_shapes()
    from zoo_core.blocks import image_encoder, text_encoder

    model = DAMSMEncoders(vocab=vocab.to_list(), text_encoder=dict(text_encoder.SMALL),
                          image_encoder=dict(image_encoder.SMALL), max_words=shapes.MAX_CAPTION_WORDS)
    if trunk is not None:
        model.image_encoder.features.load_state_dict(trunk.body.state_dict())
        model.image_encoder.features.requires_grad_(False)
    train, test = shapes.generate("train"), shapes.generate("test")
    x_train = train.images.float() / 127.5 - 1
    ids, lens = tokenized_captions(train.captions, vocab, shapes.MAX_CAPTION_WORDS)
    classes = scene_ids(train.labels)
    r = DAMSM_RECIPE
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=r["lr"], betas=r["betas"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=r["lr"] / 10)
    meter = LossMeter("damsm", log)
    perm, pos = torch.randperm(len(x_train), generator=gen), 0
    model.train()
    if trunk is not None:
        model.image_encoder.features.eval()  # frozen: batch norm keeps the classifier's statistics
    for step in range(1, steps + 1):
        if pos + r["batch_size"] > len(perm):
            perm, pos = torch.randperm(len(x_train), generator=gen), 0
        idx = perm[pos:pos + r["batch_size"]]
        pos += r["batch_size"]
        pick = torch.randint(0, ids.size(1), (len(idx),), generator=gen)
        cap, cap_len = ids[idx, pick], lens[idx, pick]
        regions, code, words, sentence = model(x_train[idx], cap, cap_len)
        parts = damsm_loss(regions, code, words, sentence, cap_len, class_ids=classes[idx])
        opt.zero_grad(set_to_none=True)
        parts["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.text_encoder.parameters(), r["rnn_grad_clip"])
        opt.step()
        sched.step()
        meter.update(step, steps, parts)
    wall = time.perf_counter() - meter.start
    test_ids, test_lens = tokenized_captions(test.captions, vocab, shapes.MAX_CAPTION_WORDS)
    rp = damsm_r_precision(model, test.images.float() / 255, test_ids, test_lens, scene_ids(test.labels), seed)
    model.eval()
    report = {
        "family": "damsm",
        "config": model.config,
        "recipe": {"data": f"shapes v{shapes.SHAPES_VERSION} train split, {len(x_train)} images x "
                           f"{ids.size(1)} captions, images in [-1, 1]",
                   "objective": "DAMSM word + sentence losses (gamma1 4, gamma2 5, gamma3 10), identical scenes masked",
                   "image_trunk": ("initialised from the shapes attribute classifier's body and frozen (the original "
                                   "freezes ImageNet Inception)") if trunk is not None else "trained from scratch",
                   "optimizer": f"Adam lr {r['lr']} (cosine to {r['lr'] / 10}), betas {r['betas']}, "
                                f"RNN grad clip {r['rnn_grad_clip']}",
                   "batch_size": r["batch_size"], "steps": steps, "seed": seed,
                   "device": f"cpu, {torch.get_num_threads()} thread(s)"},
        "wall_time_s": round(wall, 1),
        "history": meter.history,
        "metrics": r_precision_metrics(rp),
        "parameters": {"text_encoder": sum(p.numel() for p in model.text_encoder.parameters()),
                       "image_encoder": sum(p.numel() for p in model.image_encoder.parameters()),
                       "trained": sum(p.numel() for p in model.parameters() if p.requires_grad)},
    }
    log(f"damsm: test R-precision {rp['r_precision']:.4f} +- {rp['std']:.4f}  ({wall:.0f}s)")
    return model, report


def refine_image_encoder(damsm: Any, *, steps: int, seed: int = 0, text_too: bool = False, n: int | None = None,
                         log: Callable[[str], None] = print) -> tuple[Any, dict[str, Any]]:
    """Retrain the DAMSM image encoder's heads (everything above the frozen trunk) against the
    frozen text encoder, on batches of scenes and their shape twins (zoo_core.data.shapes.
    shape_twins), with the same DAMSM losses.

    Random batches let the encoders match captions by colour, layout and background alone, so
    the first DAMSM's codes barely carry shape (scripts/probe_damsm.py). The text encoder stays
    as it is: every text-to-image model holds a copy of it, so they all stay valid.

    ``text_too``: the text encoder trains as well (RNN gradient clipped at 0.25), and each batch
    holds every scene with its shape, colour and swap twins, so that the sentence code, which
    the first stage of every generator reads, has to carry each object's shape and colour and
    which object the relation puts first (generators swap the two objects of a pair about as
    often as not when it does not). A
    generator then needs training against these encoders (``-K damsm=FOLDER``). ``n`` limits the
    scenes used (default: the whole train split).
    """
    from zoo_core.blocks.damsm import damsm_loss
    from zoo_core.data import shapes

    r = REFINE_RECIPE
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    enc = damsm.image_encoder
    heads = [enc.global_features, enc.emb_features, enc.emb_cnn_code]
    damsm.requires_grad_(False)
    trained = heads + ([damsm.text_encoder] if text_too else [])
    for h in trained:
        h.requires_grad_(True)
    kinds = ("shape", "colour", "swap") if text_too else ("shape",)
    train, twins = shapes.generate("train", n), [shapes.shape_twins("train", n, change=k) for k in kinds]
    x = torch.cat([train.images] + [t.images for t in twins]).float() / 127.5 - 1
    ids, lens = tokenized_captions(train.captions + [c for t in twins for c in t.captions], damsm.vocab,
                                   damsm.max_words)
    classes = scene_ids(torch.cat([train.labels] + [t.labels for t in twins]))
    n = len(train.captions)
    params = [p for h in trained for p in h.parameters()]
    opt = torch.optim.Adam(params, lr=r["lr"], betas=r["betas"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=r["lr"] / 10)
    damsm.eval()
    for h in trained:
        h.train()
    meter = LossMeter("refine", log)
    batch_size = TEXT_REFINE_BATCH if text_too else r["batch_size"]
    part = batch_size // (1 + len(kinds))
    for step in range(1, steps + 1):
        base = torch.randperm(n, generator=gen)[:part]
        idx = torch.cat([base + j * n for j in range(1 + len(kinds))])  # every scene with its twins
        pick = torch.randint(0, ids.size(1), (len(idx),), generator=gen)
        cap, cap_len = ids[idx, pick], lens[idx, pick]
        with torch.set_grad_enabled(text_too):
            words, sentence = damsm.encode_ids(cap, cap_len)
        with torch.no_grad():
            trunk = enc.features(x[idx])
        regions = enc.emb_features(trunk)
        code = enc.emb_cnn_code(enc.global_features(trunk).flatten(1))
        parts = damsm_loss(regions, code, words, sentence, cap_len, class_ids=classes[idx])
        opt.zero_grad(set_to_none=True)
        parts["loss"].backward()
        if text_too:
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
                               "body) frozen" if text_too else
                               "image encoder heads (global_features, emb_features, emb_cnn_code); the trunk (the "
                               "attribute classifier's body) and the text encoder frozen, as first trained"),
                   "optimizer": f"Adam lr {r['lr']} (cosine to {r['lr'] / 10}), betas {r['betas']}",
                   "batch_size": batch_size, "steps": steps, "seed": seed,
                   "device": f"cpu, {torch.get_num_threads()} thread(s)"},
        "wall_time_s": round(wall, 1),
        "history": meter.history,
        "metrics": r_precision_metrics(rp),
    }
    log(f"refined damsm: test R-precision {rp['r_precision']:.4f} +- {rp['std']:.4f}  ({wall:.0f}s)")
    return damsm, report


@torch.no_grad()
def per_attribute_accuracy(model, x01: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    pred = model.predict(x01)
    acc = {k: round(float((pred[:, j] == labels[:, j]).float().mean()), 4) for j, k in enumerate(model.heads_spec)}
    acc["all_attributes"] = round(float((pred == labels).all(1).float().mean()), 4)
    return acc


def train_classifier(*, epochs: int, seed: int = 0, log: Callable[[str], None] = print) -> tuple[Any, dict[str, Any]]:
    from zoo_core.blocks.attribute_classifier import SMALL, ShapesAttributeClassifier, default_heads
    from zoo_core.data import shapes

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    train, test = shapes.generate("train"), shapes.generate("test")
    x_train, y_train = train.images.float() / 255, train.labels
    x_test, y_test = test.images.float() / 255, test.labels
    model = ShapesAttributeClassifier(**SMALL, heads=default_heads())
    heads = list(model.heads_spec)
    r = CLASSIFIER_RECIPE
    opt = torch.optim.AdamW(model.parameters(), lr=r["lr"], weight_decay=r["weight_decay"])
    per_epoch = -(-len(x_train) // r["batch_size"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=r["lr"], total_steps=epochs * per_epoch,
                                                pct_start=r["warmup"])
    start, history = time.perf_counter(), []
    for epoch in range(epochs):
        model.train()
        perm, total = torch.randperm(len(x_train), generator=gen), 0.0
        for i in range(0, len(perm), r["batch_size"]):
            idx = perm[i:i + r["batch_size"]]
            logits = model(x_train[idx])
            loss = sum(F.cross_entropy(logits[k], y_train[idx, j]) for j, k in enumerate(heads))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        acc = per_attribute_accuracy(model, x_test, y_test)
        row = {"epoch": epoch + 1, "loss": round(total / len(x_train), 4), "test_all_attributes": acc["all_attributes"],
               "seconds": round(time.perf_counter() - start, 1)}
        history.append(row)
        log(f"classifier epoch {row['epoch']}  loss {row['loss']:.4f}  {row['seconds']:.0f}s  test accuracy: "
            + ", ".join(f"{k} {v:.3f}" for k, v in acc.items()))
    scale = model.calibrate(x_train)
    model.eval()
    test_acc = per_attribute_accuracy(model, x_test, y_test)
    real = model.caption_accuracy(x_test, [c[0] for c in test.captions])  # the ceiling for generators
    report = {
        "family": "shapes-classifier",
        "config": model.config,
        "recipe": {"data": f"shapes v{shapes.SHAPES_VERSION} train split, {len(x_train)} images in [0, 1]",
                   "objective": "cross-entropy summed over the attribute heads",
                   "optimizer": f"AdamW lr {r['lr']} (one-cycle, {r['warmup']:.0%} warm-up), weight decay {r['weight_decay']}",
                   "feature_scale": f"{scale:.4g}, unit RMS features on the train split",
                   "batch_size": r["batch_size"], "epochs": epochs, "seed": seed,
                   "device": f"cpu, {torch.get_num_threads()} thread(s)"},
        "wall_time_s": round(time.perf_counter() - start, 1),
        "history": history,
        "metrics": {**{f"test_accuracy_{k}": v for k, v in test_acc.items()},
                    "train_accuracy_all_attributes": per_attribute_accuracy(model, x_train, y_train)["all_attributes"],
                    "test_caption_accuracy_real_images": round(real["caption_accuracy"], 4),
                    "test_examples": len(x_test)},
    }
    log("classifier test accuracy: " + ", ".join(f"{k} {v:.4f}" for k, v in test_acc.items())
        + f"; caption accuracy of real test images {real['caption_accuracy']:.4f}")
    return model, report


def save(model, report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    (out / "training.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    size = (out / "model.safetensors").stat().st_size
    print(f"saved {out}: {model.num_parameters():,} parameters, {size / 1e6:.2f} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs")
    parser.add_argument("--only", choices=("damsm", "classifier", "refine", "refine-text"), default=None,
                        help="one step; refine: retrain the image heads of --damsm-from with shape twins; "
                             "refine-text: its text encoder and image heads with shape, colour and swap twins")
    parser.add_argument("--damsm-from", default="damsm.shapes", help="the DAMSM that --only refine starts from")
    parser.add_argument("--refine-steps", type=int, default=REFINE_RECIPE["steps"])
    parser.add_argument("--damsm-steps", type=int, default=DAMSM_RECIPE["steps"])
    parser.add_argument("--classifier-epochs", type=int, default=CLASSIFIER_RECIPE["epochs"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--damsm-trunk", choices=("classifier", "scratch"), default="classifier",
                        help="start the DAMSM image trunk from the attribute classifier (frozen) or from scratch")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    from zoo_core.data import shapes

    shapes.generate("train"), shapes.generate("test")
    print(f"shapes v{shapes.SHAPES_VERSION}: {shapes.SPLIT_SIZES} generated in {time.perf_counter() - t0:.1f}s")
    classifier = None
    if args.only in (None, "classifier"):
        classifier, report = train_classifier(epochs=args.classifier_epochs, seed=args.seed)
        save(classifier, report, args.out / "shapes-classifier")
    if args.only in (None, "damsm"):
        if args.damsm_trunk == "classifier" and classifier is None:
            from zoo_core.blocks.attribute_classifier import ShapesAttributeClassifier

            classifier = ShapesAttributeClassifier.from_pretrained(str(args.out / "shapes-classifier"))
        trunk = classifier if args.damsm_trunk == "classifier" else None
        save(*train_damsm(steps=args.damsm_steps, seed=args.seed, trunk=trunk), args.out / "damsm-shapes")
    if args.only in ("refine", "refine-text"):
        from zoo_core.blocks.t2i_training import load_damsm

        text_too = args.only == "refine-text"
        damsm = load_damsm(args.damsm_from)
        out = args.out / ("damsm-shapes-text-twins" if text_too else "damsm-shapes-twins")
        save(*refine_image_encoder(damsm, steps=args.refine_steps, seed=args.seed, text_too=text_too), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
