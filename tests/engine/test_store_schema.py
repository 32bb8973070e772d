"""The store's schema version and migrations, from a store as the unversioned code wrote it."""
import hashlib
import json
import sqlite3
import subprocess
import sys
import time

import pytest

from engine.result import CropScore, ProvenanceHint, Result
from engine.store import BASELINE, SCHEMA_VERSION, Store, StoreError

# The tables every existing results.sqlite3 holds (engine/store.py's SCHEMA until versions were recorded, kept
# there unchanged as BASELINE), written below as that code wrote them (positional inserts, whole blobs).
BASELINE_SHA256 = "2005d27543804a825296e9ddebd9e87e8e0087d75b85779dbd2e21181643a817"


def test_the_baseline_is_the_schema_that_shipped():
    assert hashlib.sha256(BASELINE.encode()).hexdigest() == BASELINE_SHA256  # change the schema by a migration


HEATMAP = [[0.1, 0.9, None], [0.2, 0.8, 0.5]]


def scanned(sha: str, path: str, scanned_at: float, probability: float = 0.93) -> Result:
    return Result(sha256=sha, source="watched", path=path, width=96, height=64, format="PNG",
                  probability=probability, verdict="likely_ai", reasons=[],
                  crops=[CropScore(0, 0, 32, 0.9), CropScore(0, 32, 32, 0.95)],
                  expert_weights={"upsample": 0.7, "reconstruct": 0.3}, artifact_map=HEATMAP,
                  provenance=[ProvenanceHint("exif_software", "EXIF: Some Editor", "Software tag")],
                  model_name="brightness", model_version="1", provider="cpu", timings_ms={"total": 12.5},
                  scanned_at=scanned_at, file_size=1234)


