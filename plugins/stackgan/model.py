"""StackGAN generators (the published model) and discriminators (training state), laid out as
hanzhanggit/StackGAN-Pytorch code/model.py so an original ``netG`` state dict loads key for key.

- ``CA_NET`` (zoo_core.blocks.conditioning.CANet with ``glu=False``): the sentence embedding to
  mu and log sigma^2 (fc + ReLU), c = mu + sigma * eps;
- ``STAGE1_G``: its own CA net; (z, c) -> ``fc`` (Linear without bias, BatchNorm1d, ReLU) to
  8 gf x 4 x 4, then ``upsample1``.. (nearest x2, conv3x3, batch norm, ReLU; each halves the
  width) up to the Stage-I size, and ``img`` (conv3x3 to RGB, tanh);
- ``STAGE2_G`` (this model's top level, with ``STAGE1_G`` inside it as in the original): its own
  CA net; the Stage-I image (detached) is encoded by ``encoder`` (conv3x3 + ReLU, two 4x4
  stride-2 convolutions with batch norm and ReLU: 4 gf x s/4 x s/4), joined with c tiled over
  the map by ``hr_joint`` (conv3x3, batch norm, ReLU), refined by ``residual`` (R_NUM residual
  blocks) and upsampled by ``upsample1``.. to the final size, then ``img``;
- ``STAGE1_D`` / ``STAGE2_D``: strided convolutions to 8 df x 4 x 4 (``encode_img``), and the
  conditional head ``get_cond_logits`` (the condition mu tiled and joined, conv3x3 + batch norm +
  LeakyReLU, a 4x4 convolution); Stage-II's also has the unconditional ``get_uncond_logits``.
  The heads are zoo_core.blocks.downblocks.D_GET_LOGITS (StackGAN++ key names; the layers are
  StackGAN's) returning logits, not probabilities.

The original fixes 64x64 -> 256x256; here the number of up/down-sampling blocks follows
``stage1_size`` and ``image_size`` (the shapes config: 32x32 -> 64x64). Each CA net draws its own
eps, so the sampler's CA noise holds both: ``c_dim`` is 2 * ``condition_dim`` (Stage-I's eps,
then Stage-II's).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from zoo_core.blocks.conditioning import CANet
from zoo_core.blocks.downblocks import D_GET_LOGITS
from zoo_core.blocks.init import normal_init
from zoo_core.blocks.text_to_image import GeneratorOutput, TextFeatures, TextToImageModel
from zoo_core.blocks.upblocks import ResBlock, conv3x3, upBlock


def _log2(n: int, what: str, minimum: int) -> int:
    k = math.log2(n) if n > 0 else -1
    if k != int(k) or n < minimum:
        raise ValueError(f"{what} must be a power of two >= {minimum}, got {n}")
    return int(k)


class STAGE1_G(nn.Module):
    """(sentence embedding, z) -> low-resolution image, mu, logvar."""

    def __init__(self, t_dim: int, condition_dim: int, z_dim: int, gf_dim: int, image_size: int = 64) -> None:
        super().__init__()
        self.gf_dim, self.ef_dim, self.z_dim = gf_dim * 8, condition_dim, z_dim
        ngf = self.gf_dim
        self.num_up = _log2(image_size, "stage1_size", 8) - 2
        if ngf // 2 ** self.num_up < 1:
            raise ValueError(f"gf_dim {gf_dim} is too narrow for {self.num_up} upsamplings")
        self.ca_net = CANet(t_dim, condition_dim, glu=False)
        self.fc = nn.Sequential(nn.Linear(z_dim + condition_dim, ngf * 4 * 4, bias=False),
                                nn.BatchNorm1d(ngf * 4 * 4), nn.ReLU(True))
        for i in range(self.num_up):
            self.add_module(f"upsample{i + 1}", upBlock(ngf // 2 ** i, ngf // 2 ** (i + 1), activation="relu"))
        self.img = nn.Sequential(conv3x3(ngf // 2 ** self.num_up, 3), nn.Tanh())

    def forward(self, text_embedding: torch.Tensor, noise: torch.Tensor,
                eps: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c_code, mu, logvar = self.ca_net(text_embedding, eps)
        h = self.fc(torch.cat((noise, c_code), 1)).view(-1, self.gf_dim, 4, 4)
        for i in range(self.num_up):
            h = getattr(self, f"upsample{i + 1}")(h)
        return self.img(h), mu, logvar


def stage2_encoder(ngf: int) -> nn.Sequential:
    """Stage-I image -> 4ngf x s/4 x s/4."""
    return nn.Sequential(
        conv3x3(3, ngf), nn.ReLU(True),
        nn.Conv2d(ngf, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.Conv2d(ngf * 2, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True))


class StackGAN(TextToImageModel):
    """STAGE2_G with its STAGE1_G: sentence embedding and z -> [Stage-I image, Stage-II image]."""

    family = "stackgan"
    card_notes = (
        "Text encoder: the sentence feature of the frozen DAMSM bi-LSTM trained on the shapes "
        "captions (damsm-shapes, 128 values) replaces the paper's char-CNN-RNN embedding; it travels "
        "in these weights, so prompts work offline. The repo holds both generators (Stage-I inside "
        "Stage-II, as the original's STAGE2_G); the discriminators are training state. `--stage 0` "
        "returns the Stage-I (low-resolution) image. The CA noise of both stages comes from the "
        "per-sample RNG, and batch norm runs in eval mode with statistics recomputed after training, "
        "so a sample never depends on its batch. StackGAN has no tractable likelihood. "
        "Original checkpoints (hanzhanggit/StackGAN-Pytorch netG_epoch_*.pth of Stage II) convert with "
        "`zoo convert stackgan netG.pth --config paper-birds -o DIR` and sample from char-CNN-RNN "
        "embeddings with `--embeddings FILE.npy`.")

    def __init__(self, vocab: list[str] | None = None, text_encoder: str | dict | None = "small",
                 max_words: int = 18, text_dim: int | None = None, z_dim: int = 100, condition_dim: int = 128,
                 gf_dim: int = 192, df_dim: int = 96, r_num: int = 2, stage1_size: int = 64,
                 image_size: int = 256, stage1_gf_dim: int | None = None, text_scale: float = 1.0) -> None:
        super().__init__()
        self.init_text(vocab, text_encoder, max_words, text_dim)
        k1 = _log2(stage1_size, "stage1_size", 8)
        k2 = _log2(image_size, "image_size", 16)
        if k2 <= k1:
            raise ValueError(f"image_size ({image_size}) must exceed stage1_size ({stage1_size})")
        self.z_dim, self.condition_dim, self.c_dim = z_dim, condition_dim, 2 * condition_dim
        self.gf_dim, self.df_dim, self.r_num = gf_dim, df_dim, r_num
        self.stage1_size, self.image_size = stage1_size, image_size
        self.text_scale = float(text_scale)  # multiplies the sentence embedding before both CA nets
        ngf = gf_dim
        self.STAGE1_G = STAGE1_G(self.text_dim, condition_dim, z_dim, stage1_gf_dim or gf_dim, stage1_size)
        self.STAGE1_G.requires_grad_(False)  # trained first, then fixed (the original's STAGE2_G)
        self.ca_net = CANet(self.text_dim, condition_dim, glu=False)
        self.encoder = stage2_encoder(ngf)
        self.hr_joint = nn.Sequential(conv3x3(condition_dim + ngf * 4, ngf * 4), nn.BatchNorm2d(ngf * 4), nn.ReLU(True))
        self.residual = nn.Sequential(*[ResBlock(ngf * 4, activation="relu") for _ in range(r_num)])
        self.num_up = k2 - (k1 - 2)  # from stage1_size / 4 to image_size
        if ngf * 4 // 2 ** self.num_up < 1:
            raise ValueError(f"gf_dim {gf_dim} is too narrow for {self.num_up} upsamplings")
        for i in range(self.num_up):
            self.add_module(f"upsample{i + 1}", upBlock(ngf * 4 // 2 ** i, ngf * 4 // 2 ** (i + 1), activation="relu"))
        self.img = nn.Sequential(conv3x3(ngf * 4 // 2 ** self.num_up, 3), nn.Tanh())

    def stage2_modules(self) -> list[nn.Module]:
        """Stage-II's own modules (what its training updates)."""
        return [self.ca_net, self.encoder, self.hr_joint, self.residual,
                *[getattr(self, f"upsample{i + 1}") for i in range(self.num_up)], self.img]

    def split_eps(self, eps: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """CA noise (n, 2 condition_dim) -> Stage-I's, Stage-II's; (n, condition_dim) serves both."""
        if eps is None:
            return None, None
        eps = eps.to(self.device)
        if eps.shape[1] == self.c_dim:
            return eps[:, : self.condition_dim], eps[:, self.condition_dim:]
        if eps.shape[1] == self.condition_dim:
            return eps, eps
        raise ValueError(f"CA noise must have {self.c_dim} (or {self.condition_dim}) columns, got {eps.shape[1]}")

    def _scaled(self, sentence: torch.Tensor) -> torch.Tensor:
        return sentence * self.text_scale if self.text_scale != 1.0 else sentence

    def condition_mean(self, stage: int, sentence: torch.Tensor) -> torch.Tensor:
        """The CA mean mu of a stage's conditioning net (the discriminators' condition)."""
        ca = self.STAGE1_G.ca_net if stage == 1 else self.ca_net
        return ca.encode(self._scaled(sentence))[0]

    def stage1(self, noise: torch.Tensor, sentence: torch.Tensor, eps: torch.Tensor | None = None):
        """Stage-I image (n, 3, stage1_size, stage1_size), mu, logvar."""
        return self.STAGE1_G(self._scaled(sentence), noise, eps)

    def stage2(self, stage1_img: torch.Tensor, sentence: torch.Tensor, eps: torch.Tensor | None = None):
        """Stage-II image from a Stage-I image (detached, as in the original), mu, logvar."""
        encoded = self.encoder(stage1_img.detach())
        c_code, mu, logvar = self.ca_net(self._scaled(sentence), eps)
        c = c_code[:, :, None, None].expand(-1, -1, encoded.size(2), encoded.size(3))
        h = self.residual(self.hr_joint(torch.cat((encoded, c), 1)))
        for i in range(self.num_up):
            h = getattr(self, f"upsample{i + 1}")(h)
        return self.img(h), mu, logvar

    def forward(self, noise: torch.Tensor, sentence: torch.Tensor, eps: torch.Tensor | None = None):
        """The original STAGE2_G forward: (stage1_img, fake_img, mu, logvar)."""
        eps1, eps2 = self.split_eps(eps)
        img1, _, _ = self.stage1(noise, sentence, eps1)
        img2, mu, logvar = self.stage2(img1, sentence, eps2)
        return img1, img2, mu, logvar

    def generate(self, noise: torch.Tensor, text: TextFeatures, eps: torch.Tensor | None = None,
                 attention: bool = False) -> GeneratorOutput:
        img1, img2, mu, logvar = self(noise.to(self.device), text.sentence.to(self.device), eps)
        return GeneratorOutput(images=[img1, img2], mu=mu, logvar=logvar)

    def make_discriminators(self) -> tuple["STAGE1_D", "STAGE2_D"]:
        return (STAGE1_D(self.df_dim, self.condition_dim, self.stage1_size),
                STAGE2_D(self.df_dim, self.condition_dim, self.image_size))


def encode_image(ndf: int, image_size: int) -> nn.Sequential:
    """Strided 4x4 convolutions (LeakyReLU 0.2, batch norm after all but the first) to
    8ndf x 4 x 4. 64x64 is the original STAGE1_D (ndf, 2, 4, 8 ndf); a smaller image enters that
    pyramid lower (32x32: 2, 4, 8 ndf); a larger one continues doubling and comes back to 8ndf
    with 3x3 convolutions (256x256: the original STAGE2_D)."""
    k = _log2(image_size, "image size", 8) - 2
    widths = [ndf * 2 ** i for i in range(k)] if k >= 4 else [ndf * 8 // 2 ** (k - 1 - i) for i in range(k)]
    layers: list[nn.Module] = []
    cin = 3
    for i, w in enumerate(widths):
        layers.append(nn.Conv2d(cin, w, 4, 2, 1, bias=False))
        if i:
            layers.append(nn.BatchNorm2d(w))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        cin = w
    while cin > ndf * 8:
        layers += [conv3x3(cin, cin // 2), nn.BatchNorm2d(cin // 2), nn.LeakyReLU(0.2, inplace=True)]
        cin //= 2
    return nn.Sequential(*layers)


def init_weights(module: nn.Module) -> None:
    """The original's weights_init: conv N(0, 0.02), batch norm N(1, 0.02), linear N(0, 0.02)."""
    normal_init(module, linear=True)


class STAGE1_D(nn.Module):
    """Stage-I discriminator: image features and the conditional logit given mu."""

    def __init__(self, df_dim: int, condition_dim: int, image_size: int = 64) -> None:
        super().__init__()
        self.df_dim, self.ef_dim = df_dim, condition_dim
        self.encode_img = encode_image(df_dim, image_size)
        self.get_cond_logits = D_GET_LOGITS(df_dim, condition_dim, bcondition=True, sigmoid=False)
        self.get_uncond_logits: D_GET_LOGITS | None = None
        init_weights(self)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.encode_img(image)


class STAGE2_D(STAGE1_D):
    """Stage-II discriminator: conditional and unconditional logits."""

    def __init__(self, df_dim: int, condition_dim: int, image_size: int = 256) -> None:
        super().__init__(df_dim, condition_dim, image_size)
        self.get_uncond_logits = D_GET_LOGITS(df_dim, condition_dim, bcondition=False, sigmoid=False)
        init_weights(self.get_uncond_logits)
