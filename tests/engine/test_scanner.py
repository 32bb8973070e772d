import hashlib
import json
import sqlite3
import os
import subprocess
import sys
import math
import threading

import numpy as np
import pytest
from PIL import Image

from engine.contract import EarlyExit, LogitScaling
from engine.model import Detector
from engine.result import LIKELY_AI, LIKELY_REAL, UNCERTAIN

from engine.pending import PendingWork
from engine.scanner import Scanner, ScanJob, ScanRequest
from engine.store import Store
from tests.fixtures.synthetic import brightness_model, expected_logit
from tests.conftest import fine_checker, solid_image


def logistic(logit: float) -> float:  # the expected probability, computed apart from the engine's
    return 1.0 / (1.0 + math.exp(-logit))


class CountingDetector(Detector):
    """The real detector, counting how many crops it was asked to score."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def run(self, crops):
        self.calls.append(len(crops))
        return super().run(crops)


@pytest.fixture
def detector(brightness_model_path):
    return CountingDetector(brightness_model_path)


def test_verdicts_follow_the_models_scores(tmp_path, detector):
    bright = solid_image(tmp_path / "bright.png", 240)
    dark = solid_image(tmp_path / "dark.png", 20)
    grey = solid_image(tmp_path / "grey.png", 128)
    with Scanner(detector) as scanner:
        results = scanner.scan([ScanRequest(path=str(p)) for p in (bright, dark, grey)])
    assert [r.verdict for r in results] == [LIKELY_AI, LIKELY_REAL, UNCERTAIN]
    crop = np.full((32, 32, 3), 240, np.uint8)
    assert results[0].probability == pytest.approx(logistic(expected_logit(crop)), abs=1e-4)
    assert "between the model's bands" in results[2].reasons[0]
    first = results[0]
    assert (first.width, first.height, first.format) == (64, 48, "PNG")
    assert len(first.sha256) == 64 and first.model_name == "test-brightness" and first.provider == "cpu"
    assert set(first.expert_weights) == {"reconstruction", "upsampling"}
    assert {"decode", "model", "total"} <= set(first.timings_ms)


def test_the_model_s_logit_scaling_is_what_the_scan_reports(tmp_path):
    # A grey 150 image: raw logit 8 * (150/255 - 0.5) = 0.71, 67%, "uncertain" between 30% and 80%; stamped
    # with the scaling calibration fitted (2.5 * logit - 0.2 = 1.57), it is 83%, "likely AI".
    crop = np.full((32, 32, 3), 150, np.uint8)
    image = solid_image(tmp_path / "grey.png", 150)
    raw = brightness_model(tmp_path / "raw.onnx")
    scaled = brightness_model(tmp_path / "scaled.onnx", logit_scaling=LogitScaling(2.5, -0.2))
    with Scanner(Detector(raw)) as scanner:
        [plain] = scanner.scan([ScanRequest(path=str(image))])
    with Scanner(Detector(scaled)) as scanner:
        [rescaled] = scanner.scan([ScanRequest(path=str(image))])
    assert plain.probability == pytest.approx(logistic(expected_logit(crop)), abs=1e-4)
    assert plain.verdict == UNCERTAIN
    assert rescaled.probability == pytest.approx(logistic(2.5 * expected_logit(crop) - 0.2), abs=1e-4)
    assert rescaled.verdict == LIKELY_AI
    assert [c.probability for c in rescaled.crops] == [pytest.approx(rescaled.probability, abs=1e-4)] * 4


def test_a_cascade_decides_clear_images_on_their_first_crops_and_scores_the_rest_of_the_others(tmp_path):
    # Eight 32 px crops per 128 x 64 image; the model's cascade scores two first and stops where they lie
    # more than 0.05 beyond a band (likely real <= 30%, likely AI >= 80%).
    cascade = brightness_model(tmp_path / "cascade.onnx", early_exit=EarlyExit(first_crops=2, margin=0.05))
    plain = brightness_model(tmp_path / "plain.onnx")
    dark, bright, grey = (solid_image(tmp_path / f"{name}.png", value, size=(128, 64))
                          for name, value in (("dark", 10), ("bright", 250), ("grey", 120)))
    half = np.full((64, 128), 250) + fine_checker(64, 128)
    half[:, 64:] -= 240  # its first two crops (the top row's left) are bright, the image as a whole is not
    Image.fromarray(np.repeat(half[..., None], 3, axis=2).astype(np.uint8)).save(tmp_path / "half.png")
    requests = [ScanRequest(path=str(tmp_path / f"{name}.png")) for name in ("dark", "bright", "grey", "half")]
    detector = CountingDetector(cascade)
    with Scanner(detector, batch_crops=16) as scanner:
        dark_result, bright_result, grey_result, half_result = scanner.scan(requests)
    with Scanner(Detector(plain)) as scanner:
        plain_results = scanner.scan(requests)
    assert [len(r.crops) for r in (dark_result, bright_result, grey_result)] == [2, 2, 8]
    assert sum(detector.calls) == 2 + 2 + 8 + len(half_result.crops)
    assert dark_result.verdict == LIKELY_REAL and bright_result.verdict == LIKELY_AI
    # Scored whole, an image comes out exactly as without the cascade; decided early, its first crops decide.
    assert grey_result.probability == pytest.approx(plain_results[2].probability, abs=1e-6)
    assert dark_result.verdict == plain_results[0].verdict and bright_result.verdict == plain_results[1].verdict
    # The price: the grid plan's first two crops are the bright top left, and they decide an image that,
    # whole, is uncertain (with the texture plan the first crops are the most textured, not the first row).
    assert [(c.top, c.left) for c in half_result.crops] == [(0, 0), (0, 32)]
    assert half_result.verdict == LIKELY_AI and plain_results[3].verdict == UNCERTAIN


def test_crops_cover_the_image_and_report_their_own_scores(tmp_path, detector):
    array = np.zeros((64, 96, 3), np.uint8)
    array[:, :48] = 250  # bright left half, dark right half
    path = tmp_path / "split.png"
    Image.fromarray(array).save(path)
    with Scanner(detector) as scanner:
        [result] = scanner.scan([ScanRequest(path=str(path))])
    assert len(result.crops) == 6  # 2 rows x 3 columns of 32 px
    left = [c.probability for c in result.crops if c.left == 0]
    right = [c.probability for c in result.crops if c.left == 64]
    assert min(left) > 0.9 and max(right) < 0.1
    assert result.verdict == UNCERTAIN
    assert any("disagree" in reason for reason in result.reasons)
    heat = np.array(result.artifact_map, dtype=float)
    assert heat.shape == (8, 12)  # 8 px per cell, in the image's own layout
    assert heat[:, :5].mean() > 0.9 and heat[:, 7:].mean() < 0.1


def test_tiny_images_are_uncertain_and_heavy_compression_only_doubts_a_likely_real(tmp_path, detector):
    tiny = solid_image(tmp_path / "tiny.png", 250, size=(12, 10))
    blocks = (np.indices((64, 64)) // 8).sum(axis=0) % 2 * 20 - 10  # ±10 in 8 px blocks: survives quality 20
    for name, value in (("crushed-dark", 20), ("crushed-bright", 235)):
        Image.fromarray(np.repeat((value + blocks)[..., None], 3, axis=2).astype(np.uint8)).save(
            tmp_path / f"{name}.jpg", quality=20)
    crushed_dark, crushed_bright = tmp_path / "crushed-dark.jpg", tmp_path / "crushed-bright.jpg"
    with Scanner(detector) as scanner:
        tiny_result, dark, bright = scanner.scan([ScanRequest(path=str(p)) for p in (tiny, crushed_dark, crushed_bright)])
    assert tiny_result.verdict == UNCERTAIN and "very small" in tiny_result.reasons[0]
    # Compression erases traces: "likely real" is not to be trusted then, traces that survive it still count.
    assert dark.probability < 0.3 and dark.verdict == UNCERTAIN and any("recompressed" in r for r in dark.reasons)
    assert bright.verdict == LIKELY_AI and not bright.reasons


def test_crops_from_several_images_share_a_batch(tmp_path, brightness_model_path):
    detector = CountingDetector(brightness_model_path)
    paths = [solid_image(tmp_path / f"{i}.png", 10 + i, size=(32, 32)) for i in range(40)]
    with Scanner(detector, batch_crops=16, workers=2) as scanner:
        results = scanner.scan([ScanRequest(path=str(p)) for p in paths])
    assert len(results) == 40 and all(r.ok for r in results)
    assert sum(detector.calls) == 40
    assert max(detector.calls) > 1  # crops were batched across images


def test_same_bytes_are_scanned_once_per_model(tmp_path, detector):
    store = Store(tmp_path / "store.db")
    image = solid_image(tmp_path / "a.png", 200)
    copy = tmp_path / "copy.png"
    copy.write_bytes(image.read_bytes())
    with Scanner(detector, store) as scanner:
        results = scanner.scan([ScanRequest(path=str(image)), ScanRequest(path=str(copy), source="watched")])
    assert detector.calls == [4]  # one image of 2x2 crops, scored once
    assert [r.path for r in results] == [str(image), str(copy)]
    assert results[1].source == "watched" and results[1].probability == results[0].probability
    # A new scanner on the same store (a new run of the app) serves it from the cache.
    detector.calls.clear()
    with Scanner(detector, Store(tmp_path / "store.db")) as scanner:
        [again] = scanner.scan([ScanRequest(path=str(image))])
    assert detector.calls == [] and again.cached and again.probability == results[0].probability
    # A result cached before the engine changed how it scores (an older scoring revision) is scored again.
    stale = again.to_dict()
    stale.pop("scoring_revision")  # as stored before revisions were kept
    with sqlite3.connect(tmp_path / "store.db") as db:
        db.execute("UPDATE results SET data=?", (json.dumps(stale),))
    with Scanner(detector, Store(tmp_path / "store.db")) as scanner:
        [rescored] = scanner.scan([ScanRequest(path=str(image))])
    assert detector.calls == [4] and not rescored.cached and rescored.probability == results[0].probability
    assert Store(tmp_path / "store.db").get(rescored.sha256, detector.metadata.model_id) is not None  # replaced


def test_a_model_calibrated_again_under_the_same_version_scores_again(tmp_path):
    """Version 13 was exported twice as "13+cascade", its thresholds moved from 0.995 to 0.960 in between:
    the store served the first file's verdicts to the second."""
    from engine.contract import Thresholds

    image = solid_image(tmp_path / "bright.png", 190)  # logit 8 * (190 / 255 - 0.5) = 1.96: probability 0.88
    strict = CountingDetector(brightness_model(tmp_path / "strict.onnx", thresholds=Thresholds(0.95, 0.3, 0.01)))
    lenient = CountingDetector(brightness_model(tmp_path / "lenient.onnx", thresholds=Thresholds(0.85, 0.3, 0.01)))
    assert strict.metadata.model_id == lenient.metadata.model_id  # the same name and version
    with Scanner(strict, Store(tmp_path / "store.db")) as scanner:
        [first] = scanner.scan([ScanRequest(path=str(image))])
    assert first.verdict == UNCERTAIN and first.model_fingerprint == strict.metadata.verdict_fingerprint
    with Scanner(lenient, Store(tmp_path / "store.db")) as scanner:
        [second] = scanner.scan([ScanRequest(path=str(image))])
    assert not second.cached and lenient.calls and second.verdict == LIKELY_AI
    with Scanner(lenient, Store(tmp_path / "store.db")) as scanner:  # the row was replaced: served again
        [third] = scanner.scan([ScanRequest(path=str(image))])
    assert third.cached and third.verdict == LIKELY_AI


