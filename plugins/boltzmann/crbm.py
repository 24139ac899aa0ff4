"""The conditional RBM p(v | y): a Bernoulli RBM whose visible and hidden biases depend on a
class label y (Taylor, Hinton & Roweis 2007, with the label as the conditioning input):

    E(v, h | y) = -(b + A[y]).v - (c + B[y]).h - v.W.h,

so given y it is an ordinary RBM (everything in rbm.py applies) with its own partition
function Z(y): AIS runs once per label and ``log_z`` holds ten values. ``log_prob_given(x, y)``
is log p(x | y); ``log_prob(x)`` is the marginal log (1/10) sum_y p(x | y) under a uniform
label prior, which is what `zoo eval --metrics nll` scores.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from zoo_core.errors import BadInputError

from .rbm import RBM


class CRBM(RBM):
    family = "crbm"
    condition_kind = "label"
    condition_required = True

    def __init__(self, image_size: int = 16, hidden: int = 500, num_classes: int = 10,
                 init_std: float = 0.01) -> None:
        self.num_classes = num_classes
        super().__init__(image_size=image_size, hidden=hidden, init_std=init_std)
        self.A = nn.Parameter(torch.zeros(num_classes, image_size * image_size))
        self.B = nn.Parameter(torch.zeros(num_classes, hidden))

    def num_base_rows(self) -> int:
        return self.num_classes

    def check_condition(self, condition: Any) -> None:
        if isinstance(condition, bool) or not isinstance(condition, int) \
                or not 0 <= condition < self.num_classes:
            raise BadInputError(f"crbm labels are digits 0..{self.num_classes - 1}, got {condition!r}")

    def encode_condition(self, condition: list[Any] | None, n: int) -> torch.Tensor:
        if condition is None:
            raise BadInputError("crbm is conditional: give a label 0..9 for the samples")
        for c in condition:
            self.check_condition(c)
        return torch.tensor(list(condition), dtype=torch.long, device=self.device)

    def biases(self, cond: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        if cond is None:
            raise BadInputError("crbm needs labels")
        return self.b + self.A[cond], self.c + self.B[cond]

    def base(self, cond: Any = None) -> torch.Tensor:
        return self.base_logits[cond]

    def ais_conditions(self) -> list[Any]:
        return list(range(self.num_classes))

    def set_data_statistics(self, v: torch.Tensor, cond: Any = None) -> None:
        for k in range(self.num_classes):
            vk = v[cond == k]
            p = ((vk.sum(0) + 1) / (len(vk) + 2)).clamp(1e-3, 1 - 1e-3)
            self.base_logits[k] = torch.logit(p)
        p = ((v.sum(0) + 1) / (len(v) + 2)).clamp(1e-3, 1 - 1e-3)
        with torch.no_grad():
            self.b.copy_(torch.logit(p))

    @torch.no_grad()
    def log_prob_given(self, x: torch.Tensor, labels: torch.Tensor | list[int]) -> torch.Tensor:
        """log p(x | y) in nats per image."""
        y = torch.as_tensor(labels, dtype=torch.long, device=self.device).reshape(-1)
        v = self.prepare(x)
        return self.log_unnorm(v, y).double() - self.stored_log_z()[y.cpu()].to(v.device)

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) = log (1/K) sum_y p(x | y): the label marginalised under a uniform prior."""
        v = self.prepare(x)
        log_z = self.stored_log_z().to(v.device)
        per_label = torch.stack([self.log_unnorm(v, torch.full((len(v),), k, dtype=torch.long,
                                                               device=v.device)).double() - log_z[k]
                                 for k in range(self.num_classes)], 1)
        return torch.logsumexp(per_label, 1) - math.log(self.num_classes)
