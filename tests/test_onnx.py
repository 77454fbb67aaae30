"""The onnxruntime backend: real exports of the tiny checkpoints and real onnxruntime sessions."""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("onnxruntime")

from marsad import Predictor  # noqa: E402
from marsad import onnx_backend as ob  # noqa: E402
from marsad.cli import main as cli  # noqa: E402
from marsad.data.corpus import read_corpus  # noqa: E402
from marsad.inference import pad_batch  # noqa: E402
from marsad.model.checkpoint import CheckpointError, load_checkpoint  # noqa: E402
from marsad.model.windows import make_windows  # noqa: E402
from marsad.schema import ENTITY_TYPES, RELATION_LABELS  # noqa: E402

# fp32 graph against the torch tagger, on the same padded batches: what float reordering allows
LOGIT_TOLERANCE = 1e-4
SCORE_TOLERANCE = 1e-3  # entity and relation scores (rounded to 4 places by Predictor)


def _texts(data_dir: Path) -> list[str]:
    return [s.text for s in read_corpus(data_dir)]


def _key(prediction) -> tuple:
    return (
        [(e.label, e.start, e.end) for e in prediction.entities],
        [(r.head, r.tail, r.label) for r in prediction.relations],
    )


def _valid(prediction, text: str) -> None:
    for e in prediction.entities:
        assert e.label in ENTITY_TYPES and text[e.start : e.end] == e.text and 0 <= e.score <= 1
    for r in prediction.relations:
        assert r.label in RELATION_LABELS and r.label != "NONE"
        assert 0 <= r.head < len(prediction.entities) and 0 <= r.tail < len(prediction.entities)


@pytest.fixture
def ckpt(tiny_priors_run: Path, tmp_path: Path) -> Path:
    """A writable copy of the tiny checkpoint with both priors."""
    return Path(shutil.copytree(tiny_priors_run / "best", tmp_path / "ckpt"))


