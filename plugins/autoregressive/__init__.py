"""Autoregressive families as one zoo plugin: a character GRU language model, PixelCNN and
WaveNet. Each factorises p(x) = prod_t p(x_t | x_<t) and samples one step at a time.

Registering the families must stay cheap: nothing here imports torch. Models, samplers and
trainers are named by import path and imported only when a model is built.
"""
from __future__ import annotations

from zoo_core.family import Family
from zoo_core.hookspecs import hookimpl

GRU_PAPER = "https://arxiv.org/abs/1406.1078"
PIXELCNN_PAPER = "https://arxiv.org/abs/1601.06759"
WAVENET_PAPER = "https://arxiv.org/abs/1609.03499"


@hookimpl
def zoo_families() -> list[Family]:
    return [
        Family(
            name="gru-lm",
            model_class="plugins.autoregressive.gru_lm:GRULanguageModel",
            tasks=("text-generation",),
            paper=GRU_PAPER,
            description=("Character-level language model: embedding, GRU, linear head; trained on "
                         "Python standard-library source; sampling with temperature, top-k, a stop "
                         "token and a length limit; exact log-likelihood"),
            trainer="plugins.autoregressive.train:train_gru_lm",
        ),
        Family(
            name="pixelcnn",
            model_class="plugins.autoregressive.pixelcnn:PixelCNN",
            tasks=("unconditional-image",),
            paper=PIXELCNN_PAPER,
            description=("PixelCNN: masked convolutions (type A, then residual type-B blocks) give "
                         "p(x_i | x_<i) over quantised grey levels in raster order; exact "
                         "log-likelihood; pixel-by-pixel sampling"),
            trainer="plugins.autoregressive.train:train_pixelcnn",
        ),
        Family(
            name="wavenet",
            model_class="plugins.autoregressive.wavenet:WaveNet",
            tasks=("unconditional-audio",),
            paper=WAVENET_PAPER,
            description=("WaveNet: dilated causal convolutions with gated activations, residual and "
                         "skip paths and a 256-way mu-law softmax; optional sound-class label; "
                         "trained on procedural tones, chords and chirps"),
            trainer="plugins.autoregressive.train:train_wavenet",
        ),
    ]
