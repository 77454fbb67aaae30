"""scripts/bench_relation_heads.py on the tiny checkpoint: every variant timed on the same
sentences, the checkpoint's head at ratio 1, the variants' heads really built with their option."""

from __future__ import annotations

import json

from conftest import load_script

from marsad.model.checkpoint import load_checkpoint


def test_each_head_variant_is_timed_against_the_checkpoint_head(tiny_run, tmp_path):
    bench = load_script("scripts/bench_relation_heads.py")
    out = tmp_path / "heads.json"
    assert (
        bench.main(["--checkpoint", str(tiny_run / "best"), "--rounds", "1", "--json", str(out)])
        == 0
    )
    result = json.loads(out.read_text())
    assert result["sentences"] > 0
    rows = result["variants"]
    assert set(rows) == set(bench.VARIANTS)
    assert rows["checkpoint's head"]["ratio_to_checkpoint_head"] == 1.0
    assert all(r["ms_per_sentence"] > 0 for r in rows.values())
    loaded = load_checkpoint(tiny_run / "best")
    model = loaded.model
    markers = bench.variant(loaded, {"markers": True})
    assert markers.relation_head.markers is not None and markers.tagger is model.tagger
    assert model.relation_head.markers is None  # the checkpoint's own model is left as it was
