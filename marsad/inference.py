"""Batched extraction over word-segmented sentences, shared by dev evaluation, eval scripts and
``predict``.

Sentences are cut into encoder windows (:mod:`marsad.encoding`), windows are sorted by length and
batched. Each word takes its tag log-probabilities from the window where it sits most centrally,
and constrained Viterbi runs over the whole sentence, so an entity can never be cut at a window
edge. A sentence that fits one window (the usual case) gets its relations from the same forward
pass; a longer one's entity pairs are each scored in the window that best holds the pair, from
that window's hidden states of the tagging pass (pairs no window holds are never built). Each
output keeps the relation scores of all its candidate pairs, so relations can be re-decoded at
another NONE threshold without running the encoder again (dev tuning, see
:mod:`marsad.relation_decoding`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from marsad.data.examples import WordEntity, WordRelation
from marsad.data.mentions import MentionIndex
from marsad.model.decoding import decode_relations, viterbi_decode
from marsad.model.joint import JointModel, PairBatch, distance_bucket
from marsad.model.lexical_prior import LexicalPrior
from marsad.model.relation_prior import mix as mix_relation_prior
from marsad.model.settings import DecodingSettings
from marsad.model.windows import Window, make_windows
from marsad.schema import BIO_TAGS, ENTITY_TYPES, pair_can_relate
from marsad.schema import candidate_pairs as schema_candidate_pairs

TYPE_INDEX = {t: i for i, t in enumerate(ENTITY_TYPES)}


@dataclass
class SentenceOutput:
    entities: list[WordEntity] = field(default_factory=list)
    relations: list[WordRelation] = field(default_factory=list)
    # every scored candidate pair and its relation logits [len(candidates), n_labels]; outputs
    # compare by their entities and relations only
    candidates: list[tuple[int, int]] = field(default_factory=list, compare=False)
    candidate_logits: np.ndarray | None = field(default=None, compare=False)
    # the encoder's own per-word tag log-probabilities [words, tags] (predicted entities only), so
    # entities can be re-decoded with another lexical-prior weight (dev tuning)
    word_log_probs: np.ndarray | None = field(default=None, compare=False)
    # the relation prior's log-probabilities for the candidates and the weight they are mixed in
    # with (:mod:`marsad.relation_prior`), kept apart so dev tuning can re-mix at another weight
    candidate_prior: np.ndarray | None = field(default=None, compare=False)
    prior_weight: float = field(default=0.0, compare=False)

    def decode_relations(self, none_bias: float) -> None:
        """(Re)derive ``relations`` from the stored candidate scores at a given NONE bias."""
        if self.candidate_logits is None:
            self.relations = []
            return
        logits = self.candidate_logits
        if self.prior_weight:
            logits = mix_relation_prior(logits, self.candidate_prior, self.prior_weight)
        self.relations = [
            WordRelation(h, t, label, score)
            for h, t, label, score in decode_relations(self.candidates, logits, none_bias)
        ]

    def add_candidates(self, pairs: list[tuple[int, int]], logits: torch.Tensor) -> None:
        new = logits.float().cpu().numpy()
        self.candidates.extend(pairs)
        self.candidate_logits = (
            new if self.candidate_logits is None else np.concatenate([self.candidate_logits, new])
        )


def tags_to_entities(
    tag_ids: list[int], word_log_probs: np.ndarray | None = None
) -> list[WordEntity]:
    """Word spans of a valid IOB2 id sequence, scored by the mean probability of their tags."""
    out: list[WordEntity] = []
    for i, tid in enumerate(tag_ids):
        tag = BIO_TAGS[tid]
        if tag.startswith("B-"):
            out.append(WordEntity(i, i + 1, tag[2:]))
        elif tag.startswith("I-") and out and out[-1].end == i and out[-1].label == tag[2:]:
            out[-1].end = i + 1
    if word_log_probs is not None:
        for e in out:
            e.score = float(
                np.exp(word_log_probs[np.arange(e.start, e.end), tag_ids[e.start : e.end]]).mean()
            )
    return out


def decode_entities(
    word_log_probs: np.ndarray,
    prior: LexicalPrior | None = None,
    prior_log_probs: np.ndarray | None = None,
    weight: float = 0.0,
) -> list[WordEntity]:
    """Constrained Viterbi over the encoder's tag scores, mixed with the lexical prior's at
    ``weight``."""
    scores = (
        word_log_probs
        if prior is None or prior_log_probs is None
        else prior.mix(word_log_probs, prior_log_probs, weight)
    )
    return tags_to_entities(viterbi_decode(scores), scores)


def _check_priors(model: JointModel, decoding: DecodingSettings) -> None:
    unmet = decoding.unmet_priors(model.lexical_prior is not None, model.relation_prior is not None)
    if unmet:
        raise ValueError(f"{unmet}, but the model has none")


def candidate_pairs(entities: list[WordEntity]) -> list[tuple[int, int]]:
    """Ordered pairs of distinct entities whose types some relation accepts (see
    :mod:`marsad.schema`)."""
    return schema_candidate_pairs([e.label for e in entities])


def build_pair_batch(
    rows: list[tuple[int, Window, list[WordEntity], list[tuple[int, int]]]],
    labels: list[list[int]] | None = None,
) -> PairBatch:
    """Pairs of several batch rows -> tensors; entity word indices are sentence-level."""
    cols: dict[str, list[int]] = {
        k: []
        for k in (
            "example",
            "head_first",
            "head_last",
            "tail_first",
            "tail_last",
            "head_type",
            "tail_type",
            "head_width",
            "tail_width",
            "distance",
            "between",
            "row_tokens",
        )
    }
    indexes: dict[int, MentionIndex] = {}  # a long sentence's windows share one entity list
    for row, window, ents, pairs in rows:
        if len(pairs) > 1 and id(ents) not in indexes:
            indexes[id(ents)] = MentionIndex(ents)
        index = indexes.get(id(ents))
        for h, t in pairs:
            he, te = ents[h], ents[t]
            cols["example"].append(row)
            cols["row_tokens"].append(len(window.input_ids))
            cols["head_first"].append(window.first_token[he.start - window.word_start])
            cols["head_last"].append(window.last_token[he.end - 1 - window.word_start])
            cols["tail_first"].append(window.first_token[te.start - window.word_start])
            cols["tail_last"].append(window.last_token[te.end - 1 - window.word_start])
            cols["head_type"].append(TYPE_INDEX[he.label])
            cols["tail_type"].append(TYPE_INDEX[te.label])
            cols["head_width"].append(he.end - he.start)
            cols["tail_width"].append(te.end - te.start)
            gap = te.start - he.end if te.start >= he.end else -(he.start - te.end)
            cols["distance"].append(distance_bucket(gap))
            left_end, right_start = min(he.end, te.end), max(he.start, te.start)
            cols["between"].append(
                len(index.inside(left_end, right_start))
                if index is not None and index.usable
                else sum(1 for e in ents if left_end <= e.start and e.end <= right_start)
            )
    tensors = {k: torch.tensor(v, dtype=torch.long) for k, v in cols.items()}
    flat_labels = (
        None if labels is None else torch.tensor([x for ls in labels for x in ls], dtype=torch.long)
    )
    return PairBatch(**tensors, labels=flat_labels)


def pad_batch(
    windows: list[Window], pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(w.input_ids) for w in windows)
    ids = torch.full((len(windows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(windows), width), dtype=torch.long)
    for i, w in enumerate(windows):
        ids[i, : len(w.input_ids)] = torch.tensor(w.input_ids)
        mask[i, : len(w.input_ids)] = 1
    return ids.to(device), mask.to(device)


def _centrality(window: Window, word: int) -> int:
    return min(word - window.word_start, window.word_end - 1 - word)


_CAN_RELATE = np.array([[pair_can_relate(h, t) for t in ENTITY_TYPES] for h in ENTITY_TYPES])


def window_pair_arrays(
    windows: list[Window], entities: list[WordEntity]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(heads, tails, window)``: the candidate pairs of a long sentence that some window holds
    whole, sorted by (head, tail), each with the window holding it most centrally (ties: the later
    window); pairs farther apart than one window are never built, as no window could score them.
    Pairs are enumerated window by window as arrays, so the cost grows with the text's length
    times the square of the mentions per window, not with the square of all its mentions, and
    with no Python work per pair (run-on text makes hundreds of thousands)."""
    starts = np.array([e.start for e in entities], dtype=np.int64)
    ends = np.array([e.end for e in entities], dtype=np.int64)
    types = np.array([TYPE_INDEX[e.label] for e in entities], dtype=np.int64)
    order = np.argsort(starts, kind="stable")
    sorted_starts = starts[order]
    codes, keys, window_of = [], [], []
    for k, w in enumerate(windows):
        span = order[
            np.searchsorted(sorted_starts, w.word_start) : np.searchsorted(
                sorted_starts, w.word_end
            )
        ]
        inside = np.sort(span[ends[span] <= w.word_end])
        heads, tails = np.repeat(inside, len(inside)), np.tile(inside, len(inside))
        keep = (heads != tails) & _CAN_RELATE[types[heads], types[tails]]
        heads, tails = heads[keep], tails[keep]
        lo = np.minimum(starts[heads], starts[tails])
        last = np.maximum(ends[heads], ends[tails]) - 1
        centrality = np.minimum.reduce(
            [lo - w.word_start, w.word_end - 1 - lo, last - w.word_start, w.word_end - 1 - last]
        )
        codes.append(heads * len(entities) + tails)
        keys.append(centrality)
        window_of.append(np.full(len(heads), k, dtype=np.int64))
    code = np.concatenate(codes) if codes else np.empty(0, dtype=np.int64)
    if not len(code):
        return code, code, code
    key, window = np.concatenate(keys), np.concatenate(window_of)
    by = np.lexsort((window, key, code))  # per pair, its best (centrality, window) comes last
    code, window = code[by], window[by]
    best = np.flatnonzero(np.append(code[1:] != code[:-1], True))
    return code[best] // max(len(entities), 1), code[best] % max(len(entities), 1), window[best]


