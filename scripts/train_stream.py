"""Train MirrorGAN's STREAM captioner on the shapes train split, freeze it and save it, with its
test quality (caption cross-entropy, and how often its greedy caption of a real test image is
true of it). MirrorGAN's trainer takes the folder with ``-K stream=FOLDER``.

    python scripts/train_stream.py --trunk conv --steps 6000 --out runs/mirrorgan-stream-conv

``--trunk damsm`` (what the small config trains by default) reuses the frozen DAMSM image trunk
and trains the head and decoder only; ``--trunk conv`` trains a convolutional trunk too.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def train_captioner(trunk: str, steps: int, *, damsm: str | None = None, batch_size: int = 64, lr: float = 1e-3,
                    seed: int = 0, n: int | None = None, eval_n: int = 1000, log=print):
    """(STREAM, report): a captioner of the small config's sizes with ``trunk``, fitted on the
    first ``n`` train scenes (all by default) and scored on ``eval_n`` test scenes."""
    import torch

    from plugins.mirrorgan.config import STREAM as STREAM_CONFIGS
    from plugins.mirrorgan.stream import evaluate_stream, train_stream
    from plugins.mirrorgan.train import build_stream
    from zoo_core.blocks.attn_shapes import shapes_data
    from zoo_core.blocks.t2i_training import damsm_name, load_damsm

    torch.manual_seed(seed)
    encoders = load_damsm(damsm)
    stream = build_stream({**STREAM_CONFIGS["small"], "trunk": trunk}, len(encoders.vocab), encoders.max_words)
    if trunk == "damsm":
        stream.cnn.load_damsm_trunk(encoders.image_encoder)
    target = SimpleNamespace(vocab=encoders.vocab, max_words=encoders.max_words, sizes=[64])
    report = train_stream(stream, shapes_data(target, n=n), steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                          log=log)
    report.update(evaluate_stream(stream, encoders.vocab, n=eval_n))
    report.update(trunk=trunk, vocabulary=damsm_name(damsm), batch_size=batch_size, lr=lr, seed=seed)
    return stream, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="train MirrorGAN's STREAM captioner on the shapes data")
    parser.add_argument("--trunk", choices=("damsm", "conv"), default="conv")
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--damsm", default=None, help="DAMSM whose vocabulary (and trunk) to use (default damsm.shapes)")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    if args.out.exists():
        print(f"error: {args.out} exists; pick a new --out", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(args.threads)
    stream, report = train_captioner(args.trunk, args.steps, damsm=args.damsm, batch_size=args.batch_size,
                                     lr=args.lr, seed=args.seed)
    stream.save(str(args.out))
    (args.out / "stream-report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
