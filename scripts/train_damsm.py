#!/usr/bin/env python
"""Train the shapes DAMSM encoders and the shapes attribute classifier (text-to-image foundation).

    python scripts/train_damsm.py [--out runs] [--only damsm|classifier|refine|refine-text|refine-order]
        [--damsm-steps 900] [--classifier-epochs 6] [--damsm-trunk classifier|scratch] [--seed 0]
        [--damsm-from damsm.shapes] [--refine-steps 600]

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

3. Refinements of ``--damsm-from`` on twins (scripts/damsm_refine.py): ``--only refine``, the
   image encoder's heads on scenes and their shape twins (OUT/damsm-shapes-twins);
   ``refine-text``, the text encoder as well, with shape, colour and swap twins
   (OUT/damsm-shapes-text-twins); ``refine-order``, the text encoder and heads on scenes and
   their swap twins only, so that the sentence code says which object of a pair comes first
   (OUT/damsm-shapes-order).

Each folder holds config.json, model.safetensors and training.json (the report). Both run on
one CPU thread.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from damsm_common import (CLASSIFIER_RECIPE, DAMSM_RECIPE, REFINE_RECIPE, LossMeter,  # noqa: E402
                          damsm_r_precision, r_precision_metrics, save, scene_ids, tokenized_captions)
from damsm_refine import refine_damsm  # noqa: E402

# --only choice: (refine_damsm mode, output folder)
REFINEMENTS = {"refine": ("heads", "damsm-shapes-twins"), "refine-text": ("text", "damsm-shapes-text-twins"),
               "refine-order": ("order", "damsm-shapes-order")}


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



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs")
    parser.add_argument("--only", choices=("damsm", "classifier", *REFINEMENTS), default=None,
                        help="one step; refine: retrain the image heads of --damsm-from with shape twins; "
                             "refine-text: its text encoder and image heads with shape, colour and swap twins; "
                             "refine-order: both on scenes and their swap twins only")
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
    if args.only in REFINEMENTS:
        from zoo_core.blocks.t2i_training import load_damsm

        mode, folder = REFINEMENTS[args.only]
        damsm = load_damsm(args.damsm_from)
        save(*refine_damsm(damsm, steps=args.refine_steps, seed=args.seed, mode=mode), args.out / folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
