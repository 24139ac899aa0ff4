#!/usr/bin/env python
"""Train the zoo's feature extractor for a data set and publish it like any model.

    python scripts/train_feature_extractor.py [--dataset digits|shapes] [--config NAME] [--epochs 15]
        [--out out/feature-extractors/DATASET-classifier] [--no-publish]

Trains `zoo_core.evaluation.classifier.DomainClassifier` on the train split (the test split is
only scored), saves it with save_pretrained plus training.json (its test accuracy goes into
the card's metrics), and publishes it with scripts/publish.py as `<dataset>-classifier.small`
(repo zoo-models/<dataset>-classifier, task feature-extraction, the data set's default
extractor). `zoo eval` then pulls and verifies it by sha256 like any other model.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--config", default=None, help="default: the data set's (classifier.DEFAULT_CONFIG)")
    parser.add_argument("--tag", default="small", help="catalog tag: <dataset>-classifier.<tag>")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--no-publish", action="store_true")
    args = parser.parse_args(argv)

    from zoo_core.evaluation.classifier import DEFAULT_CONFIG, train

    args.config = args.config or DEFAULT_CONFIG.get(args.dataset, "small")
    out: Path = args.out or ROOT / "out" / "feature-extractors" / f"{args.dataset}-classifier"
    model, report = train(args.config, epochs=args.epochs, seed=args.seed, dataset=args.dataset)
    report["config_name"] = args.config
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    (out / "training.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    m = report["metrics"]
    print(f"saved {out}: test accuracy {m['test_accuracy']:.4f} on {m['test_examples']} held-out images "
          f"(train {m['train_accuracy']:.4f}), {model.num_parameters():,} parameters, {report['wall_time_s']:.0f}s")
    if args.no_publish:
        return 0
    import publish  # scripts/publish.py, beside this file

    return publish.main([
        str(out), "--name", f"{args.dataset}-classifier.{args.tag}",
        "--repo-id", f"zoo-models/{args.dataset}-classifier", "--dataset", args.dataset,
        "--task", "feature-extraction", "--default",
        "--description", (f"A small CNN classifier trained on the {args.dataset} train split. `zoo eval` uses its "
                          f"penultimate features for FID/KID/precision-recall and its logits for the Inception "
                          f"Score, offline (torch-fidelity name: zoo-{args.dataset}-classifier)."),
    ])


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
