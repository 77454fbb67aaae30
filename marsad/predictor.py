"""``Predictor`` and ``predict``: entities and relations with exact offsets into the caller's
text."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file

from marsad.events import Event, Mention, sentence_events
from marsad.inference import extract
from marsad.model.checkpoint import Loaded, load_checkpoint
from marsad.quantization import ACTIVATION_FILE, quantize_encoder
from marsad.text import clean_text, split_sentences, word_spans

BACKENDS = ("torch", "onnxruntime")
SENTENCES_PER_CHUNK = 512  # bounds memory on huge inputs: windows are built and run chunk by chunk


@dataclass
class Entity:
    label: str
    text: str
    start: int  # character offsets into the input string: input[start:end] == text
    end: int
    score: float
    sentence: int = 0  # index into ``Prediction.sentences``


@dataclass
class Relation:
    head: int  # index into ``entities``
    tail: int
    label: str
    score: float


@dataclass
class Prediction:
    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)  # both ends in one sentence
    # (start, end) character offsets of each sentence the text was split into, in order
    sentences: list[tuple[int, int]] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain JSON types (sentence spans as ``[start, end]`` lists)."""
        out = asdict(self)
        out["sentences"] = [list(span) for span in self.sentences]
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    def events(self, doc_id: str | None = None) -> list[Event]:
        """One event per ATTACKS / CONTROLS / SUPPORTS relation, by the rules of
        :mod:`marsad.events`."""
        by_sentence: dict[int, list[int]] = {}
        for k, e in enumerate(self.entities):
            by_sentence.setdefault(e.sentence, []).append(k)
        links: dict[int, list[Relation]] = {}
        for r in self.relations:
            links.setdefault(self.entities[r.head].sentence, []).append(r)
        events = []
        for s, (start, end) in enumerate(self.sentences):
            ids = by_sentence.get(s, [])
            local = {k: i for i, k in enumerate(ids)}
            mentions = [
                Mention(e.label, e.text, e.start, e.end, e.score)
                for e in (self.entities[k] for k in ids)
            ]
            relations = [(local[r.head], local[r.tail], r.label, r.score) for r in links.get(s, [])]
            events += sentence_events(mentions, relations, s, start, end, doc_id)
        return events

    def to_frame(self, table: str = "mentions", doc_id: str | None = None, text: str | None = None):
        """A pandas DataFrame of the ``mentions``, ``relations`` or ``events`` (columns:
        :data:`marsad.tables.COLUMNS`; ``text``, the input, fills the events' sentence and
        fatalities cells)."""
        from marsad.tables import frame, table_rows

        rows = table_rows(table, self.entities, self.relations, self.events(doc_id), doc_id, text)
        return frame(rows, table)


def _check_text(text: object, position: int | None = None) -> str:
    if not isinstance(text, str):
        where = "" if position is None else f" at position {position}"
        raise TypeError(f"predict expects str or a list of str; got {type(text).__name__}{where}")
    return text