@pytest.mark.parametrize("make,message", [
    (lambda d: (d / "empty.jpg").write_bytes(b"") or d / "empty.jpg", "empty"),
    (lambda d: (d / "noise.jpg").write_bytes(os.urandom(3000)) and d / "noise.jpg", "not an image"),
    (lambda d: (d / "folder.jpg").mkdir() or d / "folder.jpg", "folder"),
    (lambda d: d / "missing.png", "does not exist"),
])
def test_bad_inputs_become_error_results(tmp_path, detector, make, message):
    path = make(tmp_path)
    with Scanner(detector, Store(tmp_path / "s.db")) as scanner:
        [result] = scanner.scan([ScanRequest(path=str(path))])
    assert not result.ok and result.verdict == "error" and message in result.error
    assert result.probability is None


def test_truncated_jpeg_is_an_error_result_and_the_scanner_keeps_going(tmp_path, detector, real_photo):
    whole = tmp_path / "whole.jpg"
    Image.fromarray(real_photo).save(whole, quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[:5000])
    with Scanner(detector) as scanner:
        bad, good = scanner.scan([ScanRequest(path=str(cut)), ScanRequest(path=str(whole))])
    assert bad.error == "the image data is truncated: the file ends before the picture does"
    assert good.ok


def test_unreadable_file_is_an_error_result(tmp_path, brightness_model_path):
    image = solid_image(tmp_path / "secret.png", 100)
    image.chmod(0)
    script = (
        "from engine.model import Detector\nfrom engine.scanner import Scanner, ScanRequest\n"
        f"with Scanner(Detector({str(brightness_model_path)!r})) as s:\n"
        f"    print(s.scan([ScanRequest(path={str(image)!r})])[0].error)\n"
    )
    command = [sys.executable, "-c", script]
    if os.geteuid() == 0:
        # Root reads anything: drop the capabilities that bypass file permissions.
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    output = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert "permission denied" in output.stdout, output.stderr


