#!/usr/bin/env python
"""How much do a text-to-image model's samples of one caption vary, next to real images that
fit the same caption? A direct test on the shapes captions.

    python scripts/probe_diversity.py MODEL [--prompts 100] [--k 4] [--seed 0] [--json]

For each of the first ``prompts`` test captions the model draws ``k`` samples (sample i has its
own noise), and ``k`` training images of which the caption is true stand for what the caption
allows. Both sets go through the shapes feature extractor (the FID features). Reported:

- ``within_model`` / ``within_real``: the mean distance between two images of one caption;
- ``ratio``: within_model / within_real (1.0: as varied as the real images the caption fits;
  near 0: the noise is ignored, every sample the same picture);
- ``background_varies``: of the captions that leave the background open, how often the k
  samples show more than one background colour (``background_varies_real`` for the real sets).

Samples that vary but break the caption are not rewarded here: read this next to
``caption_accuracy`` from ``zoo eval``.
"""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from probe_common import load_probed, probe_parser  # noqa: E402


def mean_pairwise_distance(features, k: int) -> float:
    """Mean L2 distance between rows of the same group (consecutive groups of k rows)."""
    import torch

    groups = features.view(-1, k, features.shape[1])
    d = torch.cdist(groups, groups)  # (groups, k, k)
    return float(d.sum() / (groups.shape[0] * k * (k - 1)))


def varied_backgrounds(backgrounds: list[str], k: int, keep: list[bool]) -> float:
    """Of the groups kept, the fraction whose k predicted backgrounds are not all the same."""
    groups = [backgrounds[i * k:(i + 1) * k] for i in range(len(keep))]
    chosen = [len(set(g)) > 1 for g, ok in zip(groups, keep) if ok]
    return sum(chosen) / max(len(chosen), 1)


def main(argv: list[str] | None = None) -> int:
    parser = probe_parser(__doc__)
    parser.add_argument("--prompts", type=int, default=100, help="test captions to draw")
    parser.add_argument("--k", type=int, default=4, help="samples (and real images) per caption")
    args = parser.parse_args(argv)
    if args.prompts < 1 or args.k < 2:
        parser.error("--prompts must be at least 1 and --k at least 2")

    import torch

    from zoo_core.data.shapes import generate, is_true_of, parse_caption

    model, clf = load_probed(args.model)
    train = generate("train")
    pick = random.Random(args.seed)
    captions, real_rows = [], []
    for caps in generate("test").captions:
        fits = [i for i, attrs in enumerate(train.attributes) if is_true_of(caps[0], attrs)]
        if len(fits) >= args.k:  # every test caption has many in practice; skip any that has not
            captions.append(caps[0])
            real_rows.extend(pick.sample(fits, args.k))
        if len(captions) == args.prompts:
            break
    prompts = [c for c in captions for _ in range(args.k)]
    fake = model.sample(len(prompts), prompt=prompts, generator=args.seed, progress=False).images01()
    real = torch.as_tensor(train.images[real_rows]).float() / 255
    with torch.no_grad():
        f_fake, f_real = clf.extract(fake)[0], clf.extract(real)[0]
    open_bg = [("background" not in parse_caption(c)) for c in captions]
    within_model, within_real = mean_pairwise_distance(f_fake, args.k), mean_pairwise_distance(f_real, args.k)
    result = {"model": args.model, "captions": len(captions), "k": args.k,
              "within_model": round(within_model, 4), "within_real": round(within_real, 4),
              "ratio": round(within_model / within_real, 3),
              "background_varies": round(varied_backgrounds(
                  [p["background"] for p in clf.predict_attributes(fake)], args.k, open_bg), 3),
              "background_varies_real": round(varied_backgrounds(
                  [p["background"] for p in clf.predict_attributes(real)], args.k, open_bg), 3)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.model}: {len(captions)} captions x {args.k} samples: distance within a caption "
              f"{result['within_model']:.3f} vs {result['within_real']:.3f} for real images it fits "
              f"(ratio {result['ratio']:.2f}); background varies where left open "
              f"{result['background_varies']:.2f} (real {result['background_varies_real']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