def test_fp32_graph_matches_torch_on_the_corpus(tiny_priors_run, data_dir):
    """Same entities and relations as torch on every corpus sentence, scores and the graph's two
    outputs within the stated tolerances."""
    directory = tiny_priors_run / "best"
    torch_p = Predictor.from_pretrained(directory, device="cpu")
    ort_p = Predictor.from_pretrained(directory, backend="onnxruntime")
    assert isinstance(ort_p.loaded.model.tagger, ob.OrtTagger)
    texts = _texts(data_dir)
    want, got = torch_p(texts, batch_size=16), ort_p(texts, batch_size=16)
    assert [_key(p) for p in got] == [_key(p) for p in want]
    assert sum(len(p.entities) for p in want) > 50 and sum(len(p.relations) for p in want) > 0
    for a, b in zip(want, got):
        assert all(
            abs(x.score - y.score) <= SCORE_TOLERANCE for x, y in zip(a.entities, b.entities)
        )
        assert all(
            abs(x.score - y.score) <= SCORE_TOLERANCE for x, y in zip(a.relations, b.relations)
        )
    loaded = torch_p.loaded
    windows = [
        w
        for t in texts[:40]
        for w in make_windows(loaded.tokenizer, t.split(), loaded.preprocessing, loaded.max_length)
    ]
    ids, mask = pad_batch(windows, loaded.tokenizer.pad_token_id, torch.device("cpu"))
    with torch.inference_mode():
        ref = loaded.model.tagger(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    out = ort_p.loaded.model.tagger(input_ids=ids, attention_mask=mask)
    real = mask.bool()
    assert (out.logits - ref.logits)[real].abs().max() < LOGIT_TOLERANCE
    assert (out.hidden_states[-1] - ref.hidden_states[-1])[real].abs().max() < LOGIT_TOLERANCE


@pytest.mark.parametrize("quantize", ["dynamic", "static", True])
def test_int8_graphs_run_and_give_valid_predictions(tiny_run, data_dir, quantize):
    predictor = Predictor.from_pretrained(
        tiny_run / "best", backend="onnxruntime", quantize=quantize, calibration_data=data_dir
    )
    variant = ob.SHIPPED_INT8 if quantize is True else quantize
    assert predictor.loaded.model.tagger.path.name == ob.GRAPHS[variant]
    texts = _texts(data_dir)[:60]
    predictions = predictor(texts, batch_size=8)
    for prediction, text in zip(predictions, texts):
        _valid(prediction, text)
    fp32 = Predictor.from_pretrained(tiny_run / "best", device="cpu")(texts, batch_size=8)
    found = sum(len(p.entities) for p in predictions)
    assert found > 0.5 * sum(len(p.entities) for p in fp32)  # int8 of the same model, not noise


def test_export_onnx_cli_writes_graphs_a_predictor_loads(ckpt, tmp_path, monkeypatch, capsys):
    """The graphs go to CKPT/onnx/ with a manifest; the checkpoint still loads (file list and
    hashes intact, HF layout), and the Predictor runs the exported graph, building nothing."""
    from transformers import AutoModelForTokenClassification

    before = sorted(p.name for p in ckpt.iterdir())
    assert cli(["export-onnx", str(ckpt), "--quantize", "dynamic"]) == 0
    assert "model.onnx" in capsys.readouterr().out
    assert sorted(p.name for p in ckpt.iterdir()) == sorted([*before, ob.ONNX_DIR])
    manifest = json.loads((ckpt / "onnx" / "manifest.json").read_text())
    assert set(manifest["graphs"]) == {"fp32", "dynamic"}
    assert sorted(p.name for p in (ckpt / "onnx").iterdir()) == sorted(
        ["manifest.json", "model.onnx", "model.int8-dynamic.onnx"]
    )
    load_checkpoint(ckpt)  # the checkpoint's own checks still pass
    AutoModelForTokenClassification.from_pretrained(ckpt)

    def no_build(*args, **kwargs):
        raise AssertionError("the exported graph should have been used")

    monkeypatch.setattr(ob, "build_graph", no_build)
    for quantize, name in ((False, "model.onnx"), ("dynamic", "model.int8-dynamic.onnx")):
        predictor = Predictor.from_pretrained(ckpt, backend="onnxruntime", quantize=quantize)
        assert predictor.loaded.model.tagger.path == ckpt / "onnx" / name
        assert predictor("قال الجيش إنه سيطر على المدينة.").sentences


def test_graph_is_built_on_first_use_and_cached(ckpt, tmp_path, monkeypatch):
    monkeypatch.setenv("MARSAD_CACHE", str(tmp_path / "cache"))
    first = Predictor.from_pretrained(ckpt, backend="onnxruntime").loaded.model.tagger.path
    assert first.parent.parent == tmp_path / "cache" / "onnx" and first.name == "model.onnx"
    assert not (ckpt / "onnx").exists()  # the checkpoint itself is not written to
    monkeypatch.setattr(ob, "build_graph", lambda *a, **k: pytest.fail("rebuilt"))
    again = Predictor.from_pretrained(ckpt, backend="onnxruntime").loaded.model.tagger.path
    assert again == first


def test_stale_exported_graph_is_ignored_with_a_warning(ckpt, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("MARSAD_CACHE", str(tmp_path / "cache"))
    assert cli(["export-onnx", str(ckpt), "--quantize", "none"]) == 0
    manifest_path = ckpt / "onnx" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["weights_key"] = "0" * 32  # as if the weights had changed since the export
    manifest_path.write_text(json.dumps(manifest))
    with caplog.at_level(logging.WARNING, logger="marsad.onnx_backend"):
        path = Predictor.from_pretrained(ckpt, backend="onnxruntime").loaded.model.tagger.path
    assert "exported from other weights" in caplog.text
    assert path.is_relative_to(tmp_path / "cache")


def test_corrupt_graph_is_a_located_error(ckpt):
    assert cli(["export-onnx", str(ckpt), "--quantize", "none"]) == 0
    graph = ckpt / "onnx" / "model.onnx"
    data = bytearray(graph.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    graph.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"onnx/model\.onnx: size or SHA-256 differs"):
        Predictor.from_pretrained(ckpt, backend="onnxruntime")
    graph.write_bytes(b"not a graph" + bytes(len(data) - 11))  # same size: only the load fails
    with pytest.raises(CheckpointError, match=r"onnx/model\.onnx: not a loadable ONNX graph"):
        Predictor.from_pretrained(ckpt, backend="onnxruntime", verify_hashes=False)
    load_checkpoint(ckpt)  # the torch checkpoint is unaffected


def test_missing_onnxruntime_names_the_extra(tiny_run, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import raises ImportError
    with pytest.raises(ImportError, match=r"marsad\[onnx\]"):
        Predictor.from_pretrained(tiny_run / "best", backend="onnxruntime")
    assert cli(["export-onnx", str(tiny_run / "best")]) == 1
    assert "marsad[onnx]" in capsys.readouterr().err


def test_bad_arguments_and_markers_are_refused(tiny_run):
    with pytest.raises(ValueError, match="backend="):
        Predictor.from_pretrained(tiny_run / "best", backend="tensorrt")
    with pytest.raises(ValueError, match="static int8 is backend='onnxruntime'"):
        Predictor.from_pretrained(tiny_run / "best", quantize="static")
    with pytest.raises(ValueError, match="quantize='int4'"):
        ob.variant_of("int4")
    loaded = load_checkpoint(tiny_run / "best")
    loaded.model.relation_head.markers = torch.nn.Identity()  # as a markers checkpoint has
    with pytest.raises(ValueError, match="relation_markers"):
        ob.check_supported(loaded, tiny_run / "best")


def test_static_int8_without_a_corpus_names_what_to_pass(ckpt, tmp_path, monkeypatch):
    monkeypatch.setenv("MARSAD_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ValueError, match="calibration_data="):
        Predictor.from_pretrained(
            ckpt, backend="onnxruntime", quantize="static", calibration_data=tmp_path / "none"
        )


def test_predict_cli_backend_writes_what_the_onnx_predictor_predicts(ckpt, tmp_path, monkeypatch):
    """``marsad predict --backend onnxruntime [--quantize dynamic]`` runs the ONNX graph: its
    lines are the ONNX ``Predictor``'s predictions for the same documents."""
    from marsad.commands import predict as predict_cli
    from marsad.documents import Document, document_line

    monkeypatch.setenv("MARSAD_CACHE", str(tmp_path / "cache"))
    texts = ["قصفت طائرات روسية مواقع في إدلب وقتل 5 مدنيين.", "سيطر الجيش على المدينة."]
    src = tmp_path / "in.txt"
    src.write_text("\n".join(texts) + "\n", encoding="utf-8")
    for quantize in ([], ["--quantize", "dynamic"]):
        out = tmp_path / f"out{len(quantize)}.jsonl"
        argv = ["--checkpoint", str(ckpt), "--input", str(src), "--output", str(out)]
        assert predict_cli.main([*argv, "--backend", "onnxruntime", *quantize]) == 0
        predictor = Predictor.from_pretrained(
            ckpt, backend="onnxruntime", quantize=quantize[-1] if quantize else False
        )
        expected = [
            document_line(Document(i + 1, {"text": t}, None), predictor(t))
            for i, t in enumerate(texts)
        ]
        assert out.read_text(encoding="utf-8").splitlines() == expected


def test_predict_cli_backend_refusals_are_one_line(tiny_run, tmp_path, monkeypatch, capsys):
    from marsad.commands import predict as predict_cli

    argv = ["--checkpoint", str(tiny_run / "best"), "--input", str(tmp_path / "x.txt")]
    (tmp_path / "x.txt").write_text("سيطر الجيش على المدينة.\n", encoding="utf-8")
    for extra, message in (
        (["--quantize", "static"], "--quantize static is calibrated int8 of --backend onnxruntime"),
        (["--backend", "onnxruntime", "--device", "cuda"], "runs on the CPU here"),
        (["--backend", "onnx"], "invalid choice: 'onnx'"),
    ):
        with pytest.raises(SystemExit):
            predict_cli.main([*argv, *extra])
        assert message in capsys.readouterr().err, extra
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import raises ImportError
    with pytest.raises(SystemExit, match=r"--backend onnxruntime: .*marsad\[onnx\]"):
        predict_cli.main([*argv, "--backend", "onnxruntime"])


def test_dev_quality_script_scores_each_variant_and_resumes(tiny_run, tmp_path, monkeypatch):
    """``scripts/onnx_dev_quality.py``: one row per variant on the checkpoint's own dev, points
    lost against torch fp32 (none for the fp32 graph, whose predictions are torch's), and a rerun
    keeps the rows already written instead of scoring them again."""
    from conftest import load_script

    script = load_script("scripts/onnx_dev_quality.py")
    monkeypatch.setenv("MARSAD_CACHE", str(tmp_path / "cache"))
    ckpt, out = tiny_run / "best", tmp_path / "quality.json"
    variants = ["--variant", "torch fp32", "--variant", "onnxruntime fp32"]
    assert script.main(["--checkpoint", str(ckpt), "--out", str(out), *variants]) == 0
    rows = json.loads(out.read_text())[str(ckpt)]
    assert list(rows) == ["torch fp32", "onnxruntime fp32"]
    assert rows["torch fp32"]["sentences"] == len(script.mixed_dev(ckpt)) > 0
    assert rows["onnxruntime fp32"]["points_lost"] == {m: 0.0 for m in script.METRICS}
    monkeypatch.setattr(script, "score_variant", lambda *a: pytest.fail("scored again"))
    assert script.main(["--checkpoint", str(ckpt), "--out", str(out), *variants]) == 0
    assert "| onnxruntime fp32 |" in script.markdown(json.loads(out.read_text()))
    with pytest.raises(SystemExit):
        script.main(["--checkpoint", str(tmp_path), "--out", str(out)])


def test_predict_cli_bench_runs_each_backend_over_the_same_articles(ckpt, tmp_path, monkeypatch):
    """``scripts/bench_predict_cli.py`` times the real ``marsad predict`` per backend; the fp32
    graph finds the same entities as torch in every article."""
    from conftest import load_script

    script = load_script("scripts/bench_predict_cli.py")
    monkeypatch.setenv("MARSAD_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "bench.json"
    backends = ["--backend", "torch fp32", "--backend", "onnxruntime fp32"]
    argv = ["--checkpoint", str(ckpt), "--articles", "7", "--json", str(out), *backends]
    assert script.main(argv) == 0
    rows = json.loads(out.read_text())["rows"]
    assert list(rows) == ["torch fp32", "onnxruntime fp32"]
    for row in rows.values():
        assert row["same_entities_as_first"] == 7 and row["articles_per_s"] > 0
        assert row["sentences_per_s"] > row["articles_per_s"]  # articles hold several sentences
