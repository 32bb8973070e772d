"""scripts/gpu_pack.py: a fold's rows packed into a self-contained folder whose manifest resolves there."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from training.data import manifest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu_pack.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("gpu_pack", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_fold_subset_is_self_contained(tmp_path):
    forged = tmp_path / "forged"
    rows = []
    for index, (domain, split) in enumerate([("real", "train"), ("real", "train"), ("upsample", "train"),
                                             ("upsample", "val"), ("inpaint", "train")]):
        image = forged / split / domain / f"{index}.jpg"
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(f"image {index}".encode())
        row = {"path": f"../{split}/{domain}/{index}.jpg", "split": split, "domain": domain, "variant": ""}
        if domain == "inpaint":
            (forged / split / domain / f"{index}.mask.png").write_bytes(b"mask")
            row["mask_path"] = f"../{split}/{domain}/{index}.mask.png"
        rows.append(row)
    fold = forged / "folds" / "fold.jsonl"  # a fold's paths climb out of folds/
    fold.parent.mkdir()
    fold.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "packed"

    size = _load_script().pack_subset(fold, out, {"real": 1, "upsample": 5, "inpaint": 1}, seed=0)

    packed = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert sorted(r["domain"] for r in packed) == ["inpaint", "real", "upsample"]  # val rows are never packed
    for row in packed:
        for field in ("path", "mask_path"):
            if field in row:
                assert not row[field].startswith("..")
                assert manifest.resolve(out / "manifest.jsonl", row[field]).read_bytes() == (forged / row[field]).read_bytes()
    assert size == sum(p.stat().st_size for p in out.rglob("*") if p.is_file() and p.name != "manifest.jsonl")