def window_pairs(windows: list[Window], entities: list[WordEntity]) -> dict[tuple[int, int], int]:
    """:func:`window_pair_arrays` as ``{(head, tail): window}``."""
    heads, tails, window = window_pair_arrays(windows, entities)
    return {(int(h), int(t)): int(k) for h, t, k in zip(heads, tails, window)}


def _window_pair_batch(
    windows: list[Window],
    chunk: list[int],
    entities: list[WordEntity],
    heads: np.ndarray,
    tails: np.ndarray,
    rows: np.ndarray,
) -> PairBatch:
    """:func:`build_pair_batch` for the pairs of one long sentence (mentions in word order, not
    overlapping), computed as arrays: row ``rows[i]`` of the batch is window ``chunk[rows[i]]``."""
    starts = np.array([e.start for e in entities], dtype=np.int64)
    ends = np.array([e.end for e in entities], dtype=np.int64)
    types = np.array([TYPE_INDEX[e.label] for e in entities], dtype=np.int64)
    chosen = [windows[k] for k in chunk]
    offsets = np.cumsum([0] + [len(w.first_token) for w in chosen])[:-1]
    first_token = np.concatenate([np.asarray(w.first_token, dtype=np.int64) for w in chosen])
    last_token = np.concatenate([np.asarray(w.last_token, dtype=np.int64) for w in chosen])
    base = offsets[rows] - np.array([w.word_start for w in chosen], dtype=np.int64)[rows]
    hs, he, ts, te = starts[heads], ends[heads], starts[tails], ends[tails]
    gap = np.where(ts >= he, ts - he, -(hs - te))
    unique_gaps, gap_at = np.unique(gap, return_inverse=True)
    buckets = np.array([distance_bucket(int(g)) for g in unique_gaps], dtype=np.int64)
    left_end, right_start = np.minimum(he, te), np.maximum(hs, ts)
    between = np.searchsorted(ends, right_start, side="right") - np.searchsorted(
        starts, left_end, side="left"
    )
    cols = {
        "example": rows,
        "head_first": first_token[base + hs],
        "head_last": last_token[base + he - 1],
        "tail_first": first_token[base + ts],
        "tail_last": last_token[base + te - 1],
        "head_type": types[heads],
        "tail_type": types[tails],
        "head_width": he - hs,
        "tail_width": te - ts,
        "distance": buckets[gap_at.reshape(-1)],
        "between": np.maximum(between, 0),
        "row_tokens": np.array([len(w.input_ids) for w in chosen], dtype=np.int64)[rows],
    }
    return PairBatch(**{k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in cols.items()})


