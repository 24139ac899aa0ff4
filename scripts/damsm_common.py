"""Pieces shared by the DAMSM scripts (scripts/train_damsm.py, scripts/damsm_refine.py): the
recipes, caption tokenising, scene ids (DAMSM class_ids), the loss meter, real-image R-precision
and saving a trained model folder with its report."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import torch

DAMSM_RECIPE = {"steps": 900, "batch_size": 32, "lr": 2e-3, "betas": (0.5, 0.999), "rnn_grad_clip": 0.25}
REFINE_RECIPE = {"steps": 600, "batch_size": 64, "lr": 1e-3, "betas": (0.5, 0.999)}
CLASSIFIER_RECIPE = {"epochs": 6, "batch_size": 64, "lr": 3e-3, "weight_decay": 1e-4, "warmup": 0.15}


def scene_ids(labels: torch.Tensor) -> torch.Tensor:
    """One id per distinct attribute combination (the DAMSM class_ids)."""
    return torch.unique(labels, dim=0, return_inverse=True)[1]


def r_precision_metrics(rp: dict[str, float]) -> dict[str, Any]:
    """The report's metrics from damsm_r_precision's result, with the protocol named."""
    return {"test_r_precision": round(rp["r_precision"], 4), "test_r_precision_std": round(rp["std"], 4),
            "r_precision_protocol": "1000 real test images vs their first caption, 1 true among 100"}


class LossMeter:
    """Running means of the DAMSM word and sentence losses, logged and kept every 50 steps."""

    def __init__(self, label: str, log: Callable[[str], None], every: int = 50) -> None:
        self.label, self.log, self.every = label, log, every
        self.start, self.history = time.perf_counter(), []
        self.sums, self.count = {"w": 0.0, "s": 0.0}, 0

    def update(self, step: int, steps: int, parts: dict[str, torch.Tensor]) -> None:
        self.sums["w"] += (parts["w_loss0"] + parts["w_loss1"]).item()
        self.sums["s"] += (parts["s_loss0"] + parts["s_loss1"]).item()
        self.count += 1
        if step % self.every == 0 or step == steps:
            row = {"step": step, "w_loss": round(self.sums["w"] / self.count, 4),
                   "s_loss": round(self.sums["s"] / self.count, 4),
                   "seconds": round(time.perf_counter() - self.start, 1)}
            self.history.append(row)
            self.log(f"{self.label} step {step:4d}  w_loss {row['w_loss']:.3f}  s_loss {row['s_loss']:.3f}  "
                     f"{row['seconds']:.0f}s")
            self.sums, self.count = {"w": 0.0, "s": 0.0}, 0


def tokenized_captions(captions: list[list[str]], vocab, max_words: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids (N, K, max_words), lengths (N, K)) for K captions per image."""
    flat = [c for cs in captions for c in cs]
    ids, lens = vocab.encode_batch(flat, max_words=max_words, pad_to=max_words)
    k = len(captions[0])
    return ids.view(len(captions), k, -1), lens.view(len(captions), k)


@torch.no_grad()
def damsm_r_precision(model, images01: torch.Tensor, ids: torch.Tensor, lens: torch.Tensor,
                      groups: torch.Tensor, seed: int = 0) -> dict[str, float]:
    """R-precision of images against their first caption (1 among 100)."""
    from zoo_core.blocks.damsm import r_precision

    model.eval()
    codes, sents = [], []
    for i in range(0, len(images01), 250):
        codes.append(model.encode_images(images01[i:i + 250] * 2 - 1)[1])
        sents.append(model.encode_ids(ids[i:i + 250, 0], lens[i:i + 250, 0])[1])
    return r_precision(torch.cat(codes), torch.cat(sents), candidates=100, groups=groups,
                       generator=torch.Generator().manual_seed(seed))


def save(model, report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    (out / "training.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    size = (out / "model.safetensors").stat().st_size
    print(f"saved {out}: {model.num_parameters():,} parameters, {size / 1e6:.2f} MB")
