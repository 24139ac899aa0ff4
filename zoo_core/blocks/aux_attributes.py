"""Auxiliary attribute heads on the text-to-image discriminators (a deviation, off in the papers'
recipes; in the spirit of AC-GAN / TAC-GAN's auxiliary classifier).

Measured on the shapes data: the image code of a trained D_NET64 (8ndf x 4 x 4) predicts a
scene's first shape with 31 % accuracy by a linear probe (chance 19 %), so neither of its logits
can tell a blob from a square. A head predicting every scene attribute from that code, trained
on real images (``d_aux``), makes the code carry shapes; the generator may also be asked to
have its images read as their captions' attributes (``g_aux``). The labels are the scenes'
canonical attributes, which their captions state."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo_core.data.shapes import ATTRIBUTES

from ..errors import BadInputError

CLASSES = [len(values) for values in ATTRIBUTES.values()]
SHAPE_COLUMNS = [i for i, name in enumerate(ATTRIBUTES) if name.startswith("shape")]
PRETRAIN_BATCH, PRETRAIN_LR = 64, 1e-3  # pretrain_heads' defaults, named in training reports


class AttributeHead(nn.Module):
    """One linear map from a discriminator's flattened image code to every attribute's logits."""

    def __init__(self, code_dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(code_dim, sum(CLASSES))

    def forward(self, code: torch.Tensor) -> list[torch.Tensor]:
        return list(self.fc(code.flatten(1)).split(CLASSES, dim=1))


def attribute_loss(head: AttributeHead, code: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, float]:
    """(mean cross-entropy over the attributes, accuracy on the shape columns) of ``labels``
    (N, len(ATTRIBUTES)) as read from ``code``."""
    logits = head(code)
    loss = sum(F.cross_entropy(lg, labels[:, j]) for j, lg in enumerate(logits)) / len(logits)
    with torch.no_grad():
        hits = [(logits[j].argmax(1) == labels[:, j]).float().mean() for j in SHAPE_COLUMNS]
    return loss, float(torch.stack(hits).mean())


def pretrain_heads(netsD: list[nn.Module], heads: list[AttributeHead], reals: list[torch.Tensor],
                   labels: torch.Tensor, steps: int, *, batch_size: int = PRETRAIN_BATCH, lr: float = PRETRAIN_LR,
                   seed: int = 0) -> float:
    """Train the discriminators' trunks and their heads to read the attributes of real images
    (``reals``: one tensor per stage, in [-1, 1]) for ``steps`` Adam steps, before any adversarial
    step; returns the last batch's accuracy on the shape columns. A trunk that learns shapes
    only through the adversarial game learns them slowly (about 0.46 on training images after
    800 steps of -K d_aux=1 here; 0.91 on test images after 1,800 steps of this). In the one run
    tried, discriminators pretrained 3,000 steps then overpowered the generator (README)."""
    params = [p for m in (*netsD, *heads) for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(seed)
    hits = 0.0
    for _ in range(steps):
        idx = torch.randint(0, len(labels), (batch_size,), generator=gen)
        opt.zero_grad(set_to_none=True)
        terms = [attribute_loss(h, d(x[idx]), labels[idx]) for d, h, x in zip(netsD, heads, reals)]
        sum(t[0] for t in terms).backward()
        opt.step()
        hits = terms[-1][1]
    return hits


def check_aux_weights(d_aux: float, g_aux: float, pretrain: int = 0) -> None:
    """One-line errors for attribute-head settings that cannot work together."""
    for key, value in (("d_aux", d_aux), ("g_aux", g_aux)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise BadInputError(f"{key} must be zero or more, not {value!r}")
    if g_aux > 0 and not d_aux > 0:
        raise BadInputError("g_aux needs the heads trained on real images: give d_aux too (e.g. -K d_aux=1)")
    if pretrain and not d_aux > 0:
        raise BadInputError("d_aux_pretrain trains the heads of d_aux: give d_aux too (e.g. -K d_aux=1)")


def head_labels(d_aux: float, g_aux: float, labels: torch.Tensor | None, data: Any) -> torch.Tensor | None:
    """The scenes' attribute labels (N, len(ATTRIBUTES)) a trainer's heads learn, after checking
    the weights: ``labels`` as given, else those of the shapes train split when the trainer
    loads it (``data`` None); None when there are no heads and none were given."""
    check_aux_weights(d_aux, g_aux)
    if d_aux > 0 and labels is None:
        if data is not None:
            raise BadInputError("d_aux needs the scenes' attribute labels: pass labels= with data")
        from zoo_core.data.shapes import generate

        labels = generate("train").labels  # the split the trainers load without data (cached)
    return None if labels is None else torch.as_tensor(labels, dtype=torch.long)


def check_label_rows(d_aux: float, labels: torch.Tensor | None, n_images: int) -> None:
    """A one-line error when the heads' labels do not give one row per training image."""
    if d_aux > 0 and labels is not None and len(labels) != n_images:
        raise BadInputError(f"labels has {len(labels)} rows for {n_images} images")


def aux_note(hp: dict[str, Any]) -> str:
    """A training report's line on the discriminators' attribute heads."""
    note = (f"a deviation: each discriminator's image code also predicts the real images' attributes "
            f"(weight {hp['d_aux']:g})")
    if hp.get("d_aux_pretrain"):
        note += f", first trained {hp['d_aux_pretrain']} steps on that alone "
        note += f"(batch {PRETRAIN_BATCH}, Adam lr {PRETRAIN_LR:g})"
    if hp.get("g_aux"):
        note += f"; the generator's images are asked to be read as their captions' attributes (weight {hp['g_aux']:g})"
    if hp.get("soften"):
        note += ("; at 64x64 the heads read images softened (2x2 averages resized back), and the checks "
                 "are ranked by their softened scores")
    return note


def aux_stat_keys(d_aux: float, g_aux: float) -> tuple[str, ...]:
    """The statistics the heads add to a trainer's log: their shape accuracy on real and on generated images."""
    return (("d_aux_shape",) if d_aux > 0 else ()) + (("g_aux_shape",) if g_aux > 0 else ())


def aux_log(row: dict[str, float]) -> str:
    """The heads' shape accuracies on real (D) and generated (G) images, for an epoch's log line."""
    parts = [f"{label} {row[key]:.2f}" for key, label in (("d_aux_shape", "aux shape D"), ("g_aux_shape", "G"))
             if key in row]
    return "".join(f"  {part}" for part in parts)
