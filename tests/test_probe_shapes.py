"""scripts/probe_shapes.py: its prompts ask for what it scores, and the table it builds."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from probe_shapes import confusion, single_shape_prompts  # noqa: E402


def test_prompts_state_exactly_the_shape_and_size_they_are_scored_against():
    from zoo_core.data.shapes import SHAPES, SIZES, parse_caption

    prompts, asked = single_shape_prompts(3)
    assert len(prompts) == 3 * len(SHAPES) * len(SIZES) and len(set(asked)) == len(SHAPES) * len(SIZES)
    for prompt, (size, shape) in zip(prompts, asked):
        parsed = parse_caption(prompt)
        assert (parsed["size0"], parsed["shape0"]) == (size, shape) and "shape1" not in parsed
    # every cell gets the same colours and positions, so cells differ only in what is scored
    def colours_and_places(cell):
        return [(p.split()[2], " ".join(p.split()[4:])) for p, a in zip(prompts, asked) if a == cell]

    assert len({tuple(colours_and_places(cell)) for cell in set(asked)}) == 1


def test_confusion_counts_what_each_asked_shape_became():
    asked = [("large", "square")] * 4 + [("small", "star")] * 2
    drawn = ["square", "circle", "circle", "square", "star", "cross"]
    table = confusion(asked, drawn)
    assert table["large"]["square"] == {"right": 0.5, "drawn": {"square": 2, "circle": 2}}
    assert table["small"]["star"]["right"] == 0.5 and table["small"]["star"]["drawn"] == {"star": 1, "cross": 1}