def test_cancel_stops_what_has_not_started(tmp_path, brightness_model_path):
    paths = [solid_image(tmp_path / f"{i}.png", i % 250, size=(64, 64)) for i in range(150)]
    first_result = threading.Event()
    scanner = Scanner(Detector(brightness_model_path), workers=1, batch_crops=4)
    job = scanner.submit([ScanRequest(path=str(p)) for p in paths], on_result=lambda r: first_result.set())
    assert first_result.wait(30)
    job.cancel()
    assert job.wait(30)
    assert job.done == 150  # every request is accounted for
    assert 0 < len(job.results) < 150
    scanner.close()


def test_close_mid_scan_reports_every_request_and_keeps_the_rest_pending(tmp_path, brightness_model_path):
    paths = [str(solid_image(tmp_path / f"{i}.png", i % 250, size=(64, 64))) for i in range(150)]
    store = Store(tmp_path / "s.db")
    first_result = threading.Event()
    scanner = Scanner(Detector(brightness_model_path), store, workers=1, batch_crops=4, pending=PendingWork(store))
    job = scanner.submit([ScanRequest(path=p) for p in paths], on_result=lambda r: first_result.set())
    assert first_result.wait(30)
    scanner.close()  # as a model switch does, with most of the requests still queued
    assert job.wait(30)  # a job that never finishes leaves the app "busy" until it restarts
    assert job.done == 150 and job.unscanned == 150 - len(job.results) > 0
    # Every unscanned one, also those in the middle of preparation, is resumed next time.
    assert {path for path, _source in store.pending()} == set(paths) - {r.path for r in job.results}