@torch.inference_mode()
def extract(
    model: JointModel,
    tokenizer,
    sentences: list[list[str]],
    preprocessing: list[str],
    max_length: int,
    batch_size: int = 32,
    gold_entities: list[list[WordEntity]] | None = None,
    progress: bool = False,
    *,
    decoding: DecodingSettings,
) -> list[SentenceOutput]:
    """Entities and relations for each word-segmented sentence, decoded with ``decoding`` (a loaded
    checkpoint's: ``Loaded.decoding``).

    With ``gold_entities`` the tagger output is ignored and relations are classified over the
    given entities (the "gold entities" evaluation setting).
    """
    predicted = gold_entities is None
    both = extract_both(
        model,
        tokenizer,
        sentences,
        preprocessing,
        max_length,
        batch_size,
        gold_entities,
        progress,
        predicted=predicted,
        decoding=decoding,
    )
    return both[0] if predicted else both[1]


@torch.inference_mode()
def extract_both(
    model: JointModel,
    tokenizer,
    sentences: list[list[str]],
    preprocessing: list[str],
    max_length: int,
    batch_size: int = 32,
    gold_entities: list[list[WordEntity]] | None = None,
    progress: bool = False,
    predicted: bool = True,
    *,
    decoding: DecodingSettings,
) -> tuple[list[SentenceOutput] | None, list[SentenceOutput] | None]:
    """End-to-end outputs and, when ``gold_entities`` is given, relations over the gold entities,
    from one encoder pass per window (evaluation needs both settings)."""
    model.eval()
    device = next(model.parameters()).device
    _check_priors(model, decoding)
    prior = model.lexical_prior if decoding.lexical_weight else None
    windows = [make_windows(tokenizer, words, preprocessing, max_length) for words in sentences]
    prior_lp = [
        prior.log_marginals(words) if prior is not None and predicted else None
        for words in sentences
    ]
    word_lp: list[np.ndarray] = [
        np.zeros((len(w), len(BIO_TAGS)), dtype=np.float32) for w in sentences
    ]
    best_centrality = [np.full(len(w), -1) for w in sentences]
    # setting name -> (outputs, entity source: None = decode the tagger)
    settings: dict[str, tuple[list[SentenceOutput], list[list[WordEntity]] | None]] = {}
    if predicted:
        settings["predicted"] = ([SentenceOutput() for _ in sentences], None)
    if gold_entities is not None:
        settings["gold"] = ([SentenceOutput() for _ in sentences], gold_entities)
    jobs = sorted(
        ((s, k) for s, ws in enumerate(windows) for k in range(len(ws)) if sentences[s]),
        key=lambda sk: len(windows[sk[0]][sk[1]].input_ids),
    )
    # a long sentence's windows keep their last hidden states until its entities are decoded over
    # all its words: its pairs are then scored without encoding any window a second time
    window_hidden: dict[tuple[int, int], torch.Tensor] = {}
    bar = tqdm(total=len(jobs), desc="extracting", unit="window", disable=not progress)
    for b in range(0, len(jobs), batch_size):
        batch = jobs[b : b + batch_size]
        ids, mask = pad_batch([windows[s][k] for s, k in batch], tokenizer.pad_token_id, device)
        out = model.tagger(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        log_probs = out.logits.float().log_softmax(dim=-1).cpu().numpy()
        rel_rows = []
        for row, (s, k) in enumerate(batch):
            win = windows[s][k]
            for j, tok in enumerate(win.first_token):
                word = win.word_start + j
                c = _centrality(win, word)
                if c > best_centrality[s][word]:
                    best_centrality[s][word] = c
                    word_lp[s][word] = log_probs[row, tok]
            if len(windows[s]) > 1:
                window_hidden[(s, k)] = out.hidden_states[-1][row, : len(win.input_ids)].clone()
                continue
            for outputs, source in settings.values():
                outputs[s].entities = (
                    decode_entities(word_lp[s], prior, prior_lp[s], decoding.lexical_weight)
                    if source is None
                    else list(source[s])
                )
                pairs = candidate_pairs(outputs[s].entities)
                if pairs:
                    rel_rows.append((row, win, outputs[s].entities, pairs, outputs[s]))
        if rel_rows:
            pb = build_pair_batch([r[:4] for r in rel_rows]).to(device)
            logits = model.relation_logits(out.hidden_states[-1], pb, ids, mask)
            start = 0
            for _, _, _, pairs, target in rel_rows:
                target.add_candidates(pairs, logits[start : start + len(pairs)])
                start += len(pairs)
        bar.update(len(batch))
    bar.close()
    for s in sorted({s for s, _ in window_hidden}):
        hidden = [window_hidden.pop((s, k)) for k in range(len(windows[s]))]
        for outputs, source in settings.values():
            if source is None:
                outputs[s].entities = decode_entities(
                    word_lp[s], prior, prior_lp[s], decoding.lexical_weight
                )
            else:
                outputs[s].entities = list(source[s])
            _finish_multi_window(model, windows[s], hidden, outputs[s])
    relation_prior = model.relation_prior if decoding.relation_weight else None
    for outputs, _ in settings.values():
        for words, out in zip(sentences, outputs):
            if relation_prior is not None and out.candidates:
                out.candidate_prior = relation_prior.log_probs(words, out.entities, out.candidates)
                out.prior_weight = decoding.relation_weight
            out.decode_relations(decoding.none_bias)
    if predicted:
        for out, lp in zip(settings["predicted"][0], word_lp):
            out.word_log_probs = lp
    return (
        settings["predicted"][0] if predicted else None,
        settings["gold"][0] if gold_entities is not None else None,
    )


def _finish_multi_window(
    model: JointModel,
    windows: list[Window],
    hidden: list[torch.Tensor],
    output: SentenceOutput,
    windows_per_batch: int = 32,
) -> None:
    """Score each entity pair of a long sentence (entities decoded over all its words) in its best
    window, over that window's hidden states ``hidden[k]`` kept from the tagging pass."""
    heads, tails, window = window_pair_arrays(windows, output.entities)
    by = np.argsort(window, kind="stable")  # window by window, each in (head, tail) order
    heads, tails, window = heads[by], tails[by], window[by]
    todo = np.unique(window).tolist()
    bounds = np.searchsorted(window, todo + [len(windows)])
    ordered = MentionIndex(output.entities).usable
    pad_id = model.tagger.config.pad_token_id or 0
    for b in range(0, len(todo), windows_per_batch):
        chunk = todo[b : b + windows_per_batch]
        at = slice(int(bounds[b]), int(bounds[b + len(chunk)]))
        rows = np.searchsorted(chunk, window[at])
        pairs = list(zip(heads[at].tolist(), tails[at].tolist()))
        # padding rows with zeros is safe: pair features read tokens inside their own window only
        states = torch.nn.utils.rnn.pad_sequence([hidden[k] for k in chunk], batch_first=True)
        if ordered:
            pb = _window_pair_batch(windows, chunk, output.entities, heads[at], tails[at], rows)
        else:
            per_row = [[] for _ in chunk]
            for row, pair in zip(rows.tolist(), pairs):
                per_row[row].append(pair)
            pb = build_pair_batch(
                [(row, windows[k], output.entities, per_row[row]) for row, k in enumerate(chunk)]
            )
        pb = pb.to(states.device)
        ids, mask = pad_batch([windows[k] for k in chunk], pad_id, states.device)
        output.add_candidates(pairs, model.relation_logits(states, pb, ids, mask))
