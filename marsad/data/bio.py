"""The CoNLL-style BIO view of the corpus (one ``word TAG`` per line, blank line between
sentences)."""

from __future__ import annotations

from pathlib import Path

from marsad.data.corpus import Sentence


def render_bio(sentences: list[Sentence]) -> str:
    blocks = ["\n".join(f"{w} {t}" for w, t in zip(s.words, s.bio_tags())) for s in sentences]
    return "\n\n".join(blocks) + "\n"


def write_bio(sentences: list[Sentence], out_dir: Path) -> list[Path]:
    """Write one ``<doc_id>.bio`` per document; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    by_doc: dict[str, list[Sentence]] = {}
    for s in sentences:
        by_doc.setdefault(s.doc_id, []).append(s)
    paths = []
    for doc_id, doc_sents in sorted(by_doc.items()):
        path = out_dir / f"{doc_id}.bio"
        path.write_text(render_bio(doc_sents), encoding="utf-8")
        paths.append(path)
    return paths
