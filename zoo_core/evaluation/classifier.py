"""DomainClassifier: the zoo's own feature extractor for a data set (a small CNN trained here).

torch-fidelity's Inception weights come from the internet; a classifier trained on the data set
itself plays Inception's role offline: its penultimate layer gives the FID/KID/PRC features and
its logits the Inception Score. It is a catalog model like any other (family
"feature-extractor"), so its weights are pulled and sha256-verified before use.

Any model class can serve as a zoo feature extractor if it has ``in_channels``, ``image_size``
and ``extract(images01) -> (features, logits)``.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ZooError
from ..model import GenerativeModel

CONFIGS: dict[str, dict[str, Any]] = {
    # 32x32 grey digits: 3 conv blocks (32, 64, 128) -> 64-d features -> 10 classes
    "small": {"in_channels": 1, "image_size": 32, "num_classes": 10, "widths": [32, 64, 128],
              "feature_dim": 64},
    # shapes scenes (64x64 RGB, read at 32x32 to keep CPU training cheap): 48 classes =
    # (shape, colour) of the first object. NOT yet good enough to publish: 6 CPU epochs reached
    # only 20% test accuracy (train 24%, underfit); needs 64px input and a longer run.
    "shapes": {"in_channels": 3, "image_size": 32, "num_classes": 48, "widths": [16, 32, 64],
               "feature_dim": 64},
    "tiny": {"in_channels": 1, "image_size": 16, "num_classes": 10, "widths": [8, 16],
             "feature_dim": 16},
}
DEFAULT_CONFIG = {"digits": "small", "shapes": "shapes"}
RECIPE = {"epochs": 15, "batch_size": 64, "lr": 2e-3, "weight_decay": 1e-4, "max_shift": 2}


class DomainClassifier(GenerativeModel):
    """conv3x3-ReLU-maxpool blocks, a ReLU feature layer, a linear classifier."""

    family = "feature-extractor"
    kind = "image"
    value_range = (0.0, 1.0)

    def __init__(self, in_channels: int = 1, image_size: int = 32, num_classes: int = 10,
                 widths: list[int] | tuple[int, ...] = (32, 64, 128), feature_dim: int = 64,
                 labels: list[str] | None = None) -> None:
        super().__init__()
        self.in_channels, self.image_size = in_channels, image_size
        self.num_classes, self.feature_dim = num_classes, feature_dim
        self.labels = list(labels) if labels else [str(i) for i in range(num_classes)]
        blocks: list[nn.Module] = []
        c = in_channels
        for w in widths:
            blocks += [nn.Conv2d(c, w, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c = w
        self.body = nn.Sequential(*blocks)
        side = image_size // 2 ** len(widths)
        self.feature = nn.Sequential(nn.Flatten(), nn.Linear(c * side * side, feature_dim),
                                     nn.ReLU(inplace=True))
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(feature_dim, num_classes)
        # set after training: features have unit RMS on the train split, the scale KID's
        # polynomial kernel (x.y/d + 1)^3 was designed for (as Inception's pool features)
        self.register_buffer("feature_scale", torch.ones(()))

    def extract(self, x01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features, logits) for images in [0, 1] of shape (n, in_channels, image_size, image_size)."""
        feats = self.feature(self.body(x01))
        return feats * self.feature_scale, self.head(self.dropout(feats))

    @torch.no_grad()
    def calibrate(self, x01: torch.Tensor, batch: int = 256) -> float:
        """Set ``feature_scale`` so the features of x01 have unit RMS; returns the scale."""
        self.eval()
        self.feature_scale.fill_(1.0)
        sq = sum(float(self.extract(x01[i:i + batch])[0].pow(2).sum()) for i in range(0, len(x01), batch))
        rms = (sq / (len(x01) * self.feature_dim)) ** 0.5
        self.feature_scale.fill_(1.0 / max(rms, 1e-8))
        return float(self.feature_scale)

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        return self.extract(x01)[1]

    def sample(self, n: int, **_: Any):  # type: ignore[override]
        raise ZooError("this is a feature extractor used by `zoo eval`, not a generative model; "
                       "it has nothing to sample")


def _shift(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Random whole-pixel translations by up to max_shift pixels (zero fill): cheap augmentation."""
    if max_shift <= 0:
        return x
    n, _, h, w = x.shape
    pad = F.pad(x, [max_shift] * 4)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n), generator=gen)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None].expand(n, x.shape[1], h, w + 2 * max_shift)
    pad = pad.gather(2, rows)
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :].expand(n, x.shape[1], h, w)
    return pad.gather(3, cols)


@torch.no_grad()
def accuracy(model: DomainClassifier, x: torch.Tensor, y: torch.Tensor, batch: int = 256) -> float:
    model.eval()
    hits = sum(int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum()) for i in range(0, len(x), batch))
    return hits / max(len(x), 1)


def train(config: str | dict[str, Any] = "small", *, epochs: int | None = None, seed: int = 0,
          dataset: str = "digits", threads: int | None = 2,
          log: Callable[[str], None] | None = print) -> tuple[DomainClassifier, dict[str, Any]]:
    """Train on the data set's train split (labels required); report test accuracy.

    Returns ``(model, report)`` like every zoo trainer.
    """
    from ..datasets import load_dataset

    if threads:
        torch.set_num_threads(threads)
    cfg = dict(CONFIGS[config]) if isinstance(config, str) else dict(config)
    epochs = RECIPE["epochs"] if epochs is None else epochs
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x_train, y_train = load_dataset(dataset, "train", size=cfg["image_size"], with_labels=True)
    x_test, y_test = load_dataset(dataset, "test", size=cfg["image_size"], with_labels=True)
    model = DomainClassifier(**cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=RECIPE["lr"], weight_decay=RECIPE["weight_decay"])
    steps_per_epoch = -(-len(x_train) // RECIPE["batch_size"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=RECIPE["lr"], total_steps=max(1, epochs * steps_per_epoch))
    start, history = time.perf_counter(), []
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x_train), generator=gen)
        total = 0.0
        for i in range(0, len(perm), RECIPE["batch_size"]):
            idx = perm[i:i + RECIPE["batch_size"]]
            xb = _shift(x_train[idx], RECIPE["max_shift"], gen)
            loss = F.cross_entropy(model(xb), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        row = {"epoch": epoch + 1, "loss": round(total / len(x_train), 4),
               "test_accuracy": round(accuracy(model, x_test, y_test), 4),
               "seconds": round(time.perf_counter() - start, 1)}
        history.append(row)
        if log:
            log(f"epoch {row['epoch']:3d}  loss {row['loss']:.4f}  test acc {row['test_accuracy']:.4f}  {row['seconds']:.0f}s")
    scale = model.calibrate(x_train)
    report = {
        "family": "feature-extractor",
        "config": cfg,
        "recipe": {"data": f"{dataset} train split, {len(x_train)} images at {cfg['image_size']}px",
                   "objective": "cross-entropy on the class labels",
                   "optimizer": f"AdamW lr {RECIPE['lr']} (one-cycle), weight decay {RECIPE['weight_decay']}",
                   "augmentation": f"random shifts up to {RECIPE['max_shift']} px",
                   "feature_scale": f"{scale:.4g}, unit RMS features on the train split",
                   "batch_size": RECIPE["batch_size"], "epochs": epochs, "seed": seed},
        "wall_time_s": round(time.perf_counter() - start, 1),
        "history": history,
        "metrics": {"train_accuracy": round(accuracy(model, x_train, y_train), 4),
                    "test_accuracy": round(accuracy(model, x_test, y_test), 4),
                    "test_examples": len(x_test)},
    }
    return model, report
