"""The attentional multi-stage generator and discriminators shared by AttnGAN and MirrorGAN.

AttnGAN (Xu et al. 2018; taoxugit/AttnGAN code/model.py) and MirrorGAN (Qiao et al. 2019;
qiaott/MirrorGAN model.py) share one generator layout, ``G_NET``:

    sentence e --CA_NET--> c;  h1 = INIT_STAGE_G(z, c);           x1 = GET_IMAGE_G(h1)
    h_i = NEXT_STAGE_G(h_{i-1}, c, words, mask) (i = 2, 3);         x_i = GET_IMAGE_G(h_i)

``NEXT_STAGE_G`` lets every region of h_{i-1} attend over the words (``att``), concatenates
the word context with the regions, runs ``R_NUM`` residual blocks (``residual``) and doubles
the resolution (``upsample``). MirrorGAN's GLAM variant (``sentence_attention=True``) uses
``GLAttentionGeneral`` (word attention plus a sentence attention driven by c) and fuses
[regions, word context, sentence context] with a 1x1 conv (``conv``, 3 ngf -> 2 ngf) before
the residual blocks. Everything else is identical, so both families build it from here.

``AttentionalT2I`` is the zoo model both plugins subclass: the generator's modules sit on the
model itself under the originals' names (``ca_net``, ``h_net1``, ``img_net1``, ``h_net2``,
...), next to the frozen DAMSM ``text_encoder``, so an original ``netG.pth`` loads key for key.

Discriminators (training state, not published): ``D_NET64`` / ``D_NET128`` / ``D_NET256``
(the originals'), plus ``D_NET32`` for the small configs whose first stage is 32x32. Each
encodes its image to 8ndf x 4 x 4 (``forward``) and scores it with ``COND_DNET`` (joined with
the sentence feature) and ``UNCOND_DNET``. They return logits (no sigmoid); the losses use
BCE-with-logits, which equals the originals' BCELoss on sigmoid outputs.

``discriminator_loss`` / ``generator_adversarial_loss`` are the originals' losses
(miscc/losses.py): D sees (real, right text), (fake, right text), (real, wrong text) and the
unconditional real/fake pair; G gets cond + uncond terms at every stage.

Training helpers both trainers use: ``ShapesBatches`` (real images at every stage's size and
tokenised captions), ``train_attentional`` (the alternating D / G loop with the family's own
generator term plugged in, generator weight averaging and batch-norm recalibration),
``caption_accuracy_evaluator`` (the shapes attribute classifier on test prompts),
``load_damsm`` / ``text_config_from`` (the frozen DAMSM-shapes text side).

One extension beyond the originals: ``init_size`` picks the first stage's resolution. The
originals' first stage is always 64x64 (4x4 and four ``upBlock``s); the zoo's small shapes
configs start at 32x32 (three ``upBlock``s, ``upsample4`` absent) so that two stages end at
64x64.
"""
from __future__ import annotations

import math
from typing import Any, Callable, ClassVar, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import BadInputError
from .attention import GLAttentionGeneral, GlobalAttentionGeneral
from .conditioning import CANet, kl_loss
from .downblocks import Block3x3_leakRelu, D_GET_LOGITS, downBlock, encode_image_by_16times
from .text_to_image import GeneratorOutput, TextFeatures, TextToImageModel
from .upblocks import GetImageG, InitStageG, ResBlock, conv1x1, upBlock

__all__ = ["InitStage", "NEXT_STAGE_G", "NextStageG", "AttentionalT2I", "D_NET32", "D_NET64", "D_NET128",
           "D_NET256", "make_discriminator", "discriminator_loss", "generator_adversarial_loss",
           "weights_init", "stage_sizes"]


