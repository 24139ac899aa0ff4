"""What the generator probes (probe_relations, probe_diversity, probe_shapes, probe_stages,
probe_softened, probe_heads) share: their command line's common part, the test prompts, and the
model with the shapes attribute classifier that judges it."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def probe_parser(doc: str) -> argparse.ArgumentParser:
    """A parser taking MODEL, --seed and --json, described by the first paragraph of ``doc``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("model", help="catalog name or model folder of a shapes text-to-image model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    return parser


def positive_int(text: str) -> int:
    """An argparse ``type``: a whole number of at least 1 (a count of prompts or samples)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1; give at least 1")
    return value


def test_prompts(n: int) -> list[str]:
    """The first ``n`` test scenes' captions, one each (the caption index cycling over the
    scene's captions so every wording appears)."""
    from zoo_core.data.shapes import generate

    return [c[i % len(c)] for i, c in enumerate(generate("test").captions[:n])]


def load_probed(name: str) -> tuple[Any, Any]:
    """(the model, the shapes attribute classifier), on one thread so numbers repeat."""
    import torch

    import zoo
    from zoo_core.blocks.attn_shapes import load_shapes_classifier

    torch.set_num_threads(1)
    return zoo.load(name, progress=False), load_shapes_classifier(None)
