#!/usr/bin/env python
"""Print README's model table from registry.yaml (the measured numbers live there).

    python scripts/model_table.py > /tmp/table.md
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# Which recorded number is the likelihood, most specific first; the key is shown so nobody
# compares a bound, a binarised-data likelihood and a dequantised one as if they were alike.
NLL_KEYS = ("nll_bits_per_dim", "test_bits_per_dim", "test_nll_bits_per_dim",
            "nll_bound_bits_per_dim", "test_bits_per_char")


def fmt(value, digits=3) -> str:
    return "-" if value is None else f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def rows(registry: dict) -> list[list[str]]:
    out = []
    for name, entry in registry["models"].items():
        if entry.get("task") == "feature-extraction":
            continue
        m = entry.get("metrics") or {}
        nll_key = next((k for k in NLL_KEYS if k in m), None)
        nll = f"{m[nll_key]:.3f} ({nll_key})" if nll_key else "-"
        size = sum(f["size"] for f in entry["files"].values()) / 1e6
        out.append([f"`{name}`", entry["family"], entry.get("dataset", ""), f"{size:.2f} MB",
                    fmt(m.get("fid")), fmt(m.get("kid")), nll])
    return out


def main() -> int:
    registry = yaml.safe_load((ROOT / "registry.yaml").read_text(encoding="utf-8"))
    header = ["model", "family", "data", "weights", "FID", "KID", "NLL bits/dim (as recorded)"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows(registry):
        print("| " + " | ".join(r) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
