"""STREAM, MirrorGAN's semantic text regeneration and alignment module (Qiao et al. 2019,
section 3.3): an image captioner that re-describes the generated image. It is trained on real
images and their captions first, then frozen; the generator is trained to make it say the
caption it was given (Eq. 11, the caption cross-entropy L_stream).

Layout as the original's CAPTION_CNN / CAPTION_RNN (qiaott/MirrorGAN model.py): an image CNN
whose feature goes through ``linear`` and ``bn`` to ``embed_size``; an LSTM decoder with
``embed`` / ``lstm`` / ``linear`` that reads [image feature, word_1 .. word_{T-1}] and predicts
word_1 .. word_T (teacher forcing, packed sequences), and decodes greedily with ``sample``.
The original CNN is an ImageNet ResNet-152 at 224x224; for 64x64 shapes it is a small strided
CNN (``features``) trained here from scratch together with the decoder.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence


class CaptionCNN(nn.Module):
    """``CAPTION_CNN`` for 64x64 images in [-1, 1]: a convolutional trunk to a 4 x 4 map, then
    ``linear`` + ``bn`` to ``embed_size``.

    ``trunk="damsm"`` (the small config) is the layout of the DAMSM-shapes image encoder's
    ``features`` + ``global_features`` (64 -> 8x8 regions -> 4x4), loaded from the trained DAMSM and
    frozen -- the role the ImageNet ResNet-152 plays in the original, which is frozen as well;
    only ``linear`` and ``bn`` train. ``trunk="conv"``: strided convolutions trained from scratch.
    """

    def __init__(self, embed_size: int = 128, widths: Sequence[int] = (32, 64, 128, 64), trunk: str = "damsm") -> None:
        super().__init__()
        w = list(widths)
        self.trunk = trunk
        if trunk == "damsm":
            from zoo_core.blocks.image_encoder import SmallImageEncoder

            enc = SmallImageEncoder(nef=8, widths=w)
            self.features, self.global_features = enc.features, enc.global_features
            self.features.requires_grad_(False)
            self.global_features.requires_grad_(False)
        elif trunk == "conv":
            layers: list[nn.Module] = [nn.Conv2d(3, w[0], 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
            for cin, cout in zip(w[:-1], w[1:]):
                layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, inplace=True)]
            self.features, self.global_features = nn.Sequential(*layers), nn.Identity()
        else:
            raise ValueError(f"trunk must be 'damsm' or 'conv', got {trunk!r}")
        self.linear = nn.Linear(w[-1] * 16, embed_size)
        self.bn = nn.BatchNorm1d(embed_size, momentum=0.01)

    def train(self, mode: bool = True) -> "CaptionCNN":
        super().train(mode)
        if self.trunk == "damsm":  # frozen, pretrained: its batch norm keeps its statistics
            self.features.eval()
            self.global_features.eval()
        return self

    def load_damsm_trunk(self, image_encoder: nn.Module) -> None:
        self.features.load_state_dict(image_encoder.features.state_dict())
        self.global_features.load_state_dict(image_encoder.global_features.state_dict())

    def trunk_features(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-1] != 64:
            images = F.interpolate(images, size=(64, 64), mode="bilinear", align_corners=False,
                                   antialias=images.shape[-1] > 64)
        return self.global_features(self.features(images)).flatten(1)

    def head(self, trunk_features: torch.Tensor) -> torch.Tensor:
        return self.bn(self.linear(trunk_features))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk_features(images))


class CaptionRNN(nn.Module):
    """``CAPTION_RNN(embed_size, hidden_size, vocab_size, num_layers)``."""

    def __init__(self, embed_size: int, hidden_size: int, vocab_size: int, num_layers: int = 1,
                 max_seq_length: int = 18) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.lstm = nn.LSTM(embed_size, hidden_size, num_layers, batch_first=True)
        self.linear = nn.Linear(hidden_size, vocab_size)
        self.max_seg_length = max_seq_length

    def forward(self, features: torch.Tensor, captions: torch.Tensor, cap_lens: torch.Tensor) -> torch.Tensor:
        """Logits of every caption word and of the end token after it, in packed order (as
        ``packed_targets`` lays them out). The original predicts the words only; the end token
        is added so that greedy decoding knows where to stop."""
        emb = torch.cat((features.unsqueeze(1), self.embed(captions)), 1)
        lens = torch.as_tensor(cap_lens).cpu() + 1
        packed = pack_padded_sequence(emb, lens, batch_first=True, enforce_sorted=False)
        # frozen STREAM (eval mode) still passes gradients to the generator: cuDNN's RNN cannot
        # backpropagate in eval mode, PyTorch's own kernel can
        with torch.backends.cudnn.flags(enabled=self.training):
            hiddens, _ = self.lstm(packed)
        return self.linear(hiddens.data)

    @torch.no_grad()
    def sample(self, features: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """Greedy decoding: word ids (n, length); 0 (<end>) ends a caption."""
        ids, states, inputs = [], None, features.unsqueeze(1)
        for _ in range(length or self.max_seg_length + 1):
            hiddens, states = self.lstm(inputs, states)
            predicted = self.linear(hiddens.squeeze(1)).argmax(1)
            ids.append(predicted)
            inputs = self.embed(predicted).unsqueeze(1)
        return torch.stack(ids, 1)


def packed_targets(captions: torch.Tensor, cap_lens: torch.Tensor) -> torch.Tensor:
    """The words of each caption followed by <end> (index 0), packed."""
    ext = torch.cat((captions, captions.new_zeros(captions.size(0), 1)), 1)
    lens = torch.as_tensor(cap_lens).cpu() + 1
    return pack_padded_sequence(ext, lens, batch_first=True, enforce_sorted=False).data


class STREAM(nn.Module):
    """The captioner pair (``cnn``: CAPTION_CNN, ``rnn``: CAPTION_RNN)."""

    def __init__(self, vocab_size: int, embed_size: int = 128, hidden_size: int = 128, num_layers: int = 1,
                 widths: Sequence[int] = (32, 64, 128, 64), max_words: int = 18, trunk: str = "damsm") -> None:
        super().__init__()
        self.config = {"vocab_size": vocab_size, "embed_size": embed_size, "hidden_size": hidden_size,
                       "num_layers": num_layers, "widths": list(widths), "max_words": max_words, "trunk": trunk}
        self.cnn = CaptionCNN(embed_size, widths, trunk)
        self.rnn = CaptionRNN(embed_size, hidden_size, vocab_size, num_layers, max_words)

    def caption_loss(self, images: torch.Tensor, captions: torch.Tensor, cap_lens: torch.Tensor,
                     features: torch.Tensor | None = None) -> torch.Tensor:
        """L_stream: cross-entropy of the caption given the image (mean over words and <end>).
        ``features``: the trunk's features of the images, when already computed."""
        feats = self.cnn.head(features) if features is not None else self.cnn(images)
        logits = self.rnn(feats, captions, cap_lens)
        return F.cross_entropy(logits, packed_targets(captions, cap_lens).to(logits.device))

    @torch.no_grad()
    def describe(self, images: torch.Tensor, vocab: Any) -> list[str]:
        return [vocab.decode(row) for row in self.rnn.sample(self.cnn(images)).tolist()]

    def save(self, path: str) -> None:
        import json
        from pathlib import Path

        from safetensors.torch import save_file

        Path(path).mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(Path(path) / "stream.safetensors"))
        (Path(path) / "stream.json").write_text(json.dumps(self.config, indent=2) + "\n")

    @classmethod
    def load(cls, path: str) -> "STREAM":
        import json
        from pathlib import Path

        from safetensors.torch import load_file

        net = cls(**json.loads((Path(path) / "stream.json").read_text()))
        net.load_state_dict(load_file(str(Path(path) / "stream.safetensors")))
        return net.eval()


