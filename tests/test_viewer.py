"""The viewer at ``GET /`` in a real headless browser (Debian's ``chromium``, driven by the
``playwright`` Python package through ``executable_path``; no Playwright browser download) against
a live ``marsad serve`` on 127.0.0.1: a sentence is typed and submitted; the highlighted spans'
text, types and offsets equal ``Predictor``'s, each type has its colour, the text is laid out
right-to-left, the relations are listed and drawn, the event rows and the raw JSON are shown, and a
limit is shown as an error. A screenshot is saved under the test's temp dir (and copied to
``$MARSAD_SCREENSHOT`` when set, for a person to look at).

Without a browser (or the playwright package) the tests skip, except in CI (``CI=true``, or
``MARSAD_REQUIRE_BROWSER=1``, which ``.ci/run`` sets after installing chromium): there they fail.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
from conftest import load_script

pytest.importorskip("httpx")
pytest.importorskip("fastapi")

BROWSER_FLAGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--no-proxy-server",  # 127.0.0.1 directly, whatever the environment says
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# An emoji before the first mention (outside the BMP: one code point, two UTF-16 units) checks
# that the page cuts the text by code points, as the server counts; Latin digits and an Arabic
# comma inside Arabic text check the mixed-direction layout.
TEXT = (
    "📰 سيطرت قوات النظام بدعم روسي على 3 أحياء في مدينة الميادين، وقصف التحالف الدولي مواقع "
    "لتنظيم داعش في الرقة."
)
LIMITS = ["--max-texts", "8", "--max-chars", "400", "--max-bytes", "20000", "--device", "cpu"]


def _required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("MARSAD_REQUIRE_BROWSER") == "1"


def _chromium() -> str:
    """The browser to drive; skips (fails in CI) when there is none."""
    path = os.environ.get("MARSAD_CHROMIUM") or next(
        filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None
    )
    missing = None
    if path is None:
        missing = "no chromium on PATH (apt-get install chromium, or set MARSAD_CHROMIUM)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed (the dev extra)"
    if missing:
        if _required():
            pytest.fail(f"CI must run the browser test: {missing}")
        pytest.skip(missing)
    return path


@pytest.fixture(scope="module")
def live_server(tiny_run):
    """A live ``marsad serve`` of the tiny checkpoint (at most 400 characters a text), started
    as the serving benchmark starts it; its URL."""
    proc, url = load_script("scripts/bench_serve.py").start(str(tiny_run / "best"), LIMITS)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def page(live_server):
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=BROWSER_FLAGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(live_server + "/")
        yield page
        browser.close()


def _analyse(page, text: str) -> None:
    page.evaluate("document.body.dataset.state = ''")
    page.fill("#text", text)
    page.click("#analyse")
    page.wait_for_selector("body[data-state=done], body[data-state=error]", timeout=60_000)


def test_the_page_shows_the_predictors_mentions_right_to_left(page, tiny_run, tmp_path):
    from marsad.predictor import Predictor

    expected = Predictor.from_pretrained(tiny_run / "best", device="cpu")(TEXT)
    labels = {e.label for e in expected.entities}
    assert len(labels) >= 2 and expected.relations, "the tiny checkpoint must tag this text"
    _analyse(page, TEXT)
    assert page.evaluate("document.body.dataset.state") == "done", page.text_content("#error")

    # the highlighted spans: the predictor's mentions, with their types, cut where it cut them
    marks = page.eval_on_selector_all(
        "#text-view mark",
        "ms => ms.map(m => [m.textContent, m.dataset.label, +m.dataset.start, +m.dataset.end,"
        " m.className, getComputedStyle(m).backgroundColor])",
    )
    assert [m[:4] for m in marks] == [[e.text, e.label, e.start, e.end] for e in expected.entities]
    assert all(TEXT[start:end] == text for text, _, start, end, _, _ in marks)
    assert all(cls == f"ent {label}" for _, label, _, _, cls, _ in marks)
    colour = {label: bg for _, label, _, _, _, bg in marks}
    assert len(set(colour.values())) == len(colour)  # one colour per type
    assert all(colour[label] == bg for _, label, _, _, _, bg in marks)
    assert page.text_content("#text-view") == TEXT  # nothing dropped or doubled

    # right to left: the block's direction, and the first mention is right of the next on its line
    assert page.evaluate("getComputedStyle(document.getElementById('view')).direction") == "rtl"
    assert page.evaluate("document.documentElement.dir") == "rtl"
    boxes = [m.bounding_box() for m in page.query_selector_all("#text-view mark")]
    same_line = [b for b in boxes if abs(b["y"] - boxes[0]["y"]) < 5]
    assert len(same_line) >= 2 and same_line[0]["x"] > same_line[1]["x"]

    # relations listed and drawn (one arc each), events as a table, the raw JSON
    rows = page.eval_on_selector_all(
        "#relations tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent))"
    )
    ents = expected.entities
    assert [r[1:4] for r in rows] == [
        [ents[r.head].text, r.label, ents[r.tail].text] for r in expected.relations
    ]
    assert len(page.query_selector_all("#arcs path[data-relation]")) == len(expected.relations)
    arc_labels = page.eval_on_selector_all("#arcs text", "ts => ts.map(t => t.textContent)")
    assert arc_labels == [r.label for r in expected.relations]
    events = page.eval_on_selector_all(
        "#events tbody tr", "rs => rs.map(r => [r.cells[0].textContent, r.cells[1].textContent])"
    )
    assert events == [[e.event_type, e.actor.text] for e in expected.events()]
    raw = json.loads(page.text_content("#raw"))
    assert raw["predictions"] == [json.loads(expected.to_json())]

    shot = tmp_path / "viewer.png"  # for a person to look at: right-to-left text, highlights
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("MARSAD_SCREENSHOT"):
        shutil.copy(shot, os.environ["MARSAD_SCREENSHOT"])


def test_the_page_shows_a_limit_as_an_error(page):
    _analyse(page, "ا" * 401)  # the live server's max_chars is 400
    assert page.evaluate("document.body.dataset.state") == "error"
    assert "413" in page.text_content("#error")
    assert "max_chars=400" in page.text_content("#error")
