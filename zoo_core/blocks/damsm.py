"""The Deep Attentional Multimodal Similarity Model's losses (AttnGAN, Xu et al. 2018, section
3.2, Eqs. 7-14; original functions ``words_loss``, ``sent_loss`` and ``cosine_similarity`` in
taoxugit/AttnGAN code/miscc/losses.py) and R-precision (section 4).

Word level: every word attends over the image regions (``func_attention``, gamma1), gets a
region context c_i, and the image-caption score is R(Q, D) = log(sum_i exp(gamma2 cos(c_i,
e_i))) (Eq. 10). Sentence level: R(Q, D) = cos(global image code, sentence feature) (Eq. 13).
Within a batch of M matched pairs, the posterior of the matching caption, softmax(gamma3 R)
(Eq. 11), is trained with cross-entropy both ways (image -> caption: ``loss0``; caption ->
image: ``loss1``), exactly the originals' ``CrossEntropyLoss(scores, arange(M))``.
Pairs of different items that share a class (``class_ids``) are left out, as in the original.

This version scores all image-caption pairs of a batch at once (einsum, no per-caption loop)
and masks padded words instead of slicing each caption to its length; it computes the same
numbers as the original's loop. The paper's gammas are the
defaults: gamma1 = 4, gamma2 = 5, gamma3 = 10.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .attention import func_attention

GAMMA1, GAMMA2, GAMMA3 = 4.0, 5.0, 10.0


def cosine_similarity(x1: torch.Tensor, x2: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Cosine similarity along `dim`, norms clamped at eps (the original's form)."""
    return (x1 * x2).sum(dim) / (x1.norm(2, dim) * x2.norm(2, dim)).clamp(min=eps)


def _lengths_to_mask(cap_lens: torch.Tensor, T: int) -> torch.Tensor:
    return torch.arange(T, device=cap_lens.device)[None, :] >= cap_lens[:, None]  # True = padding


def word_scores(img_features: torch.Tensor, words_emb: torch.Tensor, cap_lens: torch.Tensor,
                gamma1: float = GAMMA1, gamma2: float = GAMMA2) -> torch.Tensor:
    """R(image j, caption i) of Eq. 10 for every pair: (n_images, n_captions).

    img_features: regions (n_images, nef, h, w); words_emb: (n_captions, nef, T); cap_lens: (n_captions,).
    """
    n_img, nef = img_features.shape[:2]
    T = words_emb.size(2)
    mask = _lengths_to_mask(cap_lens.to(words_emb.device), T)  # (n_captions, T)
    regions = img_features.reshape(n_img, nef, -1)  # (J, nef, R)
    # func_attention for every (image j, caption i) pair at once, without copying features
    sim = torch.einsum("jdr,idt->jirt", regions, words_emb)  # Eq. (7)
    attn = sim.masked_fill(mask[None, :, None, :], float("-inf")).softmax(3)  # over words, Eq. (8)
    attn = (attn * gamma1).softmax(2)  # over regions, Eq. (9)
    context = torch.einsum("jirt,jdr->jidt", attn, regions)  # region context c_t of each word
    dot = torch.einsum("jidt,idt->jit", context, words_emb)
    cos = dot / (context.norm(2, dim=2) * words_emb.norm(2, dim=1)[None]).clamp(min=1e-8)
    return torch.log(torch.exp(cos * gamma2).masked_fill(mask[None], 0.0).sum(2))  # Eq. (10)


def _class_mask(class_ids: torch.Tensor | None, n: int, device: torch.device) -> torch.Tensor | None:
    if class_ids is None:
        return None
    ids = torch.as_tensor(class_ids, device=device)
    same = ids[:, None] == ids[None, :]
    return same & ~torch.eye(n, dtype=torch.bool, device=device)


