"""The text corpus and the character tokenizer of the GRU language model.

Corpus: the source files of a fixed list of pure-Python modules of the standard library of the
running interpreter (they ship with every CPython; Python Software Foundation License). The train
and test splits are disjoint lists of modules; files are joined in list order, each preceded by
the end-of-text token, with characters outside printable ASCII dropped. The sha256 of the exact
text is recorded in the training report (and so in the model card), with the Python version,
because the standard library's source changes between Python releases.

Tokenizer: id 0 = end of text (EOT), which also pads finished samples; then every character of
the corpus and, for a token-level model, its most frequent words, numbers and runs of spaces
(other words are spelled from the longest entries that match). The vocabulary is saved in
config.json (a string for a character-level model, a list of strings otherwise), so a published
model needs nothing else to encode prompts and decode samples.
"""
from __future__ import annotations

import collections
import hashlib
import importlib.util
import platform
import re
import string
from typing import Sequence

import torch

from zoo_core.errors import BadInputError

EOT = 0  # token id of end-of-text; character ids start at 1
TRAIN_MODULES: tuple[str, ...] = (
    "textwrap", "string", "shlex", "fnmatch", "glob", "bisect", "heapq", "colorsys", "base64",
    "calendar", "csv", "difflib", "fractions", "functools", "getopt", "gettext", "graphlib",
    "keyword", "linecache", "numbers", "operator", "pprint", "queue", "quopri", "random",
    "reprlib", "sched", "secrets", "statistics", "contextlib", "copy", "dataclasses", "enum",
    "ast", "argparse", "ipaddress", "json.decoder", "json.encoder", "optparse", "pathlib",
    "shutil", "tempfile", "threading", "tokenize", "traceback", "weakref", "zipapp",
)
TEST_MODULES: tuple[str, ...] = ("cmd", "codeop", "dis", "filecmp", "hmac", "imghdr", "mailcap",
                                 "netrc", "nturl2path", "opcode", "plistlib", "selectors")
ALLOWED = set(string.printable) - set("\t\r\x0b\x0c") | {"\n"}


def module_source(name: str) -> str:
    """The source text of a standard-library module, as shipped with this interpreter."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise FileNotFoundError(f"standard-library module {name!r} has no Python source here")
    with open(spec.origin, encoding="utf-8") as fh:
        return fh.read()


def clean(text: str) -> str:
    """Tabs become four spaces; anything outside printable ASCII and newline is dropped."""
    return "".join(c for c in text.replace("\t", "    ") if c in ALLOWED)


def load_corpus(split: str = "train") -> list[str]:
    """The cleaned source files of a split, in the fixed module order (missing ones skipped)."""
    names = {"train": TRAIN_MODULES, "test": TEST_MODULES}.get(split)
    if names is None:
        raise ValueError(f"unknown split {split!r}; choose train or test")
    files = []
    for name in names:
        try:
            files.append(clean(module_source(name)))
        except FileNotFoundError:
            continue
    return files


def corpus_info(files: Sequence[str], split: str) -> dict[str, object]:
    """What the model card records about a split: modules, characters, sha256, Python version."""
    joined = "\x00".join(files)
    return {"split": split, "modules": list(TRAIN_MODULES if split == "train" else TEST_MODULES),
            "files": len(files), "characters": sum(len(f) for f in files),
            "sha256": hashlib.sha256(joined.encode("utf-8")).hexdigest(),
            "python": platform.python_version(), "license": "Python Software Foundation License"}


PIECE = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|[0-9]+| +|\n|.", re.S)  # words, numbers, space runs, the rest


class Tokenizer:
    """Text <-> ids over a vocabulary of strings: id 0 is end-of-text, ``vocab[k]`` is id k + 1.

    Text is cut into pieces (identifiers, numbers, runs of spaces, single characters); a piece
    in the vocabulary is one token, any other is spelled with the longest vocabulary entries
    that match from its left (down to single characters, which are all in the vocabulary). A
    vocabulary given as one string is one token per character: a character-level model.
    """

    def __init__(self, vocab: str | Sequence[str]) -> None:
        tokens = list(vocab)
        if len(set(tokens)) != len(tokens) or "" in tokens:
            raise ValueError("the vocabulary has repeated or empty entries")
        self.vocab = vocab if isinstance(vocab, str) else tokens
        self.tokens = tokens
        self.index = {t: i + 1 for i, t in enumerate(tokens)}
        self.longest = max((len(t) for t in tokens), default=1)

    @classmethod
    def from_corpus(cls, files: Sequence[str], words: int = 0) -> "Tokenizer":
        """Every character of the corpus, plus its `words` most frequent multi-character pieces
        (ties broken alphabetically); words = 0 gives a character vocabulary (a string)."""
        chars = "".join(sorted(set("".join(files))))
        if not words:
            return cls(chars)
        counts = collections.Counter(p for f in files for p in PIECE.findall(f) if len(p) > 1)
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:words]
        return cls(list(chars) + [p for p, _ in top])

    def __len__(self) -> int:
        return len(self.tokens) + 1

    def unknown(self, text: str) -> list[str]:
        """Characters of `text` outside the vocabulary, in order of first appearance."""
        return list(dict.fromkeys(c for c in text if c not in self.index))

    def _spell(self, piece: str, out: list[int]) -> None:
        i = 0
        while i < len(piece):
            for j in range(min(len(piece), i + self.longest), i, -1):
                if piece[i:j] in self.index:
                    out.append(self.index[piece[i:j]])
                    i = j
                    break
            else:
                i += 1  # a character outside the vocabulary: dropped (encode checks first)

    def encode(self, text: str, *, strict: bool = True) -> list[int]:
        missing = self.unknown(text) if strict else []
        if missing:
            raise BadInputError("characters not in the model's vocabulary: "
                                + ", ".join(repr(c) for c in missing))
        out: list[int] = []
        for piece in PIECE.findall(text):
            token = self.index.get(piece)
            if token is not None:
                out.append(token)
            else:
                self._spell(piece, out)
        return out

    def decode(self, ids: Sequence[int]) -> str:
        """The text up to the first end-of-text."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOT:
                break
            out.append(self.tokens[i - 1])
        return "".join(out)

    def encode_corpus(self, files: Sequence[str]) -> torch.Tensor:
        """One long id stream: EOT, file 1, EOT, file 2, ... (characters outside the
        vocabulary are dropped, so a test split can be encoded with the train vocabulary)."""
        ids: list[int] = []
        for f in files:
            ids.append(EOT)
            ids.extend(self.encode(f, strict=False))
        return torch.tensor(ids, dtype=torch.long)


