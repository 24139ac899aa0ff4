#!/usr/bin/env python
"""Recompute the metrics of every bundled model; write them into its model card and registry.yaml.

    python scripts/eval_all.py [--num-samples N] [--seed 0] [--only NAME ...] [--dry-run]

For each data set of the first-party catalog, a "real data" row (the test split scored against
the train split exactly like a model) gives the floor. Every model is scored with every metric
that applies to it, on N samples (default: the size of the test split, so its numbers compare
with the floor), against the train split, with the data set's zoo feature extractor.
The card's "## Metrics" section is rewritten (the rest of the card is kept), the repo is
re-published into the mirror (new content revision and sha256s) and its registry.yaml entry
updated; full JSON reports go to out/eval/.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "scripts"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

# (key, direction) stored in registry.yaml and shown in the card, in order
SHOWN = (("fid", "↓"), ("kid", "↓"), ("isc", "↑"), ("prc_precision", "↑"), ("prc_recall", "↑"),
         ("prc_density", "↑"), ("prc_coverage", "↑"), ("nll_bits_per_dim", "↓"), ("nll_bound_bits_per_dim", "↓"),
         ("memorization_near_copy_fraction", "↓"), ("memorization_nn_distance_ratio", "↑"),
         ("r_precision", "↑"), ("caption_accuracy", "↑"), ("caption_pairs_swapped", "↓"))
NOT_GENERATIVE = {"feature-extraction", "text-image-matching"}  # encoders and classifiers: nothing to sample
EVAL_KEYS = {k for k, _ in SHOWN} | {"real_data", "eval", "nll_space"}


def sig(v: float) -> float:
    return float(f"{v:.4g}")


def summary(report: dict[str, Any]) -> str:
    p = report["protocol"]
    ext = p.get("feature_extractor", {})
    return (f"{p['num_samples']} samples, seed {p['seed']}, vs {p['reference']['dataset']}:{p['reference']['split']}, "
            f"{ext.get('name')}@{ext.get('weights_sha256', '')[:12]}, torch-fidelity {p['versions']['torch_fidelity']}")


def metrics_section(report: dict[str, Any], floor: dict[str, Any], extra: dict[str, Any]) -> str:
    p, m, f = report["protocol"], report["metrics"], floor["metrics"]
    ref, ext, v = p["reference"], p["feature_extractor"], p["versions"]
    acc = ext.get("test_accuracy")
    lines = [
        "## Metrics", "",
        f"Measured by `zoo eval` (scripts/eval_all.py) on {p['num_samples']} samples (seed {p['seed']}) against "
        f"{ref['dataset']}:{ref['split']} ({ref['examples']} images, sha256 `{ref['sha256'][:12]}`), with "
        f"features from `{ext['name']}` ({ext.get('model')}, weights sha256 `{ext['weights_sha256'][:12]}`"
        + (f", test accuracy {acc:.1%}" if acc else "") + f"); images {p['images']['sample_shape']}, resize: "
        f"{p['images']['resize']}; torch {v['torch']}, torch-fidelity {v['torch_fidelity']}, zoo {v['zoo']}, "
        f"{p['device']}, {p['wall_time_s']:.0f} s.",
        (f"Samples are conditioned on the {p['conditions']['source']}. " if p.get("conditions") else "")
        + f"The *real data* column scores the {ref['dataset']} test split ({floor['protocol']['num_samples']} images) "
        "the same way: the floor a perfect model would reach at this sample count.",
        "",
        "| metric | this model | real data (test vs train) |", "|---|---|---|",
    ]
    for key, arrow in SHOWN:
        if key in m:
            lines.append(f"| {key} {arrow} | {m[key]:.4g} | {f[key]:.4g} |" if key in f else
                         f"| {key} {arrow} | {m[key]:.4g} | – |")
    for key, value in extra.items():
        lines.append(f"| {key} | {value} | – |")
    if "nll" in p:
        lines += ["", f"Log-likelihood: {p['nll']['space']} on {p['nll']['examples']} test images"
                  + ("; the VAE's ELBO, so an upper bound on bits/dim." if p["nll"]["bound"] else ".")]
    if "memorization" in p:
        lines += ["", f"Memorisation: {p['memorization']['near_copy']} (real data: "
                  f"{m['memorization_near_copy_fraction_real']:.3f} by construction)."]
    return "\n".join(lines) + "\n"


def replace_section(card: str, section: str) -> str:
    """Swap the card's '## Metrics' section (up to the next '## ') for `section`, or append it."""
    lines = card.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == "## Metrics"), None)
    if start is None:
        return card.rstrip() + "\n\n" + section
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    rest = "".join(lines[end:])
    return "".join(lines[:start]) + section + ("\n" + rest if rest else "")