# -- generator ------------------------------------------------------------------------------
class InitStage(InitStageG):
    """``INIT_STAGE_G`` with ``upsamplings`` upBlocks (4, the original: 4x4 -> 64x64; 3 gives
    32x32, 2 gives 16x16). ``ngf`` is the width at 4x4; the output has ngf / 2^upsamplings."""

    def __init__(self, ngf: int, in_dim: int, upsamplings: int = 4) -> None:
        super().__init__(ngf, in_dim)
        if not 1 <= upsamplings <= 4:
            raise ValueError(f"upsamplings must be 1..4, got {upsamplings}")
        self.upsamplings = upsamplings
        for k in range(upsamplings + 1, 5):
            delattr(self, f"upsample{k}")

    def forward(self, z_code: torch.Tensor, c_code: torch.Tensor | None = None) -> torch.Tensor:
        x = z_code if c_code is None else torch.cat((c_code, z_code), 1)
        h = self.fc(x).view(-1, self.gf_dim, 4, 4)
        for k in range(1, self.upsamplings + 1):
            h = getattr(self, f"upsample{k}")(h)
        return h


class NextStageG(nn.Module):
    """``NEXT_STAGE_G(ngf, nef, ncf)``: word attention, residual blocks, x2 upsampling.

    ``sentence_attention=True`` is MirrorGAN's GLAM stage (``GLAttentionGeneral`` with the
    CA code c as its sentence input, and ``conv`` fusing the three feature maps).
    """

    def __init__(self, ngf: int, nef: int, ncf: int, r_num: int = 2, sentence_attention: bool = False) -> None:
        super().__init__()
        self.gf_dim, self.ef_dim, self.cf_dim, self.num_residual = ngf, nef, ncf, r_num
        self.sentence_attention = sentence_attention
        self.att = GLAttentionGeneral(ngf, nef, ncf) if sentence_attention else GlobalAttentionGeneral(ngf, nef)
        self.residual = nn.Sequential(*[ResBlock(ngf * 2) for _ in range(r_num)])
        self.upsample = upBlock(ngf * 2, ngf)
        if sentence_attention:
            self.conv = conv1x1(ngf * 3, ngf * 2)

    def forward(self, h_code: torch.Tensor, c_code: torch.Tensor, word_embs: torch.Tensor,
                mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """h_code (n, ngf, h, w), c_code (n, ncf), word_embs (n, nef, T), mask (n, T) ->
        (features (n, ngf, 2h, 2w), word attention (n, T, h, w))."""
        if self.sentence_attention:
            word_ctx, sent_ctx, att, _ = self.att(h_code, c_code, word_embs, mask)
            h_c_code = self.conv(torch.cat((h_code, word_ctx, sent_ctx), 1))
        else:
            word_ctx, att = self.att(h_code, word_embs, mask)
            h_c_code = torch.cat((h_code, word_ctx), 1)
        return self.upsample(self.residual(h_c_code)), att


NEXT_STAGE_G = NextStageG


def weights_init(module: nn.Module) -> None:
    """The originals' ``weights_init``: orthogonal convs and linears, BN scales from N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.BatchNorm1d)) and m.weight.is_meta:
            continue  # built on the meta device (counting parameters): nothing to initialise
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.orthogonal_(m.weight, 1.0)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def stage_sizes(init_size: int, branch_num: int) -> list[int]:
    """Image size of every stage, coarse to fine."""
    return [init_size * 2 ** i for i in range(branch_num)]


class AttentionalT2I(TextToImageModel):
    """The G_NET of AttnGAN / MirrorGAN as a zoo text-to-image model.

    Keyword arguments (config.json): ``vocab``, ``text_encoder``, ``max_words`` (the text side,
    see TextToImageModel); ``z_dim`` (cfg.GAN.Z_DIM), ``ncf`` (cfg.GAN.CONDITION_DIM, the CA
    size), ``ngf`` (cfg.GAN.GF_DIM: every stage's feature width), ``branch_num``
    (cfg.TREE.BRANCH_NUM), ``r_num`` (cfg.GAN.R_NUM), ``init_size`` (first stage's resolution:
    64 in the originals), ``ndf`` (cfg.GAN.DF_DIM, for the trainer's discriminators) and
    ``text_dim`` (only for a model without a text encoder).
    """

    sentence_attention: ClassVar[bool] = False

    def __init__(self, vocab: list[str] | None = None, text_encoder: str | dict[str, Any] | None = "small",
                 max_words: int = 18, z_dim: int = 100, ncf: int = 100, ngf: int = 32, branch_num: int = 3,
                 r_num: int = 2, init_size: int = 64, ndf: int = 64, text_dim: int | None = None,
                 text_scale: float = 1.0) -> None:
        super().__init__()
        self.init_text(vocab, text_encoder, max_words, text_dim)
        ups = math.log2(init_size / 4)
        if init_size < 8 or ups != int(ups) or ups > 4:
            raise ValueError(f"init_size must be 8, 16, 32 or 64, got {init_size}")
        if branch_num < 1:
            raise ValueError("branch_num must be at least 1")
        self.z_dim, self.c_dim = z_dim, ncf
        self.ngf, self.branch_num, self.r_num, self.init_size, self.ndf = ngf, branch_num, r_num, init_size, ndf
        self.text_scale = float(text_scale)
        nef = self.text_dim
        self.ca_net = CANet(nef, ncf, glu=True)
        self.h_net1 = InitStage(ngf * 2 ** int(ups), z_dim + ncf, int(ups))
        self.img_net1 = GetImageG(ngf)
        for i in range(2, branch_num + 1):
            setattr(self, f"h_net{i}", NextStageG(ngf, nef, ncf, r_num, self.sentence_attention))
            setattr(self, f"img_net{i}", GetImageG(ngf))
        weights_init(self.generator_modules())

    # -- structure --------------------------------------------------------------------------
    def generator_modules(self) -> nn.ModuleList:
        """The generator proper (G_NET), without the frozen text encoder."""
        names = ["ca_net"] + [f"{p}{i}" for i in range(1, self.branch_num + 1) for p in ("h_net", "img_net")]
        return nn.ModuleList([getattr(self, n) for n in names])

    def generator_parameters(self) -> list[nn.Parameter]:
        return list(self.generator_modules().parameters())

    def num_generator_parameters(self) -> int:
        return sum(p.numel() for p in self.generator_parameters())

    @property
    def sizes(self) -> list[int]:
        return stage_sizes(self.init_size, self.branch_num)

    # -- the generator forward ----------------------------------------------------------------
    def generate(self, noise: torch.Tensor, text: TextFeatures, eps: torch.Tensor | None = None,
                 attention: bool = False) -> GeneratorOutput:
        if self.branch_num > 1 and text.words is None:
            raise BadInputError(f"{self.family} attends over words: it needs prompts and a text encoder, "
                                f"not sentence embeddings alone")
        dev = self.device
        k = self.text_scale
        sentence = text.sentence.to(dev) * k if k != 1 else text.sentence.to(dev)
        c_code, mu, logvar = self.ca_net(sentence, None if eps is None else eps.to(dev))
        mask = text.mask
        h = self.h_net1(noise.to(dev), c_code)
        images = [self.img_net1(h)]
        maps = []
        words = None if text.words is None else (text.words.to(dev) * k if k != 1 else text.words.to(dev))
        for i in range(2, self.branch_num + 1):
            h, att = getattr(self, f"h_net{i}")(h, c_code, words, mask)
            images.append(getattr(self, f"img_net{i}")(h))
            maps.append(att)
        return GeneratorOutput(images=images, mu=mu, logvar=logvar, attention=maps)


# -- discriminators ---------------------------------------------------------------------------
class _DNet(nn.Module):
    """Common part: the conditional and unconditional heads on an 8ndf x 4 x 4 code."""

    image_size: ClassVar[int] = 64

    def _heads(self, ndf: int, nef: int, b_jcu: bool) -> None:
        self.df_dim, self.ef_dim = ndf, nef
        self.UNCOND_DNET = D_GET_LOGITS(ndf, nef, bcondition=False, sigmoid=False) if b_jcu else None
        self.COND_DNET = D_GET_LOGITS(ndf, nef, bcondition=True, sigmoid=False)


class D_NET32(_DNet):
    """32x32 images (the small configs' first stage): three 4x4 stride-2 convs to 4ndf x 4 x 4
    (``img_code_s8``, as ``encode_image_by_16times`` without its last layer), then a 3x3 conv
    to 8ndf (``img_code_s8_1``)."""

    image_size = 32

    def __init__(self, ndf: int = 64, nef: int = 256, b_jcu: bool = True) -> None:
        super().__init__()
        self.img_code_s8 = encode_image_by_16times(ndf)[:-3]  # drop the fourth down-sampling
        self.img_code_s8_1 = Block3x3_leakRelu(ndf * 4, ndf * 8)
        self._heads(ndf, nef, b_jcu)

    def forward(self, x_var: torch.Tensor) -> torch.Tensor:
        return self.img_code_s8_1(self.img_code_s8(x_var))


class D_NET64(_DNet):
    image_size = 64

    def __init__(self, ndf: int = 64, nef: int = 256, b_jcu: bool = True) -> None:
        super().__init__()
        self.img_code_s16 = encode_image_by_16times(ndf)
        self._heads(ndf, nef, b_jcu)

    def forward(self, x_var: torch.Tensor) -> torch.Tensor:
        return self.img_code_s16(x_var)


class D_NET128(_DNet):
    image_size = 128

    def __init__(self, ndf: int = 64, nef: int = 256, b_jcu: bool = True) -> None:
        super().__init__()
        self.img_code_s16 = encode_image_by_16times(ndf)
        self.img_code_s32 = downBlock(ndf * 8, ndf * 16)
        self.img_code_s32_1 = Block3x3_leakRelu(ndf * 16, ndf * 8)
        self._heads(ndf, nef, b_jcu)

    def forward(self, x_var: torch.Tensor) -> torch.Tensor:
        return self.img_code_s32_1(self.img_code_s32(self.img_code_s16(x_var)))


class D_NET256(_DNet):
    image_size = 256

    def __init__(self, ndf: int = 64, nef: int = 256, b_jcu: bool = True) -> None:
        super().__init__()
        self.img_code_s16 = encode_image_by_16times(ndf)
        self.img_code_s32 = downBlock(ndf * 8, ndf * 16)
        self.img_code_s64 = downBlock(ndf * 16, ndf * 32)
        self.img_code_s64_1 = Block3x3_leakRelu(ndf * 32, ndf * 16)
        self.img_code_s64_2 = Block3x3_leakRelu(ndf * 16, ndf * 8)
        self._heads(ndf, nef, b_jcu)

    def forward(self, x_var: torch.Tensor) -> torch.Tensor:
        x = self.img_code_s64(self.img_code_s32(self.img_code_s16(x_var)))
        return self.img_code_s64_2(self.img_code_s64_1(x))


D_NETS = {32: D_NET32, 64: D_NET64, 128: D_NET128, 256: D_NET256}


def make_discriminator(image_size: int, ndf: int, nef: int, b_jcu: bool = True) -> _DNet:
    """The discriminator for one stage's image size (weights initialised as the originals')."""
    if image_size not in D_NETS:
        raise ValueError(f"no discriminator for {image_size}x{image_size} images (have {sorted(D_NETS)})")
    net = D_NETS[image_size](ndf, nef, b_jcu)
    weights_init(net)
    return net


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def discriminator_loss(netD: _DNet, real: torch.Tensor, fake: torch.Tensor,
                       sent: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """The originals' ``discriminator_loss``: matched real pairs are real; fakes and
    mismatched pairs (real image i with the caption of i + 1) are fake."""
    real_f, fake_f = netD(real), netD(fake.detach())
    cond_real = netD.COND_DNET(real_f, sent)
    cond_fake = netD.COND_DNET(fake_f, sent)
    b = real_f.size(0)
    cond_wrong = netD.COND_DNET(real_f[: b - 1], sent[1:b])
    err_cr, err_cf, err_cw = _bce(cond_real, 1.0), _bce(cond_fake, 0.0), _bce(cond_wrong, 0.0)
    if netD.UNCOND_DNET is not None:
        err_r, err_f = _bce(netD.UNCOND_DNET(real_f), 1.0), _bce(netD.UNCOND_DNET(fake_f), 0.0)
        loss = (err_r + err_cr) / 2.0 + (err_f + err_cf + err_cw) / 3.0
    else:
        loss = err_cr + (err_cf + err_cw) / 2.0
    stats = {"d_real": float(torch.sigmoid(cond_real.detach()).mean()),
             "d_fake": float(torch.sigmoid(cond_fake.detach()).mean()),
             "d_wrong": float(torch.sigmoid(cond_wrong.detach()).mean())}
    return loss, stats


def generator_adversarial_loss(netsD: Sequence[_DNet], fakes: Sequence[torch.Tensor],
                               sent: torch.Tensor) -> torch.Tensor:
    """Sum over stages of the non-saturating cond + uncond generator losses."""
    total = fakes[0].new_zeros(())
    for netD, fake in zip(netsD, fakes):
        feat = netD(fake)
        total = total + _bce(netD.COND_DNET(feat, sent), 1.0)
        if netD.UNCOND_DNET is not None:
            total = total + _bce(netD.UNCOND_DNET(feat), 1.0)
    return total


# -- training helpers both families use --------------------------------------------------------
from .t2i_training import load_damsm, load_shapes_classifier  # noqa: E402  (re-exported for the trainers)


def text_config_from(damsm: Any, cfg: dict[str, Any]) -> dict[str, Any]:
    """The generator's text side is the DAMSM's: same vocabulary, same encoder sizes."""
    te = damsm.text_encoder
    return {**cfg, "vocab": list(damsm.vocab.words), "max_words": damsm.max_words,
            "text_encoder": {"ninput": te.ninput, "nhidden": te.nef, "nlayers": te.nlayers,
                             "drop_prob": float(te.drop.p), "bidirectional": te.num_directions == 2,
                             "rnn_type": te.rnn_type}}


def shapes_data(model: Any, data: Any = None, n: int | None = None) -> ShapesBatches:
    """Training pairs: the shapes train split (or ``data`` = (x01, captions[, labels]))."""
    if data is None:
        from zoo_core.data.shapes import load_shapes

        x01, captions, labels = load_shapes("train", with_captions=True, with_attributes=True, n=n)
    else:
        x01, captions, *rest = data
        labels = rest[0] if rest else None
    class_ids = scene_class_ids(labels) if labels is not None else None
    return ShapesBatches(x01, captions, model.vocab, model.max_words, model.sizes, class_ids)


def caption_accuracy_evaluator(n: int = 500, seed: int = 0, classifier: Any = None) -> Callable[[Any], dict[str, float]]:
    """A callable scoring a generator on the first caption of n test images with the shapes
    attribute classifier (fixed noise, so scores are comparable between calls)."""
    from zoo_core.data.shapes import generate

    clf = load_shapes_classifier(classifier)
    prompts = [caps[0] for caps in generate("test", n).captions]

    @torch.no_grad()
    def evaluate(model: Any) -> dict[str, float]:
        gen = torch.Generator().manual_seed(seed)
        images = []
        for i in range(0, n, 100):
            chunk = prompts[i:i + 100]
            text = model.encode_prompts(chunk)
            z = torch.randn(len(chunk), model.z_dim, generator=gen)
            eps = torch.randn(len(chunk), model.c_dim, generator=gen)
            images.append(model.generate(z, text, eps=eps).images[-1].cpu())
        x01 = ((torch.cat(images) + 1) / 2).clamp(0, 1)
        if x01.shape[-1] != 64:
            x01 = torch.nn.functional.interpolate(x01, size=(64, 64), mode="bilinear", align_corners=False,
                                                  antialias=x01.shape[-1] > 64)
        acc = clf.caption_accuracy(x01, prompts)
        return {k: round(v, 4) for k, v in acc.items()}

    return evaluate


# -- the shared training loop -------------------------------------------------------------------
class ShapesBatches:
    """Training pairs for the attentional generators: real images at every stage's size (in
    [-1, 1]) and tokenised captions (all CAPTIONS_PER_IMAGE per image; one drawn per step).

    ``x01`` (N, 3, 64, 64) in [0, 1]; ``captions`` N lists of strings; ``class_ids`` (N,)
    ids shared by images of identical scenes (the DAMSM losses' class mask) or None.
    """

    def __init__(self, x01: torch.Tensor, captions: Sequence[Sequence[str]], vocab: Any, max_words: int,
                 sizes: Sequence[int], class_ids: torch.Tensor | None = None) -> None:
        self.reals = {}
        for s in sorted(set(sizes)):
            x = x01 if x01.shape[-1] == s else F.interpolate(
                x01, size=(s, s), mode="bilinear", align_corners=False, antialias=s < x01.shape[-1])
            self.reals[s] = (x.clamp(0, 1) * 2 - 1).contiguous()
        self.sizes = list(sizes)
        k = len(captions[0])
        flat = [c for caps in captions for c in caps]
        ids, lens = vocab.encode_batch(flat, max_words=max_words, pad_to=max_words)
        self.ids, self.lens = ids.view(len(captions), k, -1), lens.view(len(captions), k)
        self.class_ids = class_ids
        self.n = len(captions)

    def batch(self, idx: torch.Tensor, gen: torch.Generator) -> dict[str, Any]:
        pick = torch.randint(0, self.ids.shape[1], (len(idx),), generator=gen)
        lens = self.lens[idx, pick]
        ids = self.ids[idx, pick][:, : int(lens.max())]
        return {"reals": [self.reals[s][idx] for s in self.sizes], "ids": ids, "lens": lens,
                "class_ids": None if self.class_ids is None else self.class_ids[idx], "index": idx}


def scene_class_ids(labels: torch.Tensor) -> torch.Tensor:
    """One id per distinct attribute row (images of the same scene description)."""
    return torch.unique(labels, dim=0, return_inverse=True)[1]


@torch.no_grad()
def recalibrate_batchnorm(model: AttentionalT2I, data: ShapesBatches, *, batches: int = 20,
                          batch_size: int = 64, seed: int = 0) -> None:
    """Recompute the generator's BN running statistics for its final (averaged) weights as exact
    means over fresh z and training captions; sampling runs in eval mode, so a sample never
    depends on the rest of its batch."""
    bns = [m for m in model.generator_modules().modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    gen = torch.Generator().manual_seed(seed)
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    was = model.training
    model.train()
    for _ in range(batches):
        b = data.batch(torch.randint(0, data.n, (batch_size,), generator=gen), gen)
        text = model.encode_ids(b["ids"], b["lens"])
        model.generate(torch.randn(batch_size, model.z_dim, generator=gen), text,
                       eps=torch.randn(batch_size, model.c_dim, generator=gen))
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.train(was)


def train_attentional(model: AttentionalT2I, data: ShapesBatches, *, extra_loss: Any, steps: int | None = None,
                      minutes: float | None = None, batch_size: int = 32, lr_g: float = 2e-4, lr_d: float = 2e-4,
                      betas: tuple[float, float] = (0.5, 0.999), kl_weight: float = 1.0, ema: float = 0.999,
                      seed: int = 0, evaluate: Any = None, eval_every: int = 0, log_every: int = 50,
                      bn_batches: int = 20, log: Any = print) -> dict[str, Any]:
    """Alternate D and G updates as the originals' trainers do, for ``steps`` updates or until
    ``minutes`` of wall time have passed (whichever comes first).

    ``extra_loss(model, out, batch, text) -> (loss, stats)`` adds the family's own generator
    term (AttnGAN: lambda * DAMSM; MirrorGAN: lambda * STREAM caption loss). The generator's
    parameters are averaged (EMA ``ema``, the originals' ``avg_param_G`` with 0.999) and the
    averaged weights are what the model holds at the end, with batch-norm statistics recomputed.
    ``evaluate(model) -> dict`` runs every ``eval_every`` steps (on the averaged weights).
    Returns the training history and counters.
    """
    import time

    if steps is None and minutes is None:
        raise ValueError("give steps or minutes")
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    dev = model.device
    netsD = [make_discriminator(s, model.ndf, model.text_dim).to(dev) for s in model.sizes]
    g_params = model.generator_parameters()
    opt_g = torch.optim.Adam(g_params, lr=lr_g, betas=betas)
    opts_d = [torch.optim.Adam(d.parameters(), lr=lr_d, betas=betas) for d in netsD]
    avg = [p.detach().clone() for p in g_params]

    def swap_in_average() -> list[torch.Tensor]:
        backup = [p.detach().clone() for p in g_params]
        for p, a in zip(g_params, avg):
            p.data.copy_(a)
        return backup

    def restore(backup: list[torch.Tensor]) -> None:
        for p, b in zip(g_params, backup):
            p.data.copy_(b)

    history: list[dict[str, Any]] = []
    evals: list[dict[str, Any]] = []
    sums: dict[str, float] = {}
    count = 0
    step = 0
    start = time.perf_counter()
    model.train()
    for d in netsD:
        d.train()
    perm, pos = torch.randperm(data.n, generator=gen), 0
    while True:
        if steps is not None and step >= steps:
            break
        if minutes is not None and time.perf_counter() - start > minutes * 60:
            break
        if pos + batch_size > data.n:
            perm, pos = torch.randperm(data.n, generator=gen), 0
        idx = perm[pos:pos + batch_size]
        pos += batch_size
        b = data.batch(idx, gen)
        text = model.encode_ids(b["ids"], b["lens"])  # frozen encoder, no grad
        noise = torch.randn(len(idx), model.z_dim, generator=gen).to(dev)
        eps = torch.randn(len(idx), model.c_dim, generator=gen).to(dev)
        out = model.generate(noise, text, eps=eps)

        stats: dict[str, float] = {}
        loss_d_total = 0.0
        for i, (netD, opt) in enumerate(zip(netsD, opts_d)):
            opt.zero_grad(set_to_none=True)
            loss_d, st = discriminator_loss(netD, b["reals"][i].to(dev), out.images[i], text.sentence)
            loss_d.backward()
            opt.step()
            loss_d_total += float(loss_d.detach())
            if i == len(netsD) - 1:
                stats.update(st)
        stats["loss_d"] = loss_d_total

        for d in netsD:
            d.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        adv = generator_adversarial_loss(netsD, out.images, text.sentence)
        kl = kl_loss(out.mu, out.logvar)
        extra, extra_stats = extra_loss(model, out, b, text)
        loss_g = adv + kl_weight * kl + extra
        loss_g.backward()
        opt_g.step()
        for d in netsD:
            d.requires_grad_(True)
        with torch.no_grad():
            for p, a in zip(g_params, avg):
                a.mul_(ema).add_(p.detach(), alpha=1 - ema)
        stats.update({"loss_g": float(loss_g.detach()), "adv_g": float(adv.detach()), "kl": float(kl.detach()), **extra_stats})
        for k, v in stats.items():
            sums[k] = sums.get(k, 0.0) + v
        count += 1
        step += 1
        if step % log_every == 0:
            row = {"step": step, **{k: round(v / count, 4) for k, v in sums.items()},
                   "seconds": round(time.perf_counter() - start, 1)}
            history.append(row)
            sums, count = {}, 0
            if log:
                log("  ".join(f"{k} {v}" for k, v in row.items()))
        if evaluate is not None and eval_every and step % eval_every == 0:
            backup = swap_in_average()
            model.eval()
            result = {"step": step, **evaluate(model)}
            model.train()
            restore(backup)
            evals.append(result)
            if log:
                log(f"eval {result}")
    wall = time.perf_counter() - start
    swap_in_average()
    recalibrate_batchnorm(model, data, batches=bn_batches, batch_size=min(64, data.n), seed=seed)
    model.eval()
    return {"history": history, "evals": evals, "steps": step, "wall_time_s": round(wall, 1),
            "discriminator_parameters": sum(p.numel() for d in netsD for p in d.parameters()),
            "final": {k: v for k, v in (history[-1] if history else {}).items() if k not in ("step", "seconds")}}
