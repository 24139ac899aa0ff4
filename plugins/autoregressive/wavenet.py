"""WaveNet (van den Oord et al., 2016, "WaveNet: A Generative Model for Raw Audio").

Audio is mu-law companded to 256 codes and modelled sample by sample: p(x) = prod_t p(x_t | x_<t,
label), a 256-way softmax. The codes are embedded (the paper's one-hot input and 1x1 convolution),
shifted one step right, and read by a causal convolution and a stack of layers, each a dilated
causal convolution (kernel 2) with a gated activation tanh(W_f * x + V_f h) * sigmoid(W_g * x +
V_g h), a 1x1 residual path back into the stack and a 1x1 skip path to the output; the summed
skips go through ReLU, 1x1, ReLU, 1x1 to the logits. ``h`` is an optional global condition, the
sound class (a label), embedded per layer.

Sampling is the fast, queue-style incremental generation (Paine et al., 2016): every dilated
layer keeps the inputs it will need again in a ring buffer, so a step costs one column per
layer instead of a pass over the whole receptive field.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from zoo_core.errors import BadInputError
from zoo_core.model import GenerativeModel
from zoo_core.samples import Samples

from .audio import MU, mu_law_decode, mu_law_encode
from .samplers import AudioSampler

QUANT = MU + 1  # 256 mu-law codes


class CausalConv1d(nn.Conv1d):
    """Kernel-2 convolution whose output t sees inputs t - dilation and t (left zero padding)."""

    def __init__(self, in_channels: int, out_channels: int, dilation: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel_size=2, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.dilation[0], 0)))


class WaveNet(GenerativeModel):
    """Dilated causal convolutions with gated units, residual and skip paths, mu-law output."""

    family = "wavenet"
    kind = "audio"
    value_range = (-1.0, 1.0)
    samplers = {"ancestral": AudioSampler}
    condition_kind = "label"  # the sound class; optional: drawn uniformly when not given
    condition_required = False
    log_prob_is_bound = False

    def __init__(self, sample_rate: int = 8000, clip_seconds: float = 0.5, residual: int = 32,
                 dilation_channels: int = 32, skip: int = 64, dilations: Sequence[int] = (1, 2, 4, 8),
                 num_classes: int = 11) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError("num_classes must be at least 1")
        self.sample_rate, self.clip_seconds = sample_rate, clip_seconds
        self.dilations = [int(d) for d in dilations]
        self.num_classes, self.dil_ch = num_classes, dilation_channels
        self.embed = nn.Embedding(QUANT, residual)
        self.start = CausalConv1d(residual, residual)
        self.filter_gate = nn.ModuleList(CausalConv1d(residual, 2 * dilation_channels, d) for d in self.dilations)
        self.res_out = nn.ModuleList(nn.Conv1d(dilation_channels, residual, 1) for _ in self.dilations)
        self.skip_out = nn.ModuleList(nn.Conv1d(dilation_channels, skip, 1) for _ in self.dilations)
        self.label_embed = nn.Embedding(num_classes, len(self.dilations) * 2 * dilation_channels)
        self.post1 = nn.Conv1d(skip, skip, 1)
        self.post2 = nn.Conv1d(skip, QUANT, 1)
        with torch.no_grad():  # two embedding features start as the code's value and its
            codes = torch.arange(QUANT)  # companded value (an initialisation: both stay trainable)
            self.embed.weight[:, 0] = mu_law_decode(codes)
            self.embed.weight[:, 1 % residual] = codes.float() / MU * 2 - 1

    @property
    def clip_length(self) -> int:
        return int(round(self.sample_rate * self.clip_seconds))

    @property
    def receptive_field(self) -> int:
        """How many past samples an output sees: the shift, the first conv and every dilation."""
        return sum(self.dilations) + 2

    # -- the network ---------------------------------------------------------------------
    def _label_bias(self, labels: torch.Tensor) -> torch.Tensor:
        """(n, layers, 2 * dilation_channels) per-layer condition terms V h."""
        return self.label_embed(labels.to(self.device)).view(len(labels), len(self.dilations), -1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Logits (n, 256, T) for x_t given x_<t: `x` is mu-law codes (n, T), or a float one-hot
        (n, 256, T) (differentiable, for causality checks)."""
        if x.dtype == torch.long:
            h = self.embed(x).transpose(1, 2)
        else:
            h = torch.einsum("nqt,qc->nct", x, self.embed.weight)
        h = F.pad(h, (1, 0))[:, :, :-1]  # shift: position t reads x_{t-1}
        h = self.start(h)
        bias = self._label_bias(labels)
        skips = 0
        for i, conv in enumerate(self.filter_gate):
            f, g = (conv(h) + bias[:, i, :, None]).chunk(2, 1)
            z = torch.tanh(f) * torch.sigmoid(g)
            skips = skips + self.skip_out[i](z)
            h = h + self.res_out[i](z)
        return self.post2(F.relu(self.post1(F.relu(skips))))

    # -- incremental generation -------------------------------------------------------------
    def init_state(self, labels: torch.Tensor) -> dict[str, Any]:
        """State of the incremental generator for len(labels) clips: ring buffers of past inputs
        (zeros: the silence before a clip, as in training) and the weights fused per layer
        (both taps of a dilated conv in one matrix, the label term folded into its bias)."""
        n, c = len(labels), self.embed.embedding_dim
        zeros = lambda d: torch.zeros(d, n, c, device=self.device)  # noqa: E731
        label_bias = self._label_bias(labels)
        layers = []
        for i, conv in enumerate(self.filter_gate):
            w = torch.cat([conv.weight[:, :, 0], conv.weight[:, :, 1]], 1).t().contiguous()
            layers.append((zeros(conv.dilation[0]), w, conv.bias + label_bias[:, i],
                           self.res_out[i].weight[:, :, 0].t().contiguous(), self.res_out[i].bias))
        skip_w = torch.cat([m.weight[:, :, 0] for m in self.skip_out], 1).t().contiguous()
        start_w = torch.cat([self.start.weight[:, :, 0], self.start.weight[:, :, 1]], 1).t().contiguous()
        return {"t": 0, "prev": torch.zeros(n, c, device=self.device), "start": (zeros(1), start_w),
                "layers": layers, "skip": (skip_w, sum(m.bias for m in self.skip_out))}

    def step(self, state: dict[str, Any]) -> torch.Tensor:
        """Logits (n, 256) for the next sample; then call `feed` with the sampled codes."""
        t, prev = state["t"], state["prev"]
        buf, start_w = state["start"]
        h = torch.addmm(self.start.bias, torch.cat([buf[0], prev], 1), start_w)
        buf[0] = prev
        zs = []
        for buf, w, bias, res_w, res_b in state["layers"]:
            slot = t % buf.shape[0]
            pre = torch.addmm(bias, torch.cat([buf[slot], h], 1), w)
            buf[slot] = h
            f, g = pre.chunk(2, 1)
            z = torch.tanh(f) * torch.sigmoid(g)
            zs.append(z)
            h = torch.addmm(h + res_b, z, res_w)
        skip_w, skip_b = state["skip"]
        skips = torch.addmm(skip_b, torch.cat(zs, 1), skip_w)
        out = F.relu(F.linear(F.relu(skips), self.post1.weight[:, :, 0], self.post1.bias))
        return F.linear(out, self.post2.weight[:, :, 0], self.post2.bias)

    def feed(self, state: dict[str, Any], codes: torch.Tensor) -> None:
        state["prev"] = self.embed(codes.to(self.device))
        state["t"] += 1

    # -- likelihood ----------------------------------------------------------------------
    def _codes_labels(self, x: torch.Tensor, labels: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        if x.dim() != 2:
            raise BadInputError(f"wavenet takes audio of shape (n, T), got {tuple(x.shape)}")
        codes = x.to(self.device) if x.dtype == torch.long else mu_law_encode(x.to(self.device))
        if labels is None:
            return codes, None
        labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
        if len(labels) == 1:
            labels = labels.expand(len(codes))
        for c in labels.tolist():
            self.check_condition(c)
        return codes, labels

    def log_prob_given(self, codes: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = self(codes, labels)
        return -F.cross_entropy(logits.float(), codes, reduction="none").sum(1)

    def log_prob(self, x: torch.Tensor, labels: Any = None) -> torch.Tensor:
        """Exact log P of the mu-law codes of x (n, T) in [-1, 1] (or codes, long) in nats per
        clip, given `labels`; without labels, the mixture over the uniform label prior."""
        codes, labels = self._codes_labels(x, labels)
        if labels is not None:
            return self.log_prob_given(codes, labels)
        per = torch.stack([self.log_prob_given(codes, torch.full((len(codes),), k, dtype=torch.long))
                           for k in range(self.num_classes)], 1)
        return torch.logsumexp(per, 1) - math.log(self.num_classes)

    def loss(self, codes: torch.Tensor, labels: torch.Tensor, scored: int) -> torch.Tensor:
        """Mean cross-entropy (nats per sample) over the last `scored` positions."""
        logits = self(codes, labels)[:, :, -scored:]
        return F.cross_entropy(logits, codes[:, -scored:])

    # -- conditions and outputs --------------------------------------------------------------
    def check_condition(self, condition: Any) -> None:
        super().check_condition(condition)
        if not 0 <= condition < self.num_classes:
            from .audio import LABELS

            names = ", ".join(f"{i}={n}" for i, n in enumerate(LABELS[:self.num_classes]))
            raise BadInputError(f"label {condition} is out of range; this model knows {names}")

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return mu_law_decode(codes)

    def wrap_samples(self, data: torch.Tensor, conditions: list[Any] | None) -> Samples:
        return Samples(data=data, kind=self.kind, value_range=self.value_range,
                       conditions=conditions, sample_rate=self.sample_rate)