def republish(spec: Any, card: str, mirror: Path, registry: Path, metrics: dict[str, Any], raw: dict[str, Any]) -> str:
    import publish  # scripts/publish.py

    from zoo_core.hub.publish import write_to_mirror

    src = mirror / spec.repo_id
    with tempfile.TemporaryDirectory(prefix="zoo-eval-all-") as stage:
        for name in spec.files:
            shutil.copy2(src / name, Path(stage) / name)
        (Path(stage) / "README.md").write_text(card, encoding="utf-8")
        published = write_to_mirror(stage, mirror, spec.repo_id)
    entry = dict(raw, revision=published["revision"], files=published["files"], metrics=metrics)
    publish.update_registry(registry, spec.name, entry, default=bool(raw.get("default")))
    return published["revision"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-samples", type=int, default=None, help="default: the test split's size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", nargs="*", default=None, help="catalog names to score (default: all)")
    parser.add_argument("--dry-run", action="store_true", help="print, write nothing")
    parser.add_argument("--mirror", type=Path, default=ROOT / "hub")
    parser.add_argument("--registry", type=Path, default=ROOT / "registry.yaml")
    args = parser.parse_args(argv)

    import yaml

    from zoo_core.catalog import read_registry
    from zoo_core.errors import ZooError
    from zoo_core.evaluation import evaluate
    from zoo_core.evaluation.context import RealData
    from zoo_core.evaluation.extractors import TASK

    specs = [s for s in read_registry(args.registry).values()
             if s.task not in NOT_GENERATIVE | {TASK} and (args.only is None or s.name in args.only)]
    raw_all = (yaml.safe_load(args.registry.read_text(encoding="utf-8")) or {}).get("models") or {}
    out_dir = ROOT / "out" / "eval"
    out_dir.mkdir(parents=True, exist_ok=True)
    floors: dict[str, dict[str, Any]] = {}
    rows, failed = [], []
    for spec in sorted(specs, key=lambda s: s.name):
        if not spec.dataset:
            print(f"skip {spec.name}: no data set in its catalog entry", file=sys.stderr)
            continue
        if spec.dataset not in floors:
            try:
                real = RealData(spec.dataset, "test")
                floors[spec.dataset] = evaluate(real, seed=args.seed, reference=spec.dataset, device=args.device)
            except ZooError as exc:  # audio or text data: no image metrics, nothing to score here
                print(f"skip {spec.name}: {exc}", file=sys.stderr)
                continue
            (out_dir / f"real-{spec.dataset}.json").write_text(json.dumps(floors[spec.dataset], indent=2) + "\n")
            rows.append((f"real data ({spec.dataset} test vs train)", floors[spec.dataset]["metrics"]))
        floor = floors[spec.dataset]
        n = args.num_samples or floor["protocol"]["num_samples"]
        try:
            report = evaluate(spec.name, num_samples=n, seed=args.seed, device=args.device)
        except ZooError as exc:  # e.g. a conditional model no built-in metric can feed
            print(f"skip {spec.name}: {exc}", file=sys.stderr)
            failed.append(spec.name)
            continue
        (out_dir / f"{spec.name}.json").write_text(json.dumps(report, indent=2) + "\n")
        rows.append((spec.name, report["metrics"]))
        raw = dict(raw_all[spec.name])
        # per-attribute caption accuracies come from this run too, replacing the training report's
        fresh = {k: sig(v) for k, v in report["metrics"].items() if k.startswith("caption_accuracy_")}
        stale = set(fresh) | ({"caption_accuracy_prompts"} if fresh else set())  # the training's prompts
        extra = {k: v for k, v in (raw.get("metrics") or {}).items() if k not in EVAL_KEYS and k not in stale}
        extra |= fresh
        metrics = {**extra, **{k: sig(report["metrics"][k]) for k, _ in SHOWN if k in report["metrics"]},
                   "real_data": {k: sig(floor["metrics"][k]) for k, _ in SHOWN if k in floor["metrics"]},
                   "eval": summary(report)}
        if "nll" in report["protocol"]:
            metrics["nll_space"] = report["protocol"]["nll"]["space"]
        if args.dry_run:
            continue
        card = (args.mirror / spec.repo_id / "README.md").read_text(encoding="utf-8")
        card = replace_section(card, metrics_section(report, floor, extra))
        rev = republish(spec, card, args.mirror, args.registry, metrics, raw)
        print(f"{spec.name}: card and registry updated, revision {rev[:12]}", file=sys.stderr)

    keys = [k for k, _ in SHOWN if any(k in m for _, m in rows)]
    print("model".ljust(32) + "".join(k.replace("memorization_", "mem_")[:14].rjust(15) for k in keys))
    for name, m in rows:
        print(name[:32].ljust(32) + "".join((f"{m[k]:.4g}" if k in m else "-").rjust(15) for k in keys))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
