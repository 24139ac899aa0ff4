"""The shapes attribute classifier: checks generated images against their captions, and gives
the shapes data set its FID features.

A small CNN with one head per canonical attribute of ``zoo_core.data.shapes.ATTRIBUTES``
(layout, shape / colour / size of object 0 and object 1 -- "none" when there is one -- and
the background). The caption-accuracy evaluator parses a prompt with
``zoo_core.data.shapes.parse_caption`` and compares the attributes it states with
``predict_attributes`` of the image generated from it.

It also satisfies the zoo's feature-extractor interface (``in_channels``, ``image_size``,
``extract(images01) -> (features, logits)``, see zoo_core.evaluation.classifier): features are
the penultimate layer scaled to unit RMS on the train split (``calibrate``); logits are those
of the 48 (shape, colour) classes of object 0, log p(shape) + log p(colour), for the Inception
Score. Family "shapes-classifier"; ``sample`` refuses.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import ZooError
from ..model import GenerativeModel

SMALL: dict[str, Any] = {"widths": [32, 64, 128, 128], "global_dim": 128}
TINY: dict[str, Any] = {"widths": [8, 8, 16, 16], "global_dim": 16}
CONFIGS = {"small": SMALL, "tiny": TINY}


def default_heads() -> list[list[Any]]:
    """[[attribute, number of values], ...] in the column order of the shapes label tensor."""
    from ..data.shapes import ATTRIBUTES

    return [[k, len(v)] for k, v in ATTRIBUTES.items()]


class ShapesAttributeClassifier(GenerativeModel):
    """Strided convolutions to an 8 x 8 map of regions, then two readouts:

    - global: one more strided conv to 4 x 4, flattened (it keeps positions) into a ReLU layer
      of ``global_dim`` -- the layout and background heads read it;
    - one slot per object index k (the digit ending an attribute name, "shape0", "size1"):
      a softmax over the 64 regions (a 1x1 conv on the regions and their coordinates) pools
      the region features, so what an object looks like is learnt wherever it stands; the
      heads of object k read [slot k, global] ("none" comes from the global part).
    """

    family = "shapes-classifier"
    kind = "image"
    value_range = (0.0, 1.0)

    def __init__(self, in_channels: int = 3, image_size: int = 64, widths: list[int] | tuple[int, ...] = (32, 64, 128, 128),
                 global_dim: int = 128, heads: list[list[Any]] | None = None) -> None:
        super().__init__()
        self.in_channels, self.image_size, self.global_dim = in_channels, image_size, global_dim
        # a list of pairs, not a dict: config.json is written with sorted keys, and the heads'
        # order is the order of the predicted label columns
        self.heads_spec = {str(k): int(n) for k, n in (heads or default_heads())}
        w = list(widths)
        if len(w) != 4 or image_size != 64:
            raise ValueError("the classifier reads 64x64 images with four widths")
        layers: list[nn.Module] = [nn.Conv2d(in_channels, w[0], 4, 2, 1), nn.ReLU(inplace=True)]
        for cin, cout in zip(w[:2], w[1:3]):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)  # regions: w[2] x 8 x 8
        self.top = nn.Sequential(nn.Conv2d(w[2], w[3], 3, 2, 1, bias=False), nn.BatchNorm2d(w[3]), nn.ReLU(inplace=True))
        self.feature = nn.Sequential(nn.Flatten(), nn.Linear(w[3] * 16, global_dim), nn.ReLU(inplace=True))
        self.slot_of = {k: int(k[-1]) if k[-1].isdigit() else None for k in self.heads_spec}
        self.num_slots = max([s + 1 for s in self.slot_of.values() if s is not None], default=0)
        self.slots = nn.Conv2d(w[2] + 2, self.num_slots, 1) if self.num_slots else None
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, 8), torch.linspace(-1, 1, 8), indexing="ij")
        self.register_buffer("coords", torch.stack([ys, xs])[None], persistent=False)
        self.dropout = nn.Dropout(0.2)
        self.heads = nn.ModuleDict({k: nn.Linear(global_dim + (w[2] if self.slot_of[k] is not None else 0), n)
                                    for k, n in self.heads_spec.items()})
        self.feature_dim = global_dim + self.num_slots * w[2]
        self.register_buffer("feature_scale", torch.ones(()))

    @property
    def num_classes(self) -> int:
        """Classes of ``extract``'s logits: (shape, colour) of object 0."""
        return self.heads_spec["shape0"] * self.heads_spec["colour0"]

    def readouts(self, x01: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor | None]:
        """(global (n, global_dim), one pooled slot (n, w2) per object, slot attention (n, slots, 8, 8))."""
        regions = self.body(x01)
        g = self.feature(self.top(regions))
        if self.slots is None:
            return g, [], None
        n = regions.size(0)
        logits = self.slots(torch.cat([regions, self.coords.expand(n, -1, -1, -1)], 1))
        attn = logits.flatten(2).softmax(2)  # n x slots x 64
        pooled = torch.bmm(attn, regions.flatten(2).transpose(1, 2))  # n x slots x w2
        return g, list(pooled.unbind(1)), attn.view(n, -1, 8, 8)

    def features(self, x01: torch.Tensor) -> torch.Tensor:
        """[global, slot 0, slot 1, ...] (n, feature_dim), unscaled."""
        g, slots, _ = self.readouts(x01)
        return torch.cat([g, *slots], 1)

    def _heads(self, g: torch.Tensor, slots: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        g = self.dropout(g)
        return {k: head(g if self.slot_of[k] is None else torch.cat([self.dropout(slots[self.slot_of[k]]), g], 1))
                for k, head in self.heads.items()}

    def forward(self, x01: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits per attribute for images in [0, 1] (n, 3, 64, 64)."""
        g, slots, _ = self.readouts(x01)
        return self._heads(g, slots)

    def extract(self, x01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (n, feature_dim), logits (n, 48)) -- the feature-extractor interface."""
        g, slots, _ = self.readouts(x01)
        logits = self._heads(g, slots)
        shape, colour = logits["shape0"].log_softmax(1), logits["colour0"].log_softmax(1)
        joint = (shape[:, :, None] + colour[:, None, :]).flatten(1)
        return torch.cat([g, *slots], 1) * self.feature_scale, joint

    @torch.no_grad()
    def predict(self, x01: torch.Tensor, batch: int = 256) -> torch.Tensor:
        """Predicted label indices (n, n_attributes), columns in the order of the heads."""
        was = self.training
        self.eval()
        out = []
        for i in range(0, len(x01), batch):
            logits = self(x01[i:i + batch].to(self.device))
            out.append(torch.stack([logits[k].argmax(1) for k in self.heads_spec], 1).cpu())
        self.train(was)
        return torch.cat(out)

    def predict_attributes(self, x01: torch.Tensor) -> list[dict[str, str]]:
        """Predicted attributes by name, e.g. {"layout": "vertical", "shape0": "circle", ...}."""
        from ..data.shapes import ATTRIBUTES

        return [{k: ATTRIBUTES[k][int(v)] for k, v in zip(self.heads_spec, row)} for row in self.predict(x01)]

    @torch.no_grad()
    def calibrate(self, x01: torch.Tensor, batch: int = 256) -> float:
        """Set ``feature_scale`` so the features of x01 have unit RMS; returns the scale."""
        was = self.training
        self.eval()
        sq = sum(float(self.features(x01[i:i + batch]).pow(2).sum()) for i in range(0, len(x01), batch))
        rms = (sq / (len(x01) * self.feature_dim)) ** 0.5
        self.feature_scale.fill_(1.0 / max(rms, 1e-8))
        self.train(was)
        return float(self.feature_scale)

    def caption_accuracy(self, x01: torch.Tensor, prompts: list[str]) -> dict[str, float]:
        """How often images show what their prompts state (one prompt per image).

        Each prompt is parsed (``zoo_core.data.shapes.parse_caption``); an image counts as
        correct when every attribute its prompt states is predicted. Also returned: the
        accuracy per attribute over the prompts that state it, and ``caption_pairs_swapped``:
        of the prompts naming two objects, how often the image shows them the other way round
        (each object's colour, or shape when both share a colour, where the prompt puts the
        other's: the relation's direction is lost).
        """
        from ..data.shapes import parse_caption

        if len(prompts) != len(x01):
            raise ValueError("need one prompt per image")
        predicted = self.predict_attributes(x01)
        hits: dict[str, list[bool]] = {}
        whole, swapped = [], []
        for pred, prompt in zip(predicted, prompts):
            stated = parse_caption(prompt)
            for k, v in stated.items():
                hits.setdefault(k, []).append(pred[k] == v)
            whole.append(all(pred[k] == v for k, v in stated.items()))
            if "shape1" in stated:  # told by colour, or by shape for two objects of one colour
                a = "colour" if stated["colour0"] != stated["colour1"] else "shape"
                swapped.append(pred[f"{a}0"] == stated[f"{a}1"] and pred[f"{a}1"] == stated[f"{a}0"])
        out = {"caption_accuracy": sum(whole) / max(len(whole), 1)}
        out |= {f"caption_accuracy_{k}": sum(v) / len(v) for k, v in hits.items()}
        if swapped:
            out["caption_pairs_swapped"] = sum(swapped) / len(swapped)
        return out

    def sample(self, n: int, **_: Any):  # type: ignore[override]
        raise ZooError("this is the shapes attribute classifier used by `zoo eval`, not a generative model")
