"""The token classifier: the project's fine-tuned MiniLM-L6, int8 ONNX, run with ONNX Runtime and ``tokenizers``.

Loaded once per worker process (:func:`get_model`); one call tags every line of a document in length-sorted
batches. A word's tag is the arg-max on its first sub-token, its confidence that tag's softmax probability; an
entity's confidence is the lowest of its words'. No torch at serving time.

The model sees one line at a time, so on a garbled line it cannot tell a lab report from a prescription ("Seren 2
mee" read as a drug and its strength on a lab page). Once the document's type is known, :meth:`TokenTagger.retag`
decodes every word again with the other type's labels weighted by :data:`FOREIGN_WEIGHT` (a prior: a word takes
such a label only where the model is far surer of it than of anything this type prints) and the probabilities
renormalised, so a word's confidence stays a probability. No second model run: the word's probabilities are kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Encoding, Tokenizer

from services.tagger.bio import decode, trim_separators

MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "tagger"
MAX_TOKENS = 96
BATCH = 4  # lines sorted by sub-token count; make bench: 2.45 ms/line (3.2 at 8 lines sorted by word count)

#: The labels only one document type prints (the corpus: no prescription line carries a lab label, nor a lab report
#: a medication label); patient, prescriber, date and registration labels belong to both.
TYPE_LABELS: dict[str, frozenset[str]] = {
    "prescription": frozenset(
        {"DRUG", "STRENGTH", "FORM", "ROUTE", "DOSE", "FREQUENCY", "DURATION", "QUANTITY", "REFILLS", "INSTRUCTION"}
    ),
    "lab_report": frozenset({"TEST", "VALUE", "UNIT", "REF_RANGE", "FLAG"}),
}
#: The prior weight of another document type's labels once the type is known. Chosen on val (docs/evaluation.md):
#: every weight from 0.1 down to 0 gave the best micro F1 there on OCR of both clean and degraded pages (0.3 as good
#: on degraded pages only); the weakest of them keeps most of the model's own judgement (a prescription line the
#: model is sure is a test, "Vit D3 60000 IU", stays one).
FOREIGN_WEIGHT = 0.1


@dataclass(frozen=True, slots=True)
class TaggedWord:
    text: str
    tag: str
    confidence: float
    #: The model's probability of every tag (``TokenTagger.tags`` order) on the word's first sub-token; None for a
    #: word past the model's window.
    probs: npt.NDArray[np.float32] | None = field(default=None, compare=False, repr=False)


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
        self._priors = {kind: self._prior(kind) for kind in TYPE_LABELS}

    def _prior(self, document_type: str) -> npt.NDArray[np.float32]:
        """Per tag: :data:`FOREIGN_WEIGHT` for the labels only other document types print, else 1."""
        foreign = set().union(*(labels for kind, labels in TYPE_LABELS.items() if kind != document_type))
        return np.array([FOREIGN_WEIGHT if tag[2:] in foreign else 1.0 for tag in self.tags], dtype=np.float32)

    @cached_property
    def version(self) -> str:
        """``minilm-tagger-<first 12 hex of the model file's sha256>-typeprior<FOREIGN_WEIGHT>``: the file and how
        its tags are decoded (provenance)."""
        digest = hashlib.sha256((self.model_dir / "tagger.onnx").read_bytes()).hexdigest()
        return f"minilm-tagger-{digest[:12]}-typeprior{FOREIGN_WEIGHT:g}"

    def tag(self, lines: Sequence[Sequence[str]], *, document_type: str | None = None) -> list[list[TaggedWord]]:
        """Tag every line (a sequence of words); lines are batched by their number of sub-tokens.

        Args:
            lines: The words of each line.
            document_type: ``prescription`` or ``lab_report`` when known (:meth:`retag`); else no prior.

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
        return self.retag(results, document_type) if document_type else results

    def retag(self, lines: Sequence[Sequence[TaggedWord]], document_type: str) -> list[list[TaggedWord]]:
        """The lines decoded again knowing the document's type (module docstring); unchanged for another type.

        Args:
            lines: Tagged lines from :meth:`tag` (their words' probabilities kept).
            document_type: ``prescription``, ``lab_report``, or anything else (``unknown``: no prior).

        Returns:
            The lines with each word's tag and confidence under the type's prior.
        """
        prior = self._priors.get(document_type)
        return [self._decode([w.text for w in line], [w.probs for w in line], prior) for line in lines]

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
            tagged.append(
                self._decode(words, [probs[row, first[k]] if k in first else None for k in range(len(words))])
            )
        return tagged

    def _decode(
        self,
        words: Sequence[str],
        word_probs: Sequence[npt.NDArray[np.float32] | None],
        prior: npt.NDArray[np.float32] | None = None,
    ) -> list[TaggedWord]:
        """Each word's arg-max tag (under ``prior``, renormalised), separators trimmed off entities, with its
        confidence; the word keeps the model's own probabilities, so decoding again never compounds a prior."""
        present = [(k, p) for k, p in enumerate(word_probs) if p is not None]
        chosen: list[npt.NDArray[np.float32] | None] = [None] * len(words)
        if present:
            matrix = np.stack([p for _, p in present])
            if prior is not None:
                matrix = matrix * prior
                matrix /= matrix.sum(axis=1, keepdims=True)
            for (k, _), row in zip(present, matrix, strict=True):
                chosen[k] = row
        tags = [self.tags[int(p.argmax())] if p is not None else "O" for p in chosen]
        out = []
        for text, tag, raw, p, own in zip(words, trim_separators(words, tags), tags, chosen, word_probs, strict=True):
            # A separator trimmed off an entity is O with the model's probability of O; a B- that took over
            # from a trimmed first word keeps the confidence the model had in the word's label.
            confidence = 0.0 if p is None else float(p[self._outside] if tag == "O" != raw else p.max())
            out.append(TaggedWord(text, tag, confidence, own))
        return out


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