def resume(scanner: Scanner, pending: PendingWork) -> list[ScanJob]:
    """What the app does when a model is ready: the pending list's paths, expanded, queued by source."""
    jobs = []
    for source, paths in pending.take():
        for files in pending.expand(paths, source):
            jobs.append(scanner.submit([ScanRequest(path=f, source=source) for f in files]))
    return jobs


def test_pending_files_survive_and_resume(tmp_path, brightness_model_path):
    store = Store(tmp_path / "s.db")
    pending = PendingWork(store)
    paths = [str(solid_image(tmp_path / f"{i}.png", 30 + i)) for i in range(5)]
    pending.add((p, "watched") for p in paths)  # as a crashed run would have left them
    with Scanner(Detector(brightness_model_path), store, pending=pending) as scanner:
        [job] = resume(scanner, pending)
        assert job.wait(30)
    assert sorted(r.path for r in job.results) == sorted(paths)
    assert {r.source for r in job.results} == {"watched"}
    assert store.pending() == [] and store.count() == 5


def test_scan_bytes_for_the_bridge(tmp_path, detector):
    data = solid_image(tmp_path / "x.png", 230).read_bytes()
    store = Store(tmp_path / "s.db")
    with Scanner(detector, store) as scanner:
        result = scanner.scan_bytes(data, source="browser", page_url="http://127.0.0.1/page",
                                    image_url="http://127.0.0.1/x.png")
    assert result.verdict == LIKELY_AI and result.source == "browser"
    stored = store.find(result.sha256)
    assert stored.page_url == "http://127.0.0.1/page" and stored.source == "browser"


