#!/usr/bin/env python
"""Train a family's model with its plugin trainer and save it as a zoo model folder.

    python scripts/train.py FAMILY --config small --out DIR [--epochs E] [--seed S]

The trainer is found through the catalog (the family's ``trainer`` import path), trained,
saved with ``save_pretrained(DIR)`` (config.json, model.safetensors), its report written to
DIR/training.json (read by scripts/publish.py for the model card), and a grid of 64 samples
(seed 0) to DIR/../FAMILY-samples.png.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def find_family(name: str):
    """The Family record from the catalog; falls back to importing the first-party plugin
    `plugins.<name>` when the project is not pip-installed (no entry points)."""
    from zoo_core.catalog import get_catalog
    from zoo_core.errors import CatalogError

    try:
        return get_catalog().family(name)
    except CatalogError:
        try:
            import importlib

            module = importlib.import_module(f"plugins.{name}")
        except ImportError:
            raise CatalogError(f"no installed plugin provides the family {name!r}") from None
        for fam in module.zoo_families():
            if fam.name == name:
                return fam
        raise


def save_grid(model, path: Path, n: int = 64, seed: int = 0) -> None:
    from torchvision.utils import save_image

    condition = None
    if getattr(model, "condition_required", False):
        # a fixed, varied set of test prompts (text) or labels 0..9 (class-conditional)
        if model.condition_kind == "text":
            from zoo_core.data.shapes import load_shapes

            condition = [caps[0] for caps in load_shapes("test", with_captions=True, n=8)[1]]
        else:
            condition = list(range(10))
    samples = model.sample(n, generator=seed, condition=condition)
    save_image(samples.images01(), str(path), nrow=8, padding=2, pad_value=1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("family")
    parser.add_argument("--config", default="small", help="named config of the family (default: small)")
    parser.add_argument("--out", required=True, type=Path, help="model folder to write")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dataset", default=None,
                        help="data set the card names (what `zoo eval` compares with; default: the trainer's)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for training (default: the trainer's own, 2 for first-party)")
    parser.add_argument("--device", default=None,
                        help="torch device to train on, e.g. cuda (default: the trainer's own, the CPU)")
    parser.add_argument("-K", "--trainer-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="extra keyword argument of the family's trainer, repeatable; the value is "
                             "read as JSON when it parses (numbers, true/false, lists), else as text "
                             "(e.g. -K init_from=runs/attngan -K lr=1e-4)")
    args = parser.parse_args(argv)
    extra: dict = {}
    for pair in args.trainer_arg:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            parser.error(f"-K takes KEY=VALUE, got {pair!r}")
        try:
            extra[key.replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            extra[key.replace("-", "_")] = value

    from zoo_core.errors import ZooError
    from zoo_core.lazy import import_object

    fam = find_family(args.family)
    if not fam.trainer:
        print(f"family {args.family!r} has no trainer", file=sys.stderr)
        return 2
    trainer = import_object(fam.trainer)
    start = time.perf_counter()
    kwargs = ({"threads": args.threads} if args.threads else {}) | ({"device": args.device} if args.device else {}) | extra
    if args.device and args.device.startswith("cuda"):
        import torch

        torch.backends.cuda.matmul.allow_tf32 = True  # small GAN matmuls: TF32 is ample, fp32 slower
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    try:
        model, report = trainer(args.config, epochs=args.epochs, seed=args.seed, **kwargs)
    except TypeError as exc:
        if "unexpected keyword" not in str(exc):
            raise
        print(f"{args.family} trainer: {exc}", file=sys.stderr)
        return 2
    except ZooError as exc:  # a trainer argument or data that cannot be used: one line, no traceback
        print(f"{args.family} trainer: {exc}", file=sys.stderr)
        return 2
    model = model.cpu()  # saved and sampled on the CPU whatever it trained on
    report = dict(report)
    report.setdefault("wall_time_s", round(time.perf_counter() - start, 1))
    report["config_name"] = args.config

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    model.dataset = args.dataset or report.get("dataset")
    model.save_pretrained(out)
    (out / "training.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    grid = out.parent / f"{args.family}-samples.png"
    save_grid(model, grid)
    size = (out / "model.safetensors").stat().st_size
    print(f"saved {out} ({model.num_parameters():,} parameters, {size / 1e6:.2f} MB); "
          f"trained in {report['wall_time_s']:.0f}s; samples: {grid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
