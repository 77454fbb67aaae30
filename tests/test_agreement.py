import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_agreement_counts_a_dropped_entity(data_copy):
    path = data_copy / "annotations" / "004_93bab9112742cc71.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    row = next(r for r in rows if r["entities"])
    dropped = row["entities"].pop(0)
    row["relations"] = [r for r in row["relations"] if dropped["id"] not in (r["head"], r["tail"])]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "agreement.py"), str(ROOT / "data" / "annotations"),
                          str(data_copy / "annotations")], capture_output=True, text=True, check=True).stdout
    n = sum(len(json.loads(line)["entities"]) for p in (ROOT / "data" / "annotations").glob("*.jsonl")
            for line in p.read_text(encoding="utf-8").splitlines())
    # other = reference minus one entity: P = 1, R = (n-1)/n
    recall = (n - 1) / n
    f1 = 2 * recall / (1 + recall)
    entity_micro = out.split("relations:")[0].strip().splitlines()[-1]
    assert f"F1 {f1:.3f}" in entity_micro and "P 1.000" in entity_micro
