#!/usr/bin/env python
"""Print README's model tables from registry.yaml (the measured numbers live there).

    python scripts/model_table.py > /tmp/table.md

One table per kind of model, each sorted by its headline metric (FID for images, the recorded
likelihood otherwise), so the order of the rows is the measured ranking.
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SKIP_TASKS = {"feature-extraction", "text-image-matching"}  # encoders and classifiers
# Which recorded number is the likelihood, most specific first; the key is shown so nobody
# compares a bound, a binarised-data likelihood and a dequantised one as if they were alike.
NLL_KEYS = ("nll_bits_per_dim", "test_bits_per_dim", "test_nll_bits_per_dim", "nll_bound_bits_per_dim",
            "test_nll_bound_bits_per_dim", "test_bits_per_dim_discrete", "test_bits_per_char",
            "heldout_bits_per_sample")


def fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def nll(m: dict) -> tuple[float | None, str]:
    key = next((k for k in NLL_KEYS if k in m), None)
    return (m[key], f"{m[key]:.3f} ({key})") if key else (None, "-")


def size_mb(entry: dict) -> str:
    return f"{sum(f['size'] for f in entry['files'].values()) / 1e6:.2f} MB"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def tables(registry: dict) -> str:
    models = {n: e for n, e in registry["models"].items() if e.get("task") not in SKIP_TASKS}
    big = float("inf")
    digits = sorted((n for n, e in models.items() if e.get("dataset") == "digits"),
                    key=lambda n: (models[n].get("metrics", {}).get("fid", big), n))
    t2i = sorted((n for n, e in models.items() if e.get("task") == "text-to-image"),
                 key=lambda n: (models[n].get("metrics", {}).get("fid", big), n))
    other = sorted(n for n in models if n not in digits and n not in t2i)
    out = ["**Digits** (images; sorted by FID, lower is better):", "",
           table(["model", "family", "weights", "FID", "KID", "precision", "recall", "NLL bits/dim (as recorded)"],
                 [[f"`{n}`", models[n]["family"], size_mb(models[n]), fmt(m.get("fid")), fmt(m.get("kid")),
                   fmt(m.get("prc_precision")), fmt(m.get("prc_recall")), nll(m)[1]]
                  for n in digits for m in [models[n].get("metrics") or {}]])]
    real = next((models[n]["metrics"]["real_data"] for n in digits if "real_data" in (models[n].get("metrics") or {})), None)
    if real:
        out += ["", f"Real data floor (digits test split scored the same way): FID {fmt(real.get('fid'))}, "
                    f"KID {fmt(real.get('kid'))}."]
    if t2i:
        out += ["", "**Text to image** (shapes; sorted by FID):", "",
                table(["model", "family", "weights", "FID", "KID", "R-precision", "caption accuracy",
                       "pairs swapped"],
                      [[f"`{n}`", models[n]["family"], size_mb(models[n]), fmt(m.get("fid")), fmt(m.get("kid")),
                        fmt(m.get("r_precision")), fmt(m.get("caption_accuracy")), fmt(m.get("caption_pairs_swapped"))]
                       for n in t2i for m in [models[n].get("metrics") or {}]])]
        real = next((models[n]["metrics"]["real_data"] for n in t2i if "real_data" in (models[n].get("metrics") or {})), None)
        if real:
            encoders = registry["models"]
            cap = (encoders.get("shapes-classifier.small", {}).get("metrics") or {}).get("test_caption_accuracy_real_images")
            rp = (encoders.get("damsm.shapes", {}).get("metrics") or {}).get("test_r_precision")
            out += ["", f"Real data floor (shapes test split): FID {fmt(real.get('fid'))}, KID {fmt(real.get('kid'))}; "
                        f"real images score caption accuracy {fmt(cap)} and DAMSM R-precision {fmt(rp, 2)}."]
    if other:
        out += ["", "**Text and audio**:", "",
                table(["model", "family", "data", "weights", "likelihood (as recorded)"],
                      [[f"`{n}`", models[n]["family"], models[n].get("dataset", ""), size_mb(models[n]),
                        nll(models[n].get("metrics") or {})[1]] for n in other])]
    return "\n".join(out)


def main() -> int:
    registry = yaml.safe_load((ROOT / "registry.yaml").read_text(encoding="utf-8"))
    print(tables(registry))
    return 0


if __name__ == "__main__":
    sys.exit(main())
