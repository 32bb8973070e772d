"""Forge a few images -> train a few steps -> calibrate -> evaluate -> export -> the engine loads the
export and scores images exactly as training's evaluation does."""

import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from engine.contract import LogitScaling, extract_crops, plan_for, sigmoid
from engine.model import Detector as EngineDetector
from engine.scanner import Scanner, ScanRequest
from engine.store import Store
from export.__main__ import main as export_cli
from training.__main__ import main as training_cli
from training.checkpoint import load_checkpoint
from training.data import manifest
from training.records import family_name
from training.scoring import TorchScorer, score_image, score_records

CONFIG = """
[detector]
backbone = "tiny_vit"
crop_size = 32
method = "sef"
[detector.sef]
experts = ["upsample", "reconstruct"]
[detector.gamma]
enabled = true
domains = ["real", "upsample", "reconstruct"]
seg_dim = 8
[training]
batch_size = 4
steps_per_epoch = 2
epochs = 1
expert_epochs = 1
lr = 0.005
"""


def test_forge_train_evaluate_export_and_the_engine_agrees(forged_manifest, tmp_path, monkeypatch, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text(CONFIG)
    run = tmp_path / "run"
    assert training_cli(["train", "--config", str(config), "--run", str(run), "--manifest", str(forged_manifest),
                         "--no-progress"]) == 0
    stages = [json.loads(line)["stage"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert stages == ["expert:upsample", "expert:reconstruct", "fusion"]
    fusion = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert fusion["seg"] > 0 and fusion["domain"] > 0  # GAMMA's losses took part

    # The tiny val split (5 reals, 10 fakes) is too small to fit a logit scaling on, and says so before scoring.
    with pytest.raises(SystemExit):
        training_cli(["calibrate", "--checkpoint", str(run / "checkpoint"), "--data", str(forged_manifest),
                      "--out", str(run / "refused.json")])
    assert "needs 20 of each (or pass --scaling none)" in capsys.readouterr().err
    assert training_cli(["calibrate", "--checkpoint", str(run / "checkpoint"), "--data", str(forged_manifest),
                         "--crop-plan", "texture", "--max-crops", "6", "--scaling", "none",
                         "--out", str(run / "calibration.json")]) == 0
    recipe = json.loads((run / "calibration.json").read_text())
    assert (recipe["crop_size"], recipe["max_crops"], recipe["aggregation"], recipe["crop_plan"]) == (32, 6, "mean", "texture")
    assert (recipe["logit_scale"], recipe["logit_offset"]) == (1.0, 0.0)
    # A scaling as a fit on a real split gives one: evaluation, export and the engine must all apply it.
    scaling = LogitScaling(1.7, -0.3)
    recipe.update(logit_scale=scaling.scale, logit_offset=scaling.offset)
    (run / "calibration.json").write_text(json.dumps(recipe))
    # every val real blurred too, scored by the same model, is a kind with its own threshold (the tiny
    # set has 5 val reals: let a kind count from one real per unit of FPR)
    monkeypatch.setattr("training.calibrate.KIND_REALS_PER_FPR", 1)
    assert training_cli(["calibrate", "--checkpoint", str(run / "checkpoint"), "--data", str(forged_manifest),
                         "--crop-plan", "texture", "--max-crops", "6", "--perturbations", "blur1", "--fpr", "0.5",
                         "--scaling", "none",
                         "--out", str(run / "calibration-blur.json")]) == 0
    blur = json.loads((run / "calibration-blur.json").read_text())
    assert blur["likely_ai"] >= blur["kind_likely_ai"]["perturbed:blur1"] > 0
    with pytest.raises(SystemExit, match="max_crops: calibrated with 6, model has 8"):
        export_cli(["--checkpoint", str(run / "checkpoint"), "--calibration", str(run / "calibration.json"),
                    "--out", str(tmp_path / "refused"), "--name", "tiny", "--max-crops", "8"])
    assert not (tmp_path / "refused").exists()
    assert training_cli(["evaluate", "--checkpoint", str(run / "checkpoint"), "--data", str(forged_manifest),
                         "--perturbations", "jpeg75", "--calibration", str(run / "calibration.json"),
                         "--out", str(run / "eval")]) == 0
    evaluation = json.loads((run / "eval" / "metrics.json").read_text())
    assert evaluation["logit_scaling"] == {"scale": scaling.scale, "offset": scaling.offset}
    metrics = evaluation["metrics"]
    assert set(metrics) == {"clean", "jpeg75"}
    assert {"upsample", "reconstruct"} <= {g.split("/")[0] for g in metrics["clean"]["per_generator"]}
    test_fakes = [r for r in manifest.read(forged_manifest) if r.split == "test" and r.label == 1]
    assert set(metrics["clean"]["per_family"]) == {family_name(r) for r in test_fakes}
    verdicts = metrics["clean"]["verdicts"]
    for band in ("real", "fake"):
        assert sum(verdicts[band][k] for k in ("likely_ai", "uncertain", "likely_real")) == pytest.approx(1.0)
    for name in ("report.md", "roc.png", "histogram.png", "per_generator.png", "reliability.png"):
        assert (run / "eval" / name).stat().st_size > 0

    out = tmp_path / "models"
    assert export_cli(["--checkpoint", str(run / "checkpoint"), "--calibration", str(run / "calibration.json"),
                       "--out", str(out), "--name", "tiny", "--precisions", "fp32,fp16", "--parity-data",
                       str(forged_manifest), "--metrics", str(run / "eval" / "metrics.json")]) == 0
    assert (out / "tiny-fp16.onnx").is_file()  # SEF + GAMMA survive fp16 conversion
    engine = EngineDetector(out / "tiny-fp32.onnx", provider="cpu")
    calibration = json.loads((run / "calibration.json").read_text())
    assert engine.metadata.thresholds.likely_ai == pytest.approx(calibration["likely_ai"])
    assert (engine.metadata.max_crops, engine.metadata.crop_plan) == (6, "texture")  # the calibration's recipe
    assert engine.metadata.logit_scaling == scaling
    assert engine.has_experts and engine.has_artifact_map
    # The card's "calls N% of fakes likely AI" is the app's share at this very threshold, not the TPR at 1% FPR.
    app = metrics["clean"]["app_verdicts"]
    assert engine.metadata.metrics["fakes_likely_ai"] == pytest.approx(app["fake"]["likely_ai"], abs=1e-4)
    assert engine.metadata.metrics["reals_likely_ai"] == pytest.approx(app["real"]["likely_ai"], abs=1e-4)
    with pytest.raises(SystemExit, match="evaluate with this --calibration"):  # measured at another threshold
        export_cli(["--checkpoint", str(run / "checkpoint"), "--calibration", str(run / "calibration-blur.json"),
                    "--out", str(tmp_path / "refused-metrics"), "--name", "tiny", "--max-crops", "6",
                    "--metrics", str(run / "eval" / "metrics.json")])
    assert not (tmp_path / "refused-metrics").exists()
    # No --version: the weights' and calibration's digest, so a retrained or recalibrated model never reuses
    # this one's cached results (the same weights with other thresholds give other verdicts).
    weights = (run / "checkpoint" / "model.safetensors").read_bytes()
    calibrated = (run / "calibration.json").read_bytes()
    assert engine.metadata.version == hashlib.sha256(weights + calibrated).hexdigest()[:8]

    torch_scorer = TorchScorer(load_checkpoint(run / "checkpoint"))
    records = [r for r in manifest.read(forged_manifest) if r.split == "test"][:4]
    store = Store(tmp_path / "store.sqlite")
    with Scanner(engine, store, workers=1) as scanner:
        results = scanner.scan([ScanRequest(path=str(manifest.resolve(forged_manifest, r.path))) for r in records])
    for record, result in zip(records, results, strict=True):
        assert result.ok, result.error
        rgb = np.asarray(Image.open(manifest.resolve(forged_manifest, record.path)).convert("RGB"))
        crops = extract_crops(rgb, plan_for(rgb, 32, engine.metadata.max_crops, engine.metadata.crop_plan))
        np.testing.assert_allclose(engine.run(crops).logits, torch_scorer(crops), atol=1e-4)
        expected = sigmoid(scaling.apply(score_image(rgb, torch_scorer, engine.metadata.max_crops,
                                                     engine.metadata.aggregation, engine.metadata.crop_plan)))
        assert result.probability == pytest.approx(float(expected), abs=1e-4)
    # Evaluation's app verdicts are the engine's, reasons for "uncertain" included.
    scored = score_records(records, forged_manifest, torch_scorer, engine.metadata.max_crops,
                           engine.metadata.aggregation, crop_plan=engine.metadata.crop_plan)
    scored.scaling = scaling
    for view, probability, result in zip(scored.app_views, scored.probabilities(), results, strict=True):
        assert view.verdict(probability, engine.metadata.thresholds, scaling, 32) == (result.verdict, result.reasons)
        assert view.jpeg_quality == result.jpeg_quality and (view.width, view.height) == (result.width, result.height)