def test_store_survives_two_processes_writing_at_once(tmp_path):
    script = (
        "import sys, time\nfrom engine.store import Store\nfrom engine.result import Result\n"
        "store = Store(sys.argv[1])\n"
        "for i in range(150):\n"
        "    store.put(Result(sha256=f'{sys.argv[2]}-{i}', verdict='likely_real', probability=0.1, "
        "scanned_at=time.time()), 'm@1')\n"
    )
    path = tmp_path / "shared.db"  # not created beforehand: the writers race to create it and switch it to WAL
    writers = [subprocess.Popen([sys.executable, "-c", script, str(path), name]) for name in ("a", "b", "c")]
    assert [w.wait(120) for w in writers] == [0, 0, 0]
    store = Store(path)
    assert store.count() == 450
    assert store.get("a-149", "m@1").probability == 0.1
    assert len(store.history(limit=10)) == 10


def test_a_pending_folder_resumes_as_its_image_files(tmp_path, brightness_model_path):
    folder = tmp_path / "dropped"
    folder.mkdir()
    images = sorted(str(solid_image(folder / f"{i}.png", 60 + i)) for i in range(3))
    (folder / "readme.txt").write_text("not an image")
    store = Store(tmp_path / "s.db")
    pending = PendingWork(store)
    pending.add([(str(folder), "dropped")])  # the app queued the folder whole, then died
    with Scanner(Detector(brightness_model_path), store, pending=pending) as scanner:
        [job] = resume(scanner, pending)
        assert job.wait(30)
    assert sorted(r.path for r in job.results) == images
    assert all(r.ok and r.source == "dropped" for r in job.results)
    assert store.pending() == []


def test_store_path_can_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHSPOT_STORE", str(tmp_path / "elsewhere.db"))
    assert Store().path == tmp_path / "elsewhere.db"


def test_failed_scans_stay_in_the_history_until_the_file_reads_fine(tmp_path, detector):
    store = Store(tmp_path / "s.db")
    path = tmp_path / "download.jpg"
    path.write_text("<html>an error page saved under an image name</html>")
    with Scanner(detector, store) as scanner:
        [failed] = scanner.scan([ScanRequest(path=str(path))])
        assert not failed.ok
        [stored] = store.history()
        assert (stored.path, stored.error) == (str(path), failed.error)
        assert store.get(failed.sha256, detector.metadata.model_id) is None  # never served from the cache
        solid_image(path, 200, fmt="JPEG")  # the download finished after all
        [fine] = scanner.scan([ScanRequest(path=str(path))])
    assert fine.ok
    assert [(r.path, r.ok) for r in store.history()] == [(str(path), True)]
    assert store.history(model_id=detector.metadata.model_id)[0].ok


