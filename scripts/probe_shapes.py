#!/usr/bin/env python
"""Which shapes does a text-to-image model draw, when asked for one shape? A confusion table
per shape and size on the shapes captions.

    python scripts/probe_shapes.py MODEL [--per-cell 40] [--seed 0] [--json]

For each size (small, big) and each of the six shapes the model draws ``per-cell`` one-object
prompts ("a big red square at the top"), colours and positions taken in turn so every cell
sees the same mix, one sample per prompt. The shapes attribute classifier names the shape
drawn. Reported per size: each asked shape's share drawn right and what the rest became
(``drawn``: shape -> count). ``zoo eval``'s caption accuracy says how often a whole caption is
met; this says which shapes fail and into what.
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from probe_common import load_probed, positive_int, probe_parser  # noqa: E402

SIZE_WORD = {"small": "small", "large": "big"}


def single_shape_prompts(per_cell: int) -> tuple[list[str], list[tuple[str, str]]]:
    """(prompts, (size, shape) each asks for): ``per_cell`` prompts per size and shape, with
    colours and positions cycled the same way in every cell."""
    from zoo_core.data.shapes import COLOURS, POSITION_PHRASES, SHAPES, SIZES

    colours, positions = list(COLOURS), [p[0] for p in POSITION_PHRASES.values()]
    prompts, asked = [], []
    for size in SIZES:
        for shape in SHAPES:
            for i in range(per_cell):
                prompts.append(f"a {SIZE_WORD[size]} {colours[i % len(colours)]} {shape} {positions[i % len(positions)]}")
                asked.append((size, shape))
    return prompts, asked


def confusion(asked: list[tuple[str, str]], drawn: list[str]) -> dict[str, dict[str, dict]]:
    """{size: {shape: {"right": share drawn as asked, "drawn": {shape: count}}}}."""
    table: dict[str, dict[str, Counter]] = {}
    for (size, shape), got in zip(asked, drawn):
        table.setdefault(size, {}).setdefault(shape, Counter())[got] += 1
    return {size: {shape: {"right": round(c[shape] / sum(c.values()), 3), "drawn": dict(c.most_common())}
                   for shape, c in row.items()} for size, row in table.items()}


def main(argv: list[str] | None = None) -> int:
    parser = probe_parser(__doc__)
    parser.add_argument("--per-cell", type=positive_int, default=40, help="prompts per size and shape")
    args = parser.parse_args(argv)

    import torch


    model, clf = load_probed(args.model)
    prompts, asked = single_shape_prompts(args.per_cell)
    images = model.sample(len(prompts), prompt=prompts, generator=args.seed, progress=False).images01()
    with torch.no_grad():
        drawn = [p["shape0"] for p in clf.predict_attributes(images)]
    table = confusion(asked, drawn)
    if args.json:
        print(json.dumps({"model": args.model, "per_cell": args.per_cell, "sizes": table}, indent=2))
        return 0
    for size, row in table.items():
        print(f"{SIZE_WORD[size]}:")
        for shape, cell in row.items():
            wrong = ", ".join(f"{k} {v}" for k, v in cell["drawn"].items() if k != shape)
            print(f"  {shape:9s} {cell['right']:.2f}" + (f"  (else: {wrong})" if wrong else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
