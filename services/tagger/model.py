"""The token classifier: the project's fine-tuned MiniLM-L6, int8 ONNX, run with ONNX Runtime and ``tokenizers``.

Loaded once per worker process (:func:`get_model`); one call tags every line of a document in length-sorted
batches. A word's tag is the arg-max on its first sub-token, its confidence that tag's softmax probability; an
entity's confidence is the lowest of its words'. No torch at serving time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Encoding, Tokenizer

from services.tagger.bio import decode, trim_separators

MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "tagger"
MAX_TOKENS = 96
BATCH = 4  # lines sorted by sub-token count; make bench: 2.45 ms/line (3.2 at 8 lines sorted by word count)


@dataclass(frozen=True, slots=True)
class TaggedWord:
    text: str
    tag: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Span:
    """An entity: its label, the indexes of its first and past-last words, its text and confidence."""

    label: str
    start: int
    end: int
    text: str
    confidence: float


class TokenTagger:
    """BIO tags for whitespace words of text lines."""

    def __init__(self, model_dir: Path = MODEL_DIR) -> None:
        self.model_dir = model_dir
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one worker process per core; threads would oversubscribe
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(model_dir / "tagger.onnx"), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.tags: list[str] = json.loads((model_dir / "labels.json").read_text())
        self._outside = self.tags.index("O")

    @cached_property
    def version(self) -> str:
        """``minilm-tagger-<first 12 hex of the model file's sha256>``."""
        digest = hashlib.sha256((self.model_dir / "tagger.onnx").read_bytes()).hexdigest()
        return f"minilm-tagger-{digest[:12]}"

    def tag(self, lines: Sequence[Sequence[str]]) -> list[list[TaggedWord]]:
        """Tag every line (a sequence of words); lines are batched by their number of sub-tokens.

        Args:
            lines: The words of each line.

        Returns:
            One list of tagged words per line, in the input order (words past the model's window are ``O``, 0.0).
        """
        results: list[list[TaggedWord]] = [[] for _ in lines]
        todo = [i for i in range(len(lines)) if lines[i]]
        if not todo:
            return results
        encodings = dict(
            zip(todo, self.tokenizer.encode_batch([list(lines[i]) for i in todo], is_pretokenized=True), strict=True)
        )
        # Sorted by sub-token count (what a batch is padded to), so a batch's lines are of about one length.
        order = sorted(todo, key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), BATCH):
            group = order[start : start + BATCH]
            tagged = self._tag_batch([list(lines[i]) for i in group], [encodings[i] for i in group])
            for i, words in zip(group, tagged, strict=True):
                results[i] = words
        return results

    def _tag_batch(self, lines: list[list[str]], encodings: list[Encoding]) -> list[list[TaggedWord]]:
        width = min(MAX_TOKENS, max(len(e.ids) for e in encodings))
        ids = np.zeros((len(lines), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            kept = [*enc.ids[: width - 1], enc.ids[-1]] if len(enc.ids) > width else enc.ids
            ids[row, : len(kept)] = kept
            mask[row, : len(kept)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        logits = self.session.run(["logits"], feeds)[0]
        shifted = np.exp(logits - logits.max(-1, keepdims=True))
        probs = shifted / shifted.sum(-1, keepdims=True)
        tagged = []
        for row, (enc, words) in enumerate(zip(encodings, lines, strict=True)):
            first: dict[int, int] = {}
            for position, word in enumerate(enc.word_ids[: width - 1]):
                if word is not None and word not in first:
                    first[word] = position
            word_probs = [probs[row, first[k]] if k in first else None for k in range(len(words))]
            tags = [self.tags[int(p.argmax())] if p is not None else "O" for p in word_probs]
            out = []
            for text, tag, raw, p in zip(words, trim_separators(words, tags), tags, word_probs, strict=True):
                # A separator trimmed off an entity is O with the model's probability of O; a B- that took over
                # from a trimmed first word keeps the confidence the model had in the word's label.
                confidence = 0.0 if p is None else float(p[self._outside] if tag == "O" != raw else p.max())
                out.append(TaggedWord(text, tag, confidence))
            tagged.append(out)
        return tagged


def entity_spans(words: Sequence[TaggedWord]) -> list[Span]:
    """Entities of one tagged line (:func:`services.tagger.bio.decode`) with their text and weakest confidence."""
    return [
        Span(
            label,
            start,
            end,
            " ".join(w.text for w in words[start:end]),
            round(min(w.confidence for w in words[start:end]), 4),
        )
        for label, start, end in decode([w.tag for w in words])
    ]


_loaded: dict[Path, TokenTagger] = {}


def get_model(model_dir: Path = MODEL_DIR) -> TokenTagger:
    """The tagger of ``model_dir``, loaded once per process."""
    if model_dir not in _loaded:
        _loaded[model_dir] = TokenTagger(model_dir)
    return _loaded[model_dir]