def test_a_spread_of_crop_scores_within_one_band_side_does_not_make_an_image_uncertain():
    from engine.contract import Thresholds
    from engine.result import decide_verdict

    thresholds = Thresholds(likely_ai=0.75, likely_real=0.49, fpr=0.01)
    # Seen with the scale-trained model on an upsampled crop: scores 52%-100%, image 99%.
    band, reasons = decide_verdict(0.99, thresholds, np.array([0.52, 0.9, 1.0, 1.0]), 368, 368, 96, None)
    assert (band, reasons) == (LIKELY_AI, [])
    band, reasons = decide_verdict(0.05, thresholds, np.array([0.0, 0.01, 0.3, 0.67]), 368, 368, 96, None)
    assert (band, reasons) == (LIKELY_REAL, [])
    # Seen with version 5 on a test inpaint: the image 97%, untouched parts 13%: edited in places.
    band, reasons = decide_verdict(0.97, thresholds, np.array([1.0, 0.99, 0.92, 0.13, 0.65]), 368, 368, 96, None)
    assert (band, reasons) == (LIKELY_AI, [])
    # Crops on both sides of the bands still disagree.
    band, reasons = decide_verdict(0.3, thresholds, np.array([0.0, 0.9]), 368, 368, 96, None)
    assert band == UNCERTAIN and any("disagree" in r for r in reasons)


def test_the_uncertain_reason_never_shows_a_score_equal_to_the_band_it_misses():
    from engine.contract import Thresholds
    from engine.result import decide_verdict

    # Seen with version 11 on a test inpaint: 85.9% against likely AI at 86.1% read "86% ... ≥ 86%".
    thresholds = Thresholds(likely_ai=0.861, likely_real=0.551, fpr=0.01)
    band, reasons = decide_verdict(0.8586, thresholds, np.array([0.8, 0.9]), 368, 368, 96, None)
    assert band == UNCERTAIN
    assert reasons == ["the score 85.9% lies between the model's bands (likely real ≤ 55.1%, likely AI ≥ 86.1%)"]
    band, reasons = decide_verdict(0.7, thresholds, np.array([0.7]), 368, 368, 96, None)
    assert reasons == ["the score 70% lies between the model's bands (likely real ≤ 55%, likely AI ≥ 86%)"]


def test_a_folder_stays_pending_until_all_its_files_are_queued_and_an_interruption_keeps_all(tmp_path):
    folder = tmp_path / "dropped"
    folder.mkdir()
    for i in range(5):
        solid_image(folder / f"{i}.png", 60 + i)
    store = Store(tmp_path / "s.db")
    pending = PendingWork(store)
    chunks = pending.expand([str(folder)], "dropped", chunk=2)
    assert len(next(chunks)) == 2 and store.pending() == [(str(folder), "dropped")]
    assert [len(c) for c in chunks] == [2, 1]
    assert store.pending() == []  # every file yielded: the folder has been queued whole
    lone = str(solid_image(tmp_path / "lone.png", 90))
    list(pending.expand([str(folder), lone], "dropped", chunk=2, interrupted=lambda: True))
    # The app shutting down under it: all of it resumes at the next start.
    assert pending.take() == [("dropped", [str(folder), lone])]
    list(pending.expand([str(folder), lone], "dropped", chunk=2, cancelled=lambda: True))
    assert store.pending() == []  # cancelled by the person: not resumed
    assert [len(c) for c in pending.expand([lone], "cli")] == [1]
    assert pending.take() == [("cli", [lone])]  # a file leaves with its outcome, from whoever scans it


