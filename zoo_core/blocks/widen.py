"""Function-preserving widening of a trained generator (Net2WiderNet, Chen et al. 2016, by
channel copies), so training continues with more capacity instead of from scratch.

Every widened feature map is described by a ``ChannelMap``: wide channel j holds ``scale[j]``
times narrow channel ``source[j]``. A layer producing a widened map takes the rows of its
source channels (a layer feeding a GLU maps its value rows and its gate rows alike; a layer
without batch norm after it, or a batch norm, also scales them). A layer reading a widened map
gives each copy a share of the old weight so that the copies together give the old sum; the
shares differ by zero-sum noise, so the copies receive different gradients and drift apart."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ChannelMap:
    """Wide channel j = ``scale[j]`` * narrow channel ``source[j]``; ``narrow`` narrow channels."""

    source: torch.Tensor
    scale: torch.Tensor
    narrow: int

    @classmethod
    def copies(cls, channels: int, factor: int, scale: float = 1.0) -> "ChannelMap":
        """``factor`` copies in order: [c0 .. c(n-1), c0 .. c(n-1), ...], each times ``scale``."""
        return cls(torch.arange(channels).repeat(factor), torch.full((channels * factor,), float(scale)), channels)

    def __add__(self, other: "ChannelMap") -> "ChannelMap":
        """The map of ``torch.cat((a, b), 1)`` of maps a and b."""
        return ChannelMap(torch.cat([self.source, other.source + self.narrow]), torch.cat([self.scale, other.scale]),
                          self.narrow + other.narrow)

    def __len__(self) -> int:
        return len(self.source)


def widen_rows(t: torch.Tensor, out: ChannelMap, *, glu: bool = False, scaled: bool = False) -> torch.Tensor:
    """Rows (dim 0) of a layer producing the map ``out``. ``glu``: ``t`` holds value rows then gate
    rows, each mapped alike (the map's scales must then be 1). ``scaled``: multiply each row by
    its channel's scale (a conv without batch norm after it, or a batch norm's weight and bias;
    not a conv followed by batch norm, nor running statistics)."""
    if glu:
        if not torch.all(out.scale == 1):
            raise ValueError("a GLU's output cannot be scaled (its gates are not linear)")
        values, gates = t.chunk(2, 0)
        return torch.cat([values[out.source], gates[out.source]], 0)
    if t.shape[0] != out.narrow:
        raise ValueError(f"{t.shape[0]} rows, but the map has {out.narrow} narrow channels")
    rows = t[out.source]
    if scaled:
        rows = rows * out.scale.view(-1, *([1] * (t.dim() - 1))).to(t.dtype)
    return rows


def widen_columns(w: torch.Tensor, inp: ChannelMap, keep: int = 0, noise: float = 0.0,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Columns (dim 1) of a layer reading ``keep`` unchanged input channels and then the map
    ``inp``: narrow column i becomes shares over its copies that give back ``W[:, i] x_i`` (each
    divided by its copy's scale and the number of copies), plus zero-sum noise of ``noise``
    times the weight's std."""
    fixed, feats = w[:, :keep], w[:, keep:]
    if feats.shape[1] != inp.narrow:
        raise ValueError(f"{feats.shape[1]} input channels, but the map has {inp.narrow} narrow channels")
    counts = torch.bincount(inp.source, minlength=inp.narrow).to(w.dtype)
    shape = (1, -1, *([1] * (w.dim() - 2)))
    cols = feats[:, inp.source] / (counts[inp.source] * inp.scale.to(w.dtype)).view(shape)
    if noise > 0:
        eps = torch.randn(cols.shape, generator=generator, dtype=w.dtype) * noise * float(feats.std())
        mean = torch.zeros_like(feats).index_add_(1, inp.source, eps) / counts.view(shape)
        cols = cols + (eps - mean[:, inp.source]) / inp.scale.to(w.dtype).view(shape)
    return torch.cat([fixed, cols], 1)


@dataclass(frozen=True)
class Layer:
    """How one module of a widened network changes: the map it produces (``rows``; None keeps
    its rows), whether it feeds a GLU, whether it is a batch norm or a layer followed by one
    (then a conv's rows are not scaled: the batch norm scales them), and the map it reads
    (``cols``) after ``keep`` unchanged input channels."""

    rows: ChannelMap | None = None
    cols: ChannelMap | None = None
    glu: bool = False
    norm: bool = False
    before_norm: bool = False
    keep: int = 0


def widen_state(narrow: dict[str, torch.Tensor], wide: dict[str, torch.Tensor], layers: dict[str, Layer],
                noise: float = 0.25, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """The wide network's state dict from the narrow one's: every key whose shape changed is
    widened as ``layers[module name]`` says; a changed key without an entry is an error."""
    state = {}
    for key, target in wide.items():
        t = narrow[key].detach().clone()
        if t.shape != target.shape:
            module, param = key.rsplit(".", 1)
            if module not in layers:
                raise ValueError(f"widening {key}: no rule for module {module}")
            layer = layers[module]
            if layer.rows is not None and t.dim():
                scaled = (layer.norm and param in ("weight", "bias")) or not (layer.norm or layer.before_norm)
                t = widen_rows(t, layer.rows, glu=layer.glu, scaled=scaled and not layer.glu)
            if layer.cols is not None and t.dim() > 1:
                t = widen_columns(t, layer.cols, keep=layer.keep, noise=noise, generator=generator)
            if t.shape != target.shape:
                raise ValueError(f"widening {key}: got {tuple(t.shape)}, expected {tuple(target.shape)}")
        state[key] = t
    return state


# -- rules for the shared generator blocks (``upblocks``), by their module names ---------------
def glu_block_rules(layers: dict[str, Layer], name: str, cin: ChannelMap | None, channels: int, factor: int,
                    conv: str = "1", norm: str = "2", keep: int = 0) -> ChannelMap:
    """Rules for a conv (or linear) + batch norm + GLU giving ``channels`` (``upBlock``,
    ``Block3x3_relu``, a residual block's first half); returns the map it produces."""
    out = ChannelMap.copies(channels, factor)
    layers[f"{name}.{conv}"] = Layer(rows=out, cols=cin, glu=True, before_norm=True, keep=keep)
    layers[f"{name}.{norm}"] = Layer(rows=out, glu=True, norm=True)
    return out


def residual_block_rules(layers: dict[str, Layer], name: str, x: ChannelMap, factor: int) -> None:
    """Rules for a GLU ``ResBlock`` reading and giving ``x``: its last batch norm scales like
    ``x``, so the sum with the input keeps the map."""
    mid = glu_block_rules(layers, f"{name}.block", x, x.narrow, factor, "0", "1")
    layers[f"{name}.block.3"] = Layer(rows=x, cols=mid, before_norm=True)
    layers[f"{name}.block.4"] = Layer(rows=x, norm=True)


def init_stage_rules(layers: dict[str, Layer], name: str, stage: torch.nn.Module, factor: int) -> ChannelMap:
    """Rules for an ``InitStageG`` (fc to gf_dim x 4 x 4, then its up-sampling blocks; dropped
    ones are absent or identities); returns the map of its output."""
    width = stage.gf_dim
    # the fc's rows are channel-major (channel, 4x4 position): copying them in order copies channels
    glu_block_rules(layers, name, None, width * 16, factor, "fc.0", "fc.1")
    h = ChannelMap.copies(width, factor)
    for k in range(1, 5):
        if isinstance(getattr(stage, f"upsample{k}", None), torch.nn.Sequential):
            width //= 2
            h = glu_block_rules(layers, f"{name}.upsample{k}", h, width, factor)
    return h
