#!/usr/bin/env python
"""Does a text-to-image model read the relation word? A direct test on the shapes captions.

    python scripts/probe_relations.py MODEL [--n 300] [--seed 0] [--json]

For the first n test captions naming two objects of different colours ("a red circle above a
blue square"), the model draws the caption and its reversed twin ("a red circle below a blue
square") from the same noise; the attribute classifier says which colour is upper (or left) in
each image. Reported:

- ``follows_both``: both images put the objects where their captions say (1.0 for a model that
  reads the relation; one that ignores it draws the same order from the same noise, so at most
  one of the two is right, and scores 0);
- ``unchanged``: the drawn order is the same for both captions (the relation word is ignored);
- ``follows``: the fraction of the 2n images in the stated order (chance about 0.5).

``caption_pairs_swapped`` (``zoo eval --metrics caption_accuracy``) counts wrong orders; this
separates "ignores the relation" from "reads it sometimes".
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from probe_common import load_probed, positive_int, probe_parser  # noqa: E402

# relation phrase -> its reverse, longest first so "to the left of" is not read as "left of"
REVERSED = {"to the left of": "to the right of", "on the left of": "to the right of", "left of": "right of",
            "to the right of": "to the left of", "right of": "left of", "on top of": "beneath",
            "underneath": "above", "beneath": "on top of", "above": "below", "below": "above",
            "over": "under", "under": "over"}


def reverse_relation(caption: str) -> str | None:
    """The caption with its relation phrase reversed ("above" -> "below"), or None if it has none."""
    for phrase in sorted(REVERSED, key=len, reverse=True):
        match = re.search(rf"\b{phrase}\b", caption)
        if match:
            return caption[:match.start()] + REVERSED[phrase] + caption[match.end():]
    return None


def main(argv: list[str] | None = None) -> int:
    parser = probe_parser(__doc__)
    parser.add_argument("--n", type=positive_int, default=300, help="caption pairs to test")
    args = parser.parse_args(argv)

    from zoo_core.data.shapes import generate, parse_caption

    model, clf = load_probed(args.model)
    pairs = []
    for caps in generate("test").captions:
        stated, reverse = parse_caption(caps[0]), reverse_relation(caps[0])
        if "colour1" in stated and stated["colour0"] != stated["colour1"] and reverse:
            pairs.append((caps[0], reverse))
        if len(pairs) == args.n:
            break
    upper = []
    for prompts in ([a for a, _ in pairs], [b for _, b in pairs]):
        x = model.sample(len(prompts), prompt=prompts, generator=args.seed, progress=False).images01()
        upper.append([p["colour0"] for p in clf.predict_attributes(x)])
    right = [[u == parse_caption(c)["colour0"] for u, c in zip(upper[k], [p[k] for p in pairs])] for k in (0, 1)]
    n = len(pairs)
    result = {"model": args.model, "pairs": n,
              "follows_both": round(sum(a and b for a, b in zip(*right)) / n, 3),
              "unchanged": round(sum(a == b for a, b in zip(*upper)) / n, 3),
              "follows": round((sum(right[0]) + sum(right[1])) / (2 * n), 3)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.model}: {n} caption pairs with the relation reversed: both drawn as stated "
              f"{result['follows_both']:.3f}, order unchanged {result['unchanged']:.3f}, "
              f"images in the stated order {result['follows']:.3f} (chance ~0.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