def unversioned_store(path, results, failed, pending, sightings):
    """A store exactly as the code before versions wrote it: its schema, its positional inserts."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(BASELINE)
    for result in results:
        payload = result.to_dict()
        payload["cached"] = False
        db.execute("INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?)",
                   (result.sha256, "brightness@1", result.path, result.source, result.verdict, result.probability,
                    result.scanned_at, json.dumps(payload)))
    for result in failed:
        db.execute("INSERT OR REPLACE INTO errors VALUES (?,?,?,?,?)",
                   (result.path, result.sha256, result.source, result.scanned_at, json.dumps(result.to_dict())))
    db.executemany("INSERT OR IGNORE INTO pending VALUES (?,?,?)", pending)
    db.executemany("INSERT OR REPLACE INTO sightings VALUES (?,?,?,?)", sightings)
    db.commit()
    assert db.execute("PRAGMA user_version").fetchone()[0] == 0
    db.close()


def columns(path, table: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return [tuple(row) for row in db.execute(f"PRAGMA table_info({table})")]
    finally:
        db.close()


def user_version(path) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()


@pytest.fixture
def old_store(tmp_path):
    path = tmp_path / "results.sqlite3"
    photos = [scanned(f"{i:064x}", f"/photos/{i}.png", 1000.0 + i) for i in range(3)]
    broken = Result(sha256="f" * 64, source="watched", path="/photos/broken.png", error="not an image",
                    scanned_at=2000.0)
    unversioned_store(path, photos, [broken], pending=[("/photos/later.png", "watched", 1500.0)],
                      sightings=[(photos[0].sha256, "/downloads/copy.png", "browser", 1600.0)])
    return path, photos, broken


def test_a_store_from_before_versions_is_migrated_and_keeps_everything(old_store):
    path, photos, broken = old_store
    store = Store(path)
    assert user_version(path) == SCHEMA_VERSION == 4
    # The cache answers as before, whole.
    cached = store.get(photos[1].sha256, "brightness@1")
    assert cached.artifact_map == HEATMAP and [c.probability for c in cached.crops] == [0.9, 0.95]
    # The history: newest first, the failed scan included, as summaries without crops or heatmap...
    history = store.history()
    # (the first photo's bytes were also seen in the browser, saved as a copy: a row of their own)
    assert [r.path for r in history] == ["/photos/broken.png", "/downloads/copy.png", "/photos/2.png",
                                         "/photos/1.png", "/photos/0.png"]
    assert history[0].error == "not an image" and history[1].source == "browser"
    assert history[1].sha256 == history[4].sha256 and history[4].source != "browser"
    summary = history[2]
    assert summary.artifact_map is None and summary.crops == []
    assert (summary.verdict, summary.probability, summary.expert_weights, summary.provenance[0].label,
            summary.file_size, summary.timings_ms) == ("likely_ai", 0.93, {"upsample": 0.7, "reconstruct": 0.3},
                                                       "EXIF: Some Editor", 1234, {"total": 12.5})
    # ...whose details come back on demand.
    details = store.details(summary)
    assert details.artifact_map == HEATMAP and len(details.crops) == 2 and details.sha256 == summary.sha256
    assert store.details(history[0]) is history[0]  # a failed scan is stored whole
    # Pending work and sightings survive.
    assert store.pending() == [("/photos/later.png", "watched")]
    assert store.newest_at("/downloads/copy.png") == photos[0].sha256
    # And the migrated store takes new results.
    store.put(scanned("e" * 64, "/photos/new.png", 3000.0), "brightness@1")
    assert store.history(limit=1)[0].path == "/photos/new.png" and store.count() == 4


def test_a_new_store_and_a_migrated_one_have_the_same_schema(old_store, tmp_path):
    migrated, _, _ = old_store
    Store(migrated)
    fresh = tmp_path / "fresh.sqlite3"
    Store(fresh)
    assert user_version(fresh) == user_version(migrated) == SCHEMA_VERSION
    for table in ("results", "sightings", "pending", "errors", "claims"):
        assert columns(fresh, table) == columns(migrated, table), table


def test_opening_again_does_not_migrate_again(old_store):
    path, _, _ = old_store
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE results SET summary='{\"sha256\": \"kept\"}' WHERE path='/photos/0.png'")
    db.commit()
    db.close()
    assert "kept" in {r.sha256 for r in Store(path).history()}  # a second migration would have rewritten it


def test_processes_opening_an_old_store_at_once_migrate_it_once(old_store):
    path, _, _ = old_store
    code = "import sys; from engine.store import Store; print(len(Store(sys.argv[1]).history()))"
    runs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(3)]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], [err for _, err in outputs]
    assert [out.strip() for out, _ in outputs] == ["5", "5", "5"]  # 3 photos, a copy of one, a failure
    assert user_version(path) == SCHEMA_VERSION


def test_a_store_from_a_newer_synthspot_is_refused_untouched(tmp_path):
    path = tmp_path / "results.sqlite3"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer SynthSpot") as refused:
        Store(path)
    assert not refused.value.corrupt  # not to be moved aside: the newer version reads it
    assert user_version(path) == SCHEMA_VERSION + 1


def test_history_reads_summaries_not_heatmaps(tmp_path):
    store = Store(tmp_path / "s.db")
    store.put(scanned("a" * 64, "/p/a.png", 1.0), "brightness@1")
    db = sqlite3.connect(tmp_path / "s.db")
    db.execute("UPDATE results SET data='not json at all'")  # history must not even read the full blob
    db.commit()
    db.close()
    [row] = store.history()
    assert row.verdict == "likely_ai" and row.artifact_map is None


def test_a_blob_sqlite_does_not_take_for_json_is_summarised_too(tmp_path):
    path = tmp_path / "results.sqlite3"
    odd = scanned("c" * 64, "/photos/odd.png", 1.0)
    odd.timings_ms = {"total": float("nan")}  # Python writes NaN, which is not JSON to SQLite
    unversioned_store(path, [odd, scanned("d" * 64, "/photos/plain.png", 2.0)], [], [], [])
    history = Store(path).history()
    assert [(r.path, r.artifact_map, r.crops) for r in history] == [("/photos/plain.png", None, []),
                                                                     ("/photos/odd.png", None, [])]


def test_opening_a_current_store_takes_no_write_lock(tmp_path):
    path = tmp_path / "results.sqlite3"
    Store(path).put(scanned("b" * 64, "/photos/b.png", 1.0), "brightness@1")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    try:
        started = time.monotonic()
        assert [r.path for r in Store(path).history()] == ["/photos/b.png"]
        assert time.monotonic() - started < 10  # a migration check that locked would wait the 30 s busy timeout
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_deleting_history_rows_looks_them_up_by_index_not_by_scanning_the_tables(old_store):
    """Each deleted row is looked up by path in results and sightings and by bytes in errors: without
    indexes every deletion read whole tables (1,000 rows of a 100,000-row store took two minutes)."""
    path, _, _ = old_store
    Store(path).close()
    db = sqlite3.connect(path)
    try:
        for table, column in (("results", "path"), ("sightings", "path"), ("errors", "sha256"),
                              ("results", "sha256"), ("sightings", "sha256"), ("errors", "path")):
            plan = " ".join(str(row[-1]) for row in db.execute(f"EXPLAIN QUERY PLAN DELETE FROM {table} WHERE {column}=?",
                                                                ("x",)))
            assert "USING" in plan and "SCAN" not in plan, (table, column, plan)
    finally:
        db.close()


def test_the_same_photo_in_two_folders_stays_two_rows_after_a_restart(tmp_path, brightness_model_path):
    """A copy's scan is the cache's answer for its bytes, stored as a sighting: the history kept one row per
    bytes, so after a restart one of the two files scanned had gone from the list (a review)."""
    from engine.model import Detector
    from engine.scanner import Scanner, ScanRequest
    from tests.conftest import solid_image

    for folder in ("Pictures", "Downloads"):
        (tmp_path / folder).mkdir()
    original = solid_image(tmp_path / "Pictures" / "cat.png", 200)
    copy = tmp_path / "Downloads" / "cat (1).png"
    copy.write_bytes(original.read_bytes())
    other = solid_image(tmp_path / "Pictures" / "dog.png", 40)
    store = Store(tmp_path / "results.sqlite3")
    with Scanner(Detector(brightness_model_path), store) as scanner:
        job = scanner.submit([ScanRequest(path=str(p), source="dropped") for p in (original, copy, other)])
        assert job.wait(60) and all(r.ok for r in job.results)
    store.close()

    again = Store(tmp_path / "results.sqlite3")
    history = again.history()
    assert sorted(r.path for r in history) == sorted(map(str, (original, copy, other)))
    assert again.history_count() == 3 and len(again.history(limit=2)) == 2
    cats = [r for r in history if r.path in (str(original), str(copy))]
    scanned_cat = next(r for r in job.results if r.path == str(original))
    assert len({r.sha256 for r in cats}) == 1 and {r.verdict for r in cats} == {scanned_cat.verdict}
    assert again.count() == 2  # the cache still holds each bytes once
    copy_row = next(r for r in history if r.path == str(copy))
    whole = again.details(copy_row)  # heatmap and crops, for the detail pane or an export: still the copy's
    assert whole.path == str(copy) and whole.crops


def _seen(sha: str, path: str, at: float, model: str = "1", verdict: str = "likely_ai", source: str = "watched",
          page: str = "") -> Result:
    return Result(sha256=sha, source=source, path=path, verdict=verdict, probability=0.9, model_name="m",
                  model_version=model, scanned_at=at, page_url=page, image_url=page and page + "cat.png")


def test_history_rows_are_one_per_place_with_the_newest_verdict_and_the_file_there_now(tmp_path, monkeypatch):
    """A review's cases: a copy scanned under two models is one row with the newer verdict (it was one row
    per model, the older one shown); a path whose file changed back shows the bytes it holds now; a copy
    of a browser image carries no page address and says the cache answered it."""
    import engine.store as store_module

    clock = [0.0]
    monkeypatch.setattr(store_module.time, "time", lambda: clock[0])

    def sight(store, result, path, at):
        clock[0] = at
        store.record_sighting(Result(**{**result.__dict__, "path": path}))

    def put(store, result, model_id):
        clock[0] = result.scanned_at  # its sighting where it was scanned, at that time
        store.put(result, model_id)

    store = Store(tmp_path / "models.sqlite3")
    put(store, _seen("X", "/a/cat.png", 100), "m@1")
    sight(store, _seen("X", "/a/cat.png", 100), "/b/cat.png", 200)
    put(store, _seen("X", "/a/cat.png", 300, model="2", verdict="likely_real"), "m@2")
    sight(store, _seen("X", "/a/cat.png", 300), "/b/cat.png", 400)
    assert [(r.path, r.model_version, r.verdict) for r in store.history()] == [
        ("/b/cat.png", "2", "likely_real"), ("/a/cat.png", "2", "likely_real")]
    assert store.history_count() == 2
    assert [(r.path, r.model_version) for r in store.history(model_id="m@1")] == [("/b/cat.png", "1"), ("/a/cat.png", "1")]

    store = Store(tmp_path / "changed.sqlite3")
    put(store, _seen("Y", "/dl/image.png", 200), "m@1")
    put(store, _seen("X", "/o/x.png", 150), "m@1")
    sight(store, _seen("X", "/o/x.png", 150), "/dl/image.png", 300)  # the file held X for a while...
    sight(store, _seen("Y", "/dl/image.png", 200), "/dl/image.png", 400)  # ...and Y again now
    assert [(r.path, r.sha256) for r in store.history()] == [("/dl/image.png", "Y"), ("/o/x.png", "X")]
    assert store.history_count() == 2

    store = Store(tmp_path / "browser.sqlite3")
    put(store, _seen("X", "", 100, source="browser", page="https://x.example/"), "m@1")
    sight(store, _seen("X", "", 100), "/dl/cat.png", 200)
    copy, original = store.history()
    assert (copy.path, copy.source, copy.page_url, copy.image_url, copy.cached) == ("/dl/cat.png", "watched", "", "", True)
    assert (original.path, original.page_url) == ("", "https://x.example/")
    assert store.details(copy).page_url == "" and store.details(copy).path == "/dl/cat.png"