def _two_way_ce(scores: torch.Tensor, class_ids: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    n = scores.size(0)
    mask = _class_mask(class_ids, n, scores.device)
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    labels = torch.arange(n, device=scores.device)
    return F.cross_entropy(scores, labels), F.cross_entropy(scores.t(), labels)


def words_loss(img_features: torch.Tensor, words_emb: torch.Tensor, cap_lens: torch.Tensor,
               class_ids: torch.Tensor | None = None, gamma1: float = GAMMA1, gamma2: float = GAMMA2,
               gamma3: float = GAMMA3) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """The DAMSM word loss of a batch of matched pairs: (loss0, loss1, attention maps).

    Attention maps are those of each matched pair, (1, cap_len, h, w) each, as the original
    returns them (for drawing).
    """
    scores = word_scores(img_features, words_emb, cap_lens, gamma1, gamma2) * gamma3
    loss0, loss1 = _two_way_ce(scores, class_ids)
    with torch.no_grad():
        mask = _lengths_to_mask(cap_lens.to(words_emb.device), words_emb.size(2))
        _, attn = func_attention(words_emb, img_features, gamma1, mask)
    maps = [attn[i:i + 1, : int(cap_lens[i])] for i in range(attn.size(0))]
    return loss0, loss1, maps


def sent_loss(cnn_code: torch.Tensor, rnn_code: torch.Tensor, class_ids: torch.Tensor | None = None,
              gamma3: float = GAMMA3, eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor]:
    """The DAMSM sentence loss of a batch of matched pairs: (loss0 image->text, loss1 text->image)."""
    scores = sentence_scores(cnn_code, rnn_code, eps) * gamma3
    return _two_way_ce(scores, class_ids)


def image_to_text_with_negatives(scores: torch.Tensor, negatives: torch.Tensor,
                                 class_ids: torch.Tensor | None = None) -> torch.Tensor:
    """The image -> text half of a DAMSM loss (``loss0``) with extra candidate captions: row j
    of ``scores`` (n, n) holds image j's scores against the batch's captions, row j of
    ``negatives`` (n, m) its scores against m more captions that never match it (for example
    its scene's shape twin). Scores already scaled by gamma3."""
    n = scores.size(0)
    mask = _class_mask(class_ids, n, scores.device)
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    return F.cross_entropy(torch.cat([scores, negatives], dim=1), torch.arange(n, device=scores.device))


def losses_with_twins(scores: torch.Tensor, class_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss0, loss1) of a DAMSM loss whose gamma3-scaled ``scores`` (n, 2n) hold each image's
    scores against the batch's n captions, then against their n twins (captions of the same
    scenes with one shape changed): loss0 also ranks each image's caption above its own twin;
    loss1 (text -> image) is the plain one."""
    n = scores.size(0)
    own = torch.arange(n, device=scores.device)
    loss0 = image_to_text_with_negatives(scores[:, :n], scores[own, n + own][:, None], class_ids)
    return loss0, _two_way_ce(scores[:, :n], class_ids)[1]


def sentence_scores(cnn_code: torch.Tensor, rnn_code: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Cosine similarity of every image code with every sentence feature: (n_images, n_captions)."""
    norms = cnn_code.norm(2, dim=1, keepdim=True) * rnn_code.norm(2, dim=1, keepdim=True).t()
    return (cnn_code @ rnn_code.t()) / norms.clamp(min=eps)


def damsm_loss(img_features: torch.Tensor, cnn_code: torch.Tensor, words_emb: torch.Tensor,
               sent_emb: torch.Tensor, cap_lens: torch.Tensor, class_ids: torch.Tensor | None = None,
               gamma1: float = GAMMA1, gamma2: float = GAMMA2, gamma3: float = GAMMA3) -> dict[str, torch.Tensor]:
    """L_DAMSM = L1^w + L2^w + L1^s + L2^s (Eq. 14), with its parts."""
    w0, w1, _ = words_loss(img_features, words_emb, cap_lens, class_ids, gamma1, gamma2, gamma3)
    s0, s1 = sent_loss(cnn_code, sent_emb, class_ids, gamma3)
    return {"w_loss0": w0, "w_loss1": w1, "s_loss0": s0, "s_loss1": s1, "loss": w0 + w1 + s0 + s1}


@torch.no_grad()
def r_precision(image_codes: torch.Tensor, sent_codes: torch.Tensor, *, candidates: int = 100,
                groups: torch.Tensor | None = None, exclude: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> dict[str, float]:
    """R-precision of image i against a pool of its own caption i and ``candidates - 1``
    captions of other items (AttnGAN section 4: 1 true caption among 100), ranked by the
    cosine of the DAMSM global image code and sentence feature.

    With ``groups`` (n,), mismatched captions come only from items of another group (so a
    caption that describes the same scene is never counted as a mismatch); ``exclude`` (n, n),
    True where caption j must not serve as a mismatch for image i, is the general form (e.g.
    captions that are true of image i too). With one relevant
    caption in the pool, R-precision is the fraction of images whose true caption ranks first
    (ties count for it). Returns {"r_precision", "std"} where
    std is the standard deviation of the per-image hits over ten folds, as the paper reports.
    """
    n = image_codes.size(0)
    if sent_codes.size(0) != n:
        raise ValueError("need one caption feature per image")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    allowed = ~torch.eye(n, dtype=torch.bool)
    if groups is not None:
        gid = torch.as_tensor(groups).cpu()
        allowed &= gid[:, None] != gid[None, :]
    if exclude is not None:
        allowed &= ~torch.as_tensor(exclude, dtype=torch.bool).cpu()
    hits = torch.zeros(n)
    for i in range(n):
        pool = allowed[i].nonzero().squeeze(1)
        if len(pool) < candidates - 1:
            raise ValueError(f"item {i} has only {len(pool)} mismatched captions for {candidates - 1} slots")
        wrong = pool[torch.randperm(len(pool), generator=g)[: candidates - 1]]
        idx = torch.cat([torch.tensor([i]), wrong]).to(sent_codes.device)
        scores = sentence_scores(image_codes[i:i + 1], sent_codes[idx])[0]
        hits[i] = float(int((scores > scores[0]).sum()) == 0)  # no candidate beats the truth
    folds = hits[: n - n % 10].view(10, -1).mean(1) if n >= 10 else hits
    return {"r_precision": float(hits.mean()), "std": float(folds.std()) if len(folds) > 1 else 0.0}
