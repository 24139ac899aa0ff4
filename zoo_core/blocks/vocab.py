"""Tokenizer and vocabulary of the text-to-image families.

Layout as in AttnGAN (``datasets.TextDataset.build_dictionary``): index 0 is ``<end>`` and
doubles as padding, words follow from index 1, and a caption is the list of its word indices
(no end token appended). The tokenizer is AttnGAN's: lower case, runs of word characters
(NLTK ``RegexpTokenizer(r'\\w+')``), non-ASCII characters dropped.

Unlike the original, which silently drops words it does not know, ``encode`` raises a
``BadInputError`` naming every out-of-vocabulary word. The vocabulary travels in a model's
config.json as its word list (``to_list`` / ``Vocabulary(words)``).

``load_captions_pickle`` reads an original ``captions.pickle`` (a Python 2 pickle of
``[train_captions, test_captions, ixtoword, wordtoix]``) with an unpickler that refuses every
class, so only lists, dicts, strings and numbers can come out of it.
"""
from __future__ import annotations

import io
import pickle
import re
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..errors import BadInputError, ZooError

PAD = "<end>"
PAD_INDEX = 0


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens, as AttnGAN's RegexpTokenizer(r'\\w+') with ASCII folding."""
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    return re.findall(r"\w+", text)


class Vocabulary:
    """Words <-> indices; index 0 is ``<end>`` (padding)."""

    def __init__(self, words: Sequence[str]) -> None:
        words = list(words)
        if not words or words[0] != PAD:
            words = [PAD] + [w for w in words if w != PAD]
        if len(set(words)) != len(words):
            raise ValueError("a vocabulary lists each word once")
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}

    @classmethod
    def from_index_to_word(cls, ixtoword: dict[int, str]) -> "Vocabulary":
        """From an original ``ixtoword`` dict (keys 0..n-1, 0 being ``<end>``)."""
        if sorted(ixtoword) != list(range(len(ixtoword))) or ixtoword.get(0) != PAD:
            raise ZooError("ixtoword must map 0..n-1 to words with 0 -> '<end>'")
        return cls([ixtoword[i] for i in range(len(ixtoword))])

    @classmethod
    def for_shapes(cls) -> "Vocabulary":
        """Every word of the shapes caption grammar (zoo_core.data.shapes), sorted."""
        from ..data.shapes import caption_words

        return cls([PAD, *caption_words()])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and other.words == self.words

    def to_list(self) -> list[str]:
        """The word list (JSON-serialisable; what a config stores)."""
        return list(self.words)

    def unknown_words(self, text: str) -> list[str]:
        """Tokens of `text` not in the vocabulary, in order of first appearance."""
        seen: list[str] = []
        for t in tokenize(text):
            if t not in self.index and t not in seen:
                seen.append(t)
        return seen

    def encode(self, text: str, max_words: int | None = None) -> list[int]:
        """Word indices of `text`; a clear error for an empty text, unknown words or too many."""
        if not isinstance(text, str):
            raise BadInputError(f"a prompt must be text, got {type(text).__name__}")
        tokens = tokenize(text)
        if not tokens:
            raise BadInputError(f"the prompt {text!r} has no words")
        unknown = self.unknown_words(text)
        if unknown:
            shown = ", ".join(repr(w) for w in unknown)
            raise BadInputError(f"word{'s' if len(unknown) > 1 else ''} not in the model's vocabulary "
                                f"({len(self)} words): {shown}")
        if max_words is not None and len(tokens) > max_words:
            raise BadInputError(f"the prompt has {len(tokens)} words; this model reads at most {max_words}")
        return [self.index[t] for t in tokens]

    def encode_batch(self, texts: Iterable[str], max_words: int | None = None,
                     pad_to: int | None = None) -> tuple[Any, Any]:
        """(ids (n, T) LongTensor padded with 0, lengths (n,) LongTensor); T = pad_to or the longest."""
        import torch

        seqs = [self.encode(t, max_words) for t in texts]
        if not seqs:
            raise BadInputError("no prompts given")
        width = max(len(s) for s in seqs) if pad_to is None else pad_to
        if width < max(len(s) for s in seqs):
            raise ValueError(f"pad_to={pad_to} is shorter than a caption")
        ids = torch.zeros(len(seqs), width, dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, :len(s)] = torch.tensor(s, dtype=torch.long)
        return ids, torch.tensor([len(s) for s in seqs], dtype=torch.long)

    def decode(self, ids: Iterable[int]) -> str:
        """Words of indices up to the first padding index."""
        words = []
        for i in ids:
            i = int(i)
            if i == PAD_INDEX:
                break
            words.append(self.words[i])
        return " ".join(words)


def padding_mask(ids: Any) -> Any:
    """True where `ids` is padding (AttnGAN's ``mask = (captions == 0)``)."""
    return ids == PAD_INDEX


class _NoClasses(pickle.Unpickler):
    """An unpickler that builds plain containers and scalars only: every class is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: captions.pickle holds only "
                                     f"lists, dicts and strings")


def safe_unpickle(data: bytes) -> Any:
    """Unpickle (Python 2 or 3 protocols) without ever importing or calling a class."""
    return _NoClasses(io.BytesIO(data), encoding="latin1").load()


def load_captions_pickle(path: str | Path) -> dict[str, Any]:
    """An original ``captions.pickle``: {"train", "test" (lists of index lists), "vocabulary"}."""
    try:
        obj = safe_unpickle(Path(path).read_bytes())
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise ZooError(f"{path} is not a plain captions pickle: {exc}") from None
    if not (isinstance(obj, (list, tuple)) and len(obj) == 4 and isinstance(obj[2], dict)):
        raise ZooError(f"{path} does not hold [train_captions, test_captions, ixtoword, wordtoix]")
    ixtoword = {int(k): (v.decode("latin1") if isinstance(v, bytes) else str(v)) for k, v in obj[2].items()}
    return {"train": obj[0], "test": obj[1], "vocabulary": Vocabulary.from_index_to_word(ixtoword)}
