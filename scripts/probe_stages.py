#!/usr/bin/env python
"""Where along a staged text-to-image model do captions get lost? Caption accuracy of every
stage's image, not only the last.

    python scripts/probe_stages.py MODEL [--prompts 300] [--seed 0] [--json]

The same test captions and seeds are drawn at every stage (``--stage k``); each stage's image is
resized to 64x64 (bilinear) and the shapes attribute classifier scores it against its caption.
A coarse stage that already misses colours or swaps a pair points at the trunk and its
conditioning; one that follows the caption while later stages do not points at the refiners.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from probe_common import load_probed, positive_int, probe_parser, test_prompts  # noqa: E402

SHOWN = ("caption_accuracy", "caption_accuracy_colour0", "caption_accuracy_colour1", "caption_accuracy_shape0",
         "caption_accuracy_shape1", "caption_pairs_swapped")


def stage_scores(draw: Callable[[int], Any], score: Callable[[Any], dict[str, float]],
                 side: int = 64) -> list[dict[str, float]]:
    """Scores of each stage's images: ``draw(k)`` returns stage k's images in [0, 1] (raising
    ``BadInputError`` past the last stage), ``score`` judges images of ``side`` pixels."""
    import torch.nn.functional as F

    from zoo_core.errors import BadInputError

    scores = []
    while True:
        try:
            images = draw(len(scores))
        except BadInputError:
            break
        if images.shape[-1] != side:
            images = F.interpolate(images.float(), size=(side, side), mode="bilinear",
                                   align_corners=False).clamp(0, 1)
        scores.append(score(images))
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = probe_parser(__doc__)
    parser.add_argument("--prompts", type=positive_int, default=300, help="test captions to draw")
    args = parser.parse_args(argv)
    model, clf = load_probed(args.model)
    prompts = test_prompts(args.prompts)

    def draw(k: int) -> Any:
        return model.sample(len(prompts), prompt=prompts, generator=args.seed, stage=k, progress=False).images01()

    scores = stage_scores(draw, lambda x: clf.caption_accuracy(x, prompts))
    if args.json:
        print(json.dumps({"model": args.model, "prompts": len(prompts), "stages": scores}, indent=2))
        return 0
    labels = [key.replace("caption_accuracy_", "").replace("caption_", "") for key in SHOWN]
    print("stage  " + "  ".join(labels))
    for k, s in enumerate(scores):
        print(f"{k:5d}  " + "  ".join(f"{s.get(key, float('nan')):.3f}".rjust(len(label))
                                      for key, label in zip(SHOWN, labels)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
