"""File names are bytes on Linux: names that are not valid UTF-8 are scanned, stored and printed without loss."""
import base64
import csv
import io
import json
import os
import subprocess
import sys

import pytest

from engine.paths import display_path, from_b64
from engine.result import Result, to_csv
from engine.scanner import Scanner, ScanRequest
from engine.store import Store
from engine.model import Detector
from tests.conftest import solid_image

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="only Linux file names can be arbitrary bytes")

LATIN1 = b"caf\xe9.png"  # "café" written by a Latin-1 system: not valid UTF-8
JUNK = b"copy\xff\xfe.png"


def bytes_name(folder, raw: bytes) -> str:
    return os.path.join(str(folder), os.fsdecode(raw))


def test_same_bytes_under_undecodable_names_never_hang(tmp_path, brightness_model_path):
    """The second name of the same bytes records a sighting; that once raised and the scan waited forever."""
    first = solid_image(bytes_name(tmp_path, LATIN1), 200)
    second = bytes_name(tmp_path, JUNK)
    with open(first, "rb") as a, open(second, "wb") as b:
        b.write(a.read())
    plain = str(solid_image(tmp_path / "plain.png", 40))
    store = Store(tmp_path / "s.db")
    with Scanner(Detector(brightness_model_path), store) as scanner:
        job = scanner.submit([ScanRequest(path=p) for p in (first, second, plain, second)])
        assert job.wait(60), "the scan hung"
    assert len(job.results) == 4 and all(r.ok for r in job.results), [r.error for r in job.results]
    assert {r.path for r in job.results} == {first, second, plain}
    # Stored and read back as the very same names.
    assert {r.path for r in Store(tmp_path / "s.db").history()} <= {first, second, plain}


def test_an_undecodable_name_never_fails_its_batch_mates(tmp_path, brightness_model_path):
    paths = []
    for i in range(12):
        raw = b"bad-%d-\xe9.png" % i if i % 3 == 0 else b"good-%d.png" % i
        paths.append(str(solid_image(bytes_name(tmp_path, raw), 20 + 15 * i, size=(32, 32))))
    store = Store(tmp_path / "s.db")
    with Scanner(Detector(brightness_model_path), store, workers=2, batch_crops=64) as scanner:
        job = scanner.submit([ScanRequest(path=p) for p in paths])
        assert job.wait(60)
    assert sorted(r.path for r in job.results) == sorted(paths)
    assert all(r.ok for r in job.results), [r.error for r in job.results if not r.ok]
    assert store.count() == 12


def test_pending_names_round_trip(tmp_path):
    store = Store(tmp_path / "s.db")
    name = bytes_name(tmp_path, LATIN1)
    store.add_pending([(name, "watched"), ("/plain/name.png", "cli")])
    assert store.pending() == [(name, "watched"), ("/plain/name.png", "cli")]
    store.remove_pending(name)
    assert store.pending() == [("/plain/name.png", "cli")]


def test_json_and_csv_are_valid_text_and_still_exact(tmp_path):
    name = bytes_name(tmp_path, LATIN1)
    result = Result(sha256="0" * 64, path=name)
    record = json.loads(result.to_json())
    assert record["path"].endswith("caf\\xe9.png")  # readable, and valid text for any JSON parser
    assert from_b64(record["path_bytes"]) == name and base64.b64decode(record["path_bytes"]).endswith(LATIN1)
    [row] = csv.DictReader(io.StringIO(to_csv([result])))
    assert row["path"] == display_path(name) and from_b64(row["path_bytes"]) == name
    plain = json.loads(Result(sha256="0" * 64, path="/tmp/ünïcode.png").to_json())
    assert plain["path"] == "/tmp/ünïcode.png" and "path_bytes" not in plain


def test_csv_cells_a_spreadsheet_would_run_as_formulas_stay_text():
    """`synthspot scan --csv .` run where a file is named "=1+2.jpg" or "@SUM(A1).jpg" (or a page's text says
    "=HYPERLINK(...)"): the cell was a bare formula."""
    results = [Result(sha256="0" * 64, path=name, error="-bad", provenance=[])
               for name in ("=1+2.jpg", "@SUM(A1).jpg", "+x.png", "-x.png", "plain.jpg")]
    rows = list(csv.DictReader(io.StringIO(to_csv(results))))
    assert [row["path"] for row in rows] == ["'=1+2.jpg", "'@SUM(A1).jpg", "'+x.png", "'-x.png", "plain.jpg"]
    assert [from_b64(row["path_bytes"]) if row["path_bytes"] else row["path"] for row in rows] == [
        "=1+2.jpg", "@SUM(A1).jpg", "+x.png", "-x.png", "plain.jpg"]  # the exact name is still there
    assert {row["error"] for row in rows} == {"'-bad"}


def test_display_form_escapes_what_would_rewrite_a_terminal():
    assert display_path(os.fsdecode(b"a\nb\x1b[2J\xff.png")) == "a\\x0ab\\x1b[2J\\xff.png"
    # A line separator moved the table's columns; a zero-width space hid inside a name. Emoji keep their joiners.
    assert display_path("a\u2028b\u200bc.png") == "a\\u2028b\\u200bc.png"
    assert display_path("family \U0001f468\u200d\U0001f469.png") == "family \U0001f468\u200d\U0001f469.png"


def test_csv_escapes_terminal_codes_in_metadata_and_page_addresses():
    """A crafted image's EXIF Software, or a page's address, must not retitle or clear the terminal."""
    from engine.result import ProvenanceHint

    hint = ProvenanceHint("exif_software", "Software: \x1b]0;pwned\x07Midjourney\x1b[2J")
    result = Result(sha256="0" * 64, path="/tmp/a.png", provenance=[hint], error="bad\x1b[31m",
                    page_url="https://x.test/\x1b[2J")
    text = to_csv([result])
    assert "\x1b" not in text and "\x07" not in text
    [row] = csv.DictReader(io.StringIO(text))
    assert row["provenance"] == "Software: \\x1b]0;pwned\\x07Midjourney\\x1b[2J"


@pytest.mark.parametrize("mode", ["table", "--csv", "--json"])
def test_cli_prints_undecodable_names_with_a_strict_stdout(tmp_path, brightness_model_path, mode):
    folder = tmp_path / "images"
    folder.mkdir()
    solid_image(bytes_name(folder, LATIN1), 200)
    solid_image(folder / "plain.png", 30)
    args = [sys.executable, "-m", "engine.cli", "scan", str(folder), "--model", str(brightness_model_path),
            "--store", str(tmp_path / "s.db")] + ([] if mode == "table" else [mode])
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict", "LC_ALL": "C.UTF-8"}
    done = subprocess.run(args, capture_output=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"Traceback" not in done.stderr
    out = done.stdout.decode("utf-8")  # strictly valid UTF-8
    if mode == "--json":
        records = [json.loads(line) for line in out.splitlines()]
        exact = [from_b64(r["path_bytes"]) for r in records if "path_bytes" in r]
        assert exact == [bytes_name(folder, LATIN1)]
        assert all(r["error"] is None for r in records)
        out = "\n".join(r["path"] for r in records)
    assert "caf\\xe9.png" in out and "plain.png" in out
