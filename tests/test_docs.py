"""The README and docs/ link to each other by file and heading; a moved or renamed section must not
leave a dead link behind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def heading_anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to
    hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(document: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", document.read_text(encoding="utf-8"), flags=re.S)
    return {heading_anchor(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", text, flags=re.M)}


def test_heading_anchor_matches_github():
    assert (
        heading_anchor(
            "Results (bundled multilingual-e5-small; AraBERT could not be downloaded here)"
        )
        == "results-bundled-multilingual-e5-small-arabert-could-not-be-downloaded-here"
    )
    assert heading_anchor("Why 1.8× is out of reach") == "why-18-is-out-of-reach"
    assert heading_anchor("Chosen on dev; tried, not shipped") == "chosen-on-dev-tried-not-shipped"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(document: Path):
    dead = []
    for target in LINK.findall(document.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        if not linked.exists():
            dead.append(f"{target}: no file {linked}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            dead.append(f"{target}: no heading with anchor #{anchor} in {linked.name}")
    assert not dead, f"dead links in {document.name}:\n" + "\n".join(dead)