def test_a_request_carrying_the_sha256_of_known_bytes_is_answered_without_reading_the_file(tmp_path, detector):
    store = Store(tmp_path / "s.db")
    original = solid_image(tmp_path / "a.png", 240)
    with Scanner(detector, store) as scanner:
        [first] = scanner.scan([ScanRequest(path=str(original))])
        copy = tmp_path / "copy.png"
        copy.write_bytes(original.read_bytes())
        copy.chmod(0)  # reading it would fail (also as root: the scanner is never asked to read it)
        calls = len(detector.calls)
        [known] = scanner.scan([ScanRequest(path=str(copy), source="watched", sha256=first.sha256)])
        # A file that changed after it was hashed (to bytes the store does not know) is scanned as what it
        # holds now, under its own hash. (One that changed after it was handed over is noticed and handed over
        # again by the watcher.)
        changed = solid_image(tmp_path / "changed.png", 250)
        hashed = hashlib.sha256(changed.read_bytes()).hexdigest()
        solid_image(changed, 20)
        [rescanned] = scanner.scan([ScanRequest(path=str(changed), source="watched", sha256=hashed)])
    assert known.ok and known.cached and known.path == str(copy) and known.verdict == first.verdict
    assert len(detector.calls) == calls + 1  # only the changed file reached the model
    assert rescanned.ok and not rescanned.cached and rescanned.sha256 != first.sha256
    assert rescanned.verdict == LIKELY_REAL


def test_a_model_that_answers_nan_gives_an_error_row_not_a_verdict(tmp_path):
    import json

    broken = Detector(brightness_model(tmp_path / "nan.onnx", gain=float("nan")), provider="cpu")
    with Scanner(broken) as scanner:
        (result,) = scanner.scan([ScanRequest(path=str(solid_image(tmp_path / "a.png", 200)))])
    assert not result.ok and result.probability is None
    assert result.error == "the model gave no usable score for this image (its output is not a number)"
    # Strict JSON: the extension's parser refuses a bare NaN.
    json.loads(result.to_json(), parse_constant=lambda name: pytest.fail(f"bare {name} in the JSON"))


def test_a_palette_image_and_an_animation_say_what_limits_their_score(tmp_path, detector):
    bright = Image.open(solid_image(tmp_path / "plain.png", 250))
    bright.convert("P").save(tmp_path / "palette.png")
    bright.save(tmp_path / "moving.webp", save_all=True, append_images=[Image.new("RGB", (64, 48), (10, 10, 10))],
                lossless=True)
    with Scanner(detector) as scanner:
        plain, palette, moving = scanner.scan([ScanRequest(path=str(tmp_path / n))
                                                for n in ("plain.png", "palette.png", "moving.webp")])
    assert plain.verdict == LIKELY_AI and not plain.reasons
    assert palette.verdict == UNCERTAIN and any("few colours" in r for r in palette.reasons)
    assert moving.verdict == UNCERTAIN and any("only its first frame or page" in r for r in moving.reasons)
    assert moving.probability == pytest.approx(plain.probability, abs=1e-3)  # the first frame, the bright one


def test_a_flat_colour_is_uncertain_whatever_its_score_and_a_smooth_gradient_is_judged(tmp_path, detector):
    # The brightness model would call the white image "likely AI" and the black one "likely real";
    # with no fine detail at all there is nothing to judge, so neither verdict may stand. A sky's gentle
    # gradient has detail enough (the model ranks smooth images about as well as any).
    ramp = np.tile(np.linspace(100, 140, 256), (48, 1))
    Image.fromarray(np.stack([ramp, ramp / 2, 255 - ramp], axis=2).astype(np.uint8)).save(tmp_path / "ramp.png")
    Image.new("RGB", (64, 48), (255, 255, 255)).save(tmp_path / "white.png")
    Image.new("RGB", (64, 48), (0, 0, 0)).save(tmp_path / "black.jpg", quality=95)
    names = ("white.png", "black.jpg", "ramp.png", "checked.png")
    solid_image(tmp_path / "checked.png", 250)
    with Scanner(detector) as scanner:
        white, black, ramp_result, checked = scanner.scan([ScanRequest(path=str(tmp_path / n)) for n in names])
    for flat in (white, black):
        assert flat.ok and flat.verdict == UNCERTAIN
        assert any(reason.startswith("the image is a flat colour") for reason in flat.reasons)
    assert white.probability > 0.9 and black.probability < 0.1  # the score stays; only the verdict hedges
    assert ramp_result.ok and not any("flat colour" in reason for reason in ramp_result.reasons)
    assert checked.verdict == LIKELY_AI and not checked.reasons
