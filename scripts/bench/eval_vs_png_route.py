#!/usr/bin/env python
"""`zoo eval` against the classic route, on the same N samples and the same feature extractor.

    python scripts/bench/eval_vs_png_route.py [MODEL] [-n 1000] [--seed 0] [--metrics fid,kid,isc]

Classic route: draw N samples, write them as PNG files, write the reference split as PNG files,
then run torch-fidelity's command line (`fidelity --input1 DIR --input2 DIR ...`) in a fresh
process. Zoo route: `zoo_core.evaluate`, which streams the model through torch-fidelity as a
GenerativeModelBase (no files), with the reference registered in memory; timed cold (no
feature cache) and warm (reference features cached by content hash).
Both routes see bit-identical uint8 images, so the metrics must agree; the script checks that
and prints the speed ratio. MODEL defaults to dcgan.digits (an untrained DCGAN if that is
not in the catalog).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FLAGS = {"fid": "--fid", "kid": "--kid", "isc": "--isc", "prc": "--prc"}
KEYS = {"fid": ("frechet_inception_distance", "fid"), "kid": ("kernel_inception_distance_mean", "kid"),
        "isc": ("inception_score_mean", "isc"), "prc": ("precision", "prc_precision")}
LAUNCH = ("import sys; from zoo_core.evaluation.extractors import register_zoo_extractors; "
          "register_zoo_extractors(); from torch_fidelity.fidelity import main; sys.argv[0] = 'fidelity'; main()")


def write_pngs(images01, folder: Path) -> None:
    from PIL import Image

    from zoo_core.evaluation.fidelity import to_uint8_rgb

    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(to_uint8_rgb(images01)):
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(folder / f"{i:06d}.png")


def load_model(name: str):
    import torch

    from zoo_core.catalog import get_catalog

    if name in get_catalog().specs or "." not in name and any(s.arch == name for s in get_catalog().specs.values()):
        from zoo_core.loading import load

        return load(name, progress=False), name
    from plugins.dcgan.model import DCGAN

    torch.manual_seed(0)
    return DCGAN().eval(), "untrained DCGAN (dcgan.digits not in the catalog)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default="dcgan.digits")
    parser.add_argument("-n", "--num-samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--metrics", default="fid,kid,isc")
    args = parser.parse_args(argv)
    metrics = [m for m in args.metrics.split(",") if m]
    bad = [m for m in metrics if m not in FLAGS]
    if bad:
        parser.error(f"this bench compares torch-fidelity metrics only ({', '.join(FLAGS)}), not {bad[0]}")

    from zoo_core.datasets import load_dataset
    from zoo_core.evaluation import evaluate
    from zoo_core.evaluation.fidelity import ZooGenerator, draw

    model, label = load_model(args.model)
    dataset = getattr(model.spec, "dataset", None) or "digits"
    n = args.num_samples
    with tempfile.TemporaryDirectory(prefix="zoo-bench-") as tmp:
        tmp = Path(tmp)
        os.environ["ZOO_EVAL_CACHE"] = str(tmp / "feature-cache")
        # zoo route: cold, then warm (reference features cached)
        t0 = time.perf_counter()
        cold = evaluate(model, metrics, n, args.seed, reference=dataset)
        t_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        evaluate(model, metrics, n, args.seed, reference=dataset)
        t_warm = time.perf_counter() - t0
        ext = cold["protocol"]["feature_extractor"]

        # classic route: the same samples, written as PNG, scored by torch-fidelity's CLI
        t0 = time.perf_counter()
        gen = ZooGenerator(model, keep=True)
        draw(gen, n, args.seed)
        write_pngs(gen.samples01(), tmp / "samples")
        t_write = time.perf_counter() - t0
        h = gen.samples01().shape[-1]
        write_pngs(load_dataset(dataset, "train", size=h), tmp / "reference")  # prepared once, not timed
        kid = min(1000, n, len(list((tmp / "reference").iterdir())))
        cmd = [sys.executable, "-c", LAUNCH, "--input1", str(tmp / "samples"), "--input2", str(tmp / "reference"),
               *(FLAGS[m] for m in metrics), "--feature-extractor", ext["name"],
               "--feature-extractor-weights-path", ext["weights"], "--kid-subset-size", str(kid),
               "--rng-seed", str(args.seed), "--cpu", "--json", "--silent", "--no-cache"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        t_cli = time.perf_counter() - t0
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
            return 1
        classic = json.loads(proc.stdout[proc.stdout.index("{"):])

    t_classic = t_write + t_cli
    print(f"model: {label}; {n} samples, seed {args.seed}; extractor {ext['name']} "
          f"(sha256 {ext['weights_sha256'][:12]}); metrics {', '.join(metrics)}")
    print(f"{'route':44s} {'seconds':>8s}")
    print(f"{'classic: sample + write PNG':44s} {t_write:8.2f}")
    print(f"{'classic: torch-fidelity CLI on the folders':44s} {t_cli:8.2f}")
    print(f"{'classic total':44s} {t_classic:8.2f}")
    print(f"{'zoo eval, cold (reference features computed)':44s} {t_cold:8.2f}")
    print(f"{'zoo eval, warm (reference features cached)':44s} {t_warm:8.2f}")
    print(f"speed ratio classic/zoo: {t_classic / t_cold:.2f}x cold, {t_classic / t_warm:.2f}x warm")
    ok = True
    for m in metrics:
        theirs, ours = classic[KEYS[m][0]], cold["metrics"][KEYS[m][1]]
        same = abs(theirs - ours) <= 1e-6 * max(1.0, abs(theirs))
        ok &= same
        print(f"{m}: classic {theirs:.6g}  zoo {ours:.6g}  {'equal' if same else 'DIFFERENT'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
