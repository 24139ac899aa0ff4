"""Write a StackGAN++ generator tree made FACTOR times wider (gf_dim), drawing the same images,
for training to continue at the new width (Net2WiderNet by channel copies;
plugins/stackgan_pp/widen.py):

    python scripts/widen_stackgan_pp.py hub/zoo-models/stackgan-pp-shapes runs/pp-wide0 --factor 2
    python scripts/train.py stackgan-pp --config small -K init_from=runs/pp-wide0 ...
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plugins.stackgan_pp.model import StackGANpp  # noqa: E402
from plugins.stackgan_pp.widen import widen  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="a saved StackGAN++ folder")
    parser.add_argument("out", help="folder to write (must not exist)")
    parser.add_argument("--factor", type=int, default=2, help="width multiple (default 2)")
    parser.add_argument("--noise", type=float, default=0.25, help="zero-sum noise on the split weights, "
                        "times each weight's std (default 0.25); the images do not change")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.exists():
        parser.error(f"{out} exists; give a new folder")
    if not (Path(args.source) / "config.json").is_file():
        parser.error(f"{args.source} holds no config.json; give a saved StackGAN++ folder")
    if args.factor < 1:
        parser.error("--factor must be 1 or more")
    model = StackGANpp.from_pretrained(args.source)
    wide = widen(model, factor=args.factor, noise=args.noise, seed=args.seed)
    wide.save_pretrained(out)
    print(f"wrote {out}: gf_dim {model.gf_dim} -> {wide.gf_dim}, generator parameters "
          f"{model.num_generator_parameters():,} -> {wide.num_generator_parameters():,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
