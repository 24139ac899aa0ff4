"""The report an attentional trainer (AttnGAN, MirrorGAN) returns: ``training_report`` and the
lines it is made of. scripts/publish.py reads it for the model card."""
from __future__ import annotations

from typing import Any, Sequence

import torch

from .attn_stages import AttentionalT2I
from .attn_shapes import ShapesBatches
from .aux_attributes import aux_note


def device_note(device: str | torch.device) -> str:
    """What the training report says about where it ran."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return f"{torch.cuda.get_device_name(dev)}, torch {torch.__version__}"
    return f"cpu, torch threads: {torch.get_num_threads()}"


def training_report(family: str, model: AttentionalT2I, data: ShapesBatches, hp: dict[str, Any], run: dict[str, Any],
                    metrics: dict[str, Any], *, recipe: dict[str, Any], dataset: str | None, seed: int,
                    device: str | torch.device, evals_before: Sequence[dict[str, Any]] = (),
                    extra_seconds: float = 0.0) -> dict[str, Any]:
    """The report an attentional trainer returns (read by scripts/publish.py for the card): the
    fields both families share around the family's own ``recipe`` entries (objective, text side)."""
    return {
        "family": family,
        "dataset": dataset,
        "config": {k: v for k, v in model.config.items() if k != "vocab"},
        "recipe": {
            "data": f"{data.n} shapes images (64x64, 5 captions each; one drawn per step), "
                    f"images scaled to [-1, 1], stages at {model.sizes}",
            **recipe,
            "optimizer": f"Adam lr G {hp['lr_g']:g}, D {hp['lr_d']:g}, betas (0.5, 0.999)",
            "batch_size": hp["batch_size"],
            "steps": run["steps"],
            **({"discriminator_warmup": f"the first {hp['d_warmup']} steps trained only the discriminators"}
               if hp.get("d_warmup") else {}),
            **({"auxiliary_attributes": aux_note(hp)} if hp.get("d_aux") else {}),
            "generator_average": f"EMA {hp['ema']}; batch-norm statistics recomputed after training",
            "snapshot": (f"the averaged weights at step {run['kept']['step']}, best mean attribute accuracy "
                         f"({run['kept']['attribute_accuracy']}) of the checks on training captions"
                         + (", their images softened" if hp.get("soften") else "")
                         if run.get("kept") else "the averaged weights at the last step"),
            "seed": seed,
            "generator_parameters": model.num_generator_parameters(),
            "discriminator_parameters": run["discriminator_parameters"],
            "device": device_note(device),
        },
        "wall_time_s": run["wall_time_s"] + extra_seconds,
        "final": run["final"],
        "history": run["history"],
        "evals": [*evals_before, *run["evals"]],
        "metrics": metrics,
    }