class Predictor:
    """Load a checkpoint once, then extract from any number of texts.

    ``Predictor.from_pretrained(dir, device=None, quantize=False, verify_hashes=True,
    backend="torch")`` (``verify_hashes=False``: file sizes only, see :func:`load_checkpoint`);
    ``device=None`` picks CUDA when present, and the CPU when quantising. ``quantize=True``
    applies dynamic int8 quantisation to the encoder's linear layers, smoothed with the activation
    ranges saved at training time (CPU only), with the kernels of ``int8_engine`` (default:
    torch's; see :mod:`marsad.quantization`).

    ``backend="onnxruntime"`` (the ``onnx`` extra; CPU) runs the encoder and tag head as an ONNX
    graph and the rest in torch (:mod:`marsad.onnx_backend`, docs/onnx.md); there ``quantize``
    is False (fp32), ``"dynamic"`` or ``"static"`` int8 (calibrated on the training sentences of
    ``calibration_data``, default the checkpoint's corpus), or True (the int8 variant chosen on
    dev). A checkpoint with levitated relation markers is refused by that backend.
    """

    def __init__(self, loaded: Loaded, device: torch.device):
        self.loaded = loaded
        self.device = device

    @classmethod
    def from_pretrained(
        cls,
        directory: str | Path,
        device: str | torch.device | None = None,
        quantize: bool | str = False,
        int8_engine: str | None = None,
        verify_hashes: bool = True,
        backend: str = "torch",
        calibration_data: str | Path | None = None,
    ) -> Predictor:
        if backend not in BACKENDS:
            raise ValueError(f"backend={backend!r}: expected one of {', '.join(BACKENDS)}")
        if backend == "onnxruntime":
            return cls._from_onnx(directory, device, quantize, verify_hashes, calibration_data)
        if quantize not in (False, True, "dynamic"):
            raise ValueError(
                f"quantize={quantize!r} with backend='torch': expected False or True (dynamic "
                "int8); static int8 is backend='onnxruntime'"
            )
        quantize = bool(quantize)
        device = torch.device(
            device or ("cuda" if torch.cuda.is_available() and not quantize else "cpu")
        )
        if quantize and device.type != "cpu":
            raise ValueError("quantize=True is dynamic int8 quantisation for CPU; use device='cpu'")
        loaded = load_checkpoint(directory, device, verify_hashes=verify_hashes)
        if quantize:
            stats_path = Path(directory) / ACTIVATION_FILE
            quantize_encoder(
                loaded.model,
                load_file(str(stats_path)) if stats_path.exists() else None,
                engine=int8_engine,
            )
        return cls(loaded, device)

    @classmethod
    def _from_onnx(
        cls,
        directory: str | Path,
        device: str | torch.device | None,
        quantize: bool | str,
        verify_hashes: bool,
        calibration_data: str | Path | None,
    ) -> Predictor:
        """The torch checkpoint (relation head, priors, tokenizer), its tagger swapped for an
        onnxruntime session (:mod:`marsad.onnx_backend`, imported here: onnxruntime is an
        extra)."""
        from marsad.onnx_backend import onnx_model, require_onnxruntime

        require_onnxruntime()  # before the minutes a load and an export take
        if device is not None and torch.device(device).type != "cpu":
            raise ValueError("backend='onnxruntime' runs on the CPU here; use device='cpu'")
        cpu = torch.device("cpu")
        loaded = load_checkpoint(directory, cpu, verify_hashes=verify_hashes)
        loaded = onnx_model(loaded, Path(directory), quantize, verify_hashes, calibration_data)
        return cls(loaded, cpu)

    def __call__(
        self,
        texts: str | list[str],
        batch_size: int = 32,
        progress: bool = False,
    ) -> Prediction | list[Prediction]:
        """One :class:`Prediction` for a string, a list of them for a list of strings."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if isinstance(texts, str):
            return self._run([texts], batch_size, progress)[0]
        if not isinstance(texts, (list, tuple)):
            raise TypeError(f"predict expects str or a list of str; got {type(texts).__name__}")
        return self._run([_check_text(t, i) for i, t in enumerate(texts)], batch_size, progress)

    def _run(self, texts: list[str], batch_size: int, progress: bool) -> list[Prediction]:
        # (text index, sentence start offset, word spans relative to the sentence, words)
        units = []
        results = [Prediction() for _ in texts]
        sentence_of: dict[tuple[int, int], int] = {}  # (text, sentence start) -> its index
        cleaned = [clean_text(_check_text(t), self.loaded.preprocessing) for t in texts]
        for ti, clean in enumerate(cleaned):
            for sent in split_sentences(clean.text, drop_furniture=False):
                spans = word_spans(sent.text)
                sentence_of[(ti, sent.start)] = len(results[ti].sentences)
                results[ti].sentences.append(clean.span(sent.start, sent.start + len(sent.text)))
                units.append((ti, sent.start, spans, [sent.text[a:b] for a, b in spans]))
        for c in range(0, len(units), SENTENCES_PER_CHUNK):
            chunk = units[c : c + SENTENCES_PER_CHUNK]
            outputs = extract(
                self.loaded.model,
                self.loaded.tokenizer,
                [u[3] for u in chunk],
                self.loaded.preprocessing,
                self.loaded.max_length,
                batch_size,
                progress=progress and len(units) > batch_size,
                decoding=self.loaded.decoding,
            )
            for (ti, base, spans, _), out in zip(chunk, outputs):
                result, text = results[ti], texts[ti]
                first = len(result.entities)
                sentence = sentence_of[(ti, base)]
                for e in out.entities:
                    start, end = cleaned[ti].span(
                        base + spans[e.start][0], base + spans[e.end - 1][1]
                    )
                    result.entities.append(
                        Entity(e.label, text[start:end], start, end, round(e.score, 4), sentence)
                    )
                result.relations.extend(
                    Relation(first + r.head, first + r.tail, r.label, round(r.score, 4))
                    for r in out.relations
                )
        return results


def predict(
    text_or_texts: str | list[str],
    model: str | Path,
    device: str | None = None,
    batch_size: int = 32,
) -> Prediction | list[Prediction]:
    """Convenience wrapper: load ``model`` and run it once (use :class:`Predictor` for repeated
    calls)."""
    if not isinstance(text_or_texts, (str, list, tuple)):
        raise TypeError(f"predict expects str or a list of str; got {type(text_or_texts).__name__}")
    return Predictor.from_pretrained(model, device=device)(text_or_texts, batch_size=batch_size)