def train_stream(stream: STREAM, data: Any, *, steps: int, batch_size: int = 64, lr: float = 1e-3, seed: int = 0,
                 log: Any = print) -> dict[str, Any]:
    """Fit STREAM on real (image, caption) pairs (``data``: attn_stages.ShapesBatches), then freeze it.
    A frozen trunk's features are computed once for all images."""
    import time

    gen = torch.Generator().manual_seed(seed)
    final = data.sizes.index(max(data.sizes))
    start, losses = time.perf_counter(), []
    cached = None
    if stream.cnn.trunk == "damsm":
        stream.eval()
        with torch.no_grad():
            reals = data.reals[max(data.sizes)]
            cached = torch.cat([stream.cnn.trunk_features(reals[i:i + 256]) for i in range(0, len(reals), 256)])
    params = [p for p in stream.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    stream.train()
    for step in range(steps):
        idx = torch.randint(0, data.n, (min(batch_size, data.n),), generator=gen)
        b = data.batch(idx, gen)
        loss = stream.caption_loss(b["reals"][final], b["ids"], b["lens"],
                                   features=None if cached is None else cached[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        losses.append(float(loss.detach()))
        if log and (step + 1) % 200 == 0:
            log(f"stream step {step + 1}  caption loss {sum(losses[-200:]) / len(losses[-200:]):.3f}")
    stream.eval().requires_grad_(False)
    return {"steps": steps, "final_loss": round(sum(losses[-100:]) / max(len(losses[-100:]), 1), 4),
            "wall_time_s": round(time.perf_counter() - start, 1)}


@torch.no_grad()
def evaluate_stream(stream: STREAM, vocab: Any, n: int = 300) -> dict[str, float]:
    """Test-split quality: caption cross-entropy, and how often the greedy caption of a real
    test image is true of it (``zoo_core.data.shapes.is_true_of``)."""
    from zoo_core.data.shapes import generate, is_true_of

    data = generate("test", n)
    x = data.images.float() / 127.5 - 1
    prompts = [c[0] for c in data.captions]
    ids, lens = vocab.encode_batch(prompts, max_words=stream.config["max_words"])
    ce = float(stream.caption_loss(x, ids, lens))
    said = stream.describe(x, vocab)
    true = sum(bool(s) and is_true_of(s, a) for s, a in zip(said, data.attributes)) / n
    return {"stream_test_caption_ce": round(ce, 4), "stream_test_true_caption_rate": round(true, 4)}
