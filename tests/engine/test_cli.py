import csv
import io
import json
import shlex
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from tests.conftest import solid_image


@pytest.fixture
def folder(tmp_path):
    images = tmp_path / "images"
    (images / "nested").mkdir(parents=True)
    solid_image(images / "bright.png", 240)
    solid_image(images / "nested" / "dark.jpg", 15, quality=95)
    solid_image(images / "nested" / "no_extension", 128, fmt="PNG")  # found by content
    (images / "notes.txt").write_text("not an image")  # skipped inside folders
    return images


def run_cli(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_table_output_and_exit_zero_even_when_fakes_are_found(folder, brightness_model_path, tmp_path, capsys):
    code, out, _ = run_cli(["scan", str(folder), "--model", str(brightness_model_path),
                            "--store", str(tmp_path / "s.db")], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["VERDICT", "SCORE", "SIZE"]
    body = "\n".join(lines[1:4])
    assert "Likely AI" in body and "Likely real" in body and "Uncertain" in body
    assert "notes.txt" not in out
    assert "3 scanned: 1 likely AI, 1 uncertain, 1 likely real" in out


def test_json_lines_output(folder, brightness_model_path, tmp_path, capsys):
    code, out, _ = run_cli(["scan", str(folder), "--json", "--model", str(brightness_model_path),
                            "--store", str(tmp_path / "s.db")], capsys)
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert {os.path.basename(r["path"]): r["verdict"] for r in records} == {
        "bright.png": "likely_ai", "dark.jpg": "likely_real", "no_extension": "uncertain"}
    assert all(len(r["sha256"]) == 64 and r["model_name"] == "test-brightness" for r in records)


@pytest.mark.parametrize("mode", [[], ["--json"], ["--csv"]])
def test_output_to_a_full_disk_is_said_in_one_line_not_a_traceback(folder, brightness_model_path, tmp_path, mode):
    with open("/dev/full", "w") as full:  # Linux's always-full device
        done = subprocess.run([sys.executable, "-m", "engine", "scan", str(folder), *mode, "--model",
                               str(brightness_model_path), "--store", str(tmp_path / "s.db")],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "synthspot: the results could not be written out (No space left on device)" in done.stderr


def test_csv_output_and_cache_across_runs(folder, brightness_model_path, tmp_path, capsys):
    args = ["scan", str(folder / "bright.png"), "--csv", "--model", str(brightness_model_path),
            "--store", str(tmp_path / "s.db")]
    assert run_cli(args, capsys)[0] == 0
    code, out, _ = run_cli(args, capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 1
    assert rows[0]["verdict"] == "likely_ai" and float(rows[0]["probability"]) > 0.9


def test_explicit_bad_file_is_reported_not_fatal(tmp_path, brightness_model_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff" + os.urandom(100))
    code, out, _ = run_cli(["scan", str(bad), "--no-cache", "--model", str(brightness_model_path)], capsys)
    assert code == 0
    assert "Error" in out and "bad.jpg" in out


@pytest.mark.parametrize("args,message", [
    (["scan"], "the following arguments are required"),
    (["scan", "/definitely/not/here.png"], "no such file or folder"),
    (["frobnicate"], "invalid choice"),
    (["scan", "{here}", "--model", "/no/model.onnx"], "model file not found: /no/model.onnx\n"),
    # The name `synthspot models` shows is not a file: say what --model takes.
    (["scan", "{here}", "--model", "synthspot-lite0"], "model file not found: synthspot-lite0 (a model is named by "
                                                        "its file's path, as `synthspot models` lists it)"),
    (["scan", "{here}", "--store", "{here}/s.db"], "is a file, not a folder"),
    (["scan", "{here}", "--model", "/dev/zero"], "not a model file (a folder, a device or a pipe): /dev/zero"),
    (["scan", "{here}", "--model", "{folder}"], "not a model file (a folder, a device or a pipe)"),
    (["scan", "{here}", "--provider", "tpu"], "invalid choice"),
    (["scan", "{here}", "--workers", "0"], "0 decoding threads: give 1 or more"),
    # An unknown option is told with the command's own usage line, not the top level's.
    (["scan", "{here}", "--bogus"], "usage: synthspot scan"),
    (["scan", "{here}", "--bogus"], "synthspot scan: error: unrecognized arguments: --bogus"),
    (["scan", "{here}", "--model", "{empty}"], "empty.onnx is not a loadable ONNX model: the file is empty"),
    (["scan", "{here}", "--workers", "many"], "not a number of threads"),
    # An option before the command: argparse called the option's value an invalid command.
    (["--model", "m.onnx", "scan", "{here}"], "options go after the command, as in: synthspot scan --model m.onnx"),
])
def test_usage_errors_exit_2(args, message, tmp_path, capsys):
    here = solid_image(tmp_path / "x.png", 100)
    (tmp_path / "empty.onnx").touch()  # a download that never started
    code, _, err = run_cli([a.replace("{here}", str(here)).replace("{folder}", str(tmp_path))
                            .replace("{empty}", str(tmp_path / "empty.onnx")) for a in args], capsys)
    assert code == 2
    assert message in err


def test_version_and_the_stores_default_are_told(capsys):
    import engine

    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and out.strip() == f"synthspot {engine.__version__}"
    code, out, _ = run_cli(["scan", "--help"], capsys)
    assert code == 0 and "$SYNTHSPOT_STORE" in " ".join(out.split())


@pytest.mark.parametrize("closed", ["2>&-", ">&-"])
def test_a_closed_stderr_or_stdout_does_not_crash_the_scan_or_mix_into_its_output(folder, brightness_model_path,
                                                                                  tmp_path, closed):
    """Under cron with a stream closed: the "skipped" note went into the JSON stream (stderr was None), or
    the scan died on None.flush(). With stdout closed the results cannot be printed: exit 1, said (it was 0,
    the results gone without a word)."""
    command = (f"{shlex.quote(sys.executable)} -m engine scan {shlex.quote(str(folder))} --json --model "
               f"{shlex.quote(str(brightness_model_path))} --store {shlex.quote(str(tmp_path / 's.db'))} {closed}")
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120)
    if closed == "2>&-":
        assert done.returncode == 0
        assert [json.loads(line)["verdict"] for line in done.stdout.splitlines()]  # every line is a result
    else:
        assert done.returncode == 1 and "standard output is closed" in done.stderr and "stored" in done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize("mode", [[], ["--json"]])
def test_notices_that_cannot_be_written_do_not_stop_the_scan(folder, brightness_model_path, tmp_path, mode):
    """stderr on a full log partition (``2>>scan.log``): the first notice (a path that is not there, a file
    skipped) raised, and the scan ended with nothing on stdout and exit 1. Notices are told if they can be."""
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "engine", "scan", str(tmp_path / "not-here.png"), str(folder),
                               *mode, "--model", str(brightness_model_path), "--store", str(tmp_path / "s.db")],
                              stdout=subprocess.PIPE, stderr=full, text=True, timeout=120)
    assert done.returncode == 0
    if mode:
        assert sorted(os.path.basename(json.loads(line)["path"]) for line in done.stdout.splitlines()) == [
            "bright.png", "dark.jpg", "no_extension"]
    else:
        assert "3 scanned: 1 likely AI, 1 uncertain, 1 likely real" in done.stdout


def test_a_name_under_a_file_is_missing_not_an_error_row(tmp_path, capsys, brightness_model_path):
    """`photo.jpg/x` was scanned as an unreadable file ("Not a directory"): an error row kept in the history,
    and exit 0 where nothing given existed. (A name too long for the system keeps its row, which says so.)"""
    import sqlite3

    there = solid_image(tmp_path / "there.png", 100)
    under = f"{there}/x.png"
    store = tmp_path / "s.db"
    code, out, err = run_cli(["scan", "--json", "--model", str(brightness_model_path), "--store", str(store), under],
                             capsys)
    assert code == 2 and out == "" and f"no such file or folder: {under}" in err
    code, out, err = run_cli(["scan", "--json", "--model", str(brightness_model_path), "--store", str(store), under,
                              str(there)], capsys)
    assert code == 0 and [Path(row["path"]).name for row in map(json.loads, out.splitlines())] == ["there.png"]
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT COUNT(*) FROM errors").fetchone()[0] == 0


def test_a_missing_file_among_others_does_not_end_the_batch(tmp_path, capsys, brightness_model_path):
    """`synthspot scan a.jpg gone.jpg` (an xargs batch with a file deleted meanwhile) scanned nothing, exit 2."""
    there = solid_image(tmp_path / "there.png", 100)
    gone = tmp_path / "gone.png"
    code, out, err = run_cli(["scan", "--json", "--no-cache", "--model", str(brightness_model_path), str(there),
                              str(gone)], capsys)
    assert code == 0 and f"no such file or folder: {gone} (not scanned; the others are)" in err
    assert [Path(row["path"]).name for row in map(json.loads, out.splitlines())] == ["there.png"]


def test_a_dash_for_standard_input_is_said_to_be_unsupported(tmp_path, capsys, brightness_model_path):
    code, _, err = run_cli(["scan", "--model", str(brightness_model_path), "-"], capsys)
    assert code == 2 and "standard input" in err and "not supported" in err


def test_no_model_installed_is_explained(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SYNTHSPOT_MODEL", raising=False)
    from engine import models
    monkeypatch.setattr(models, "DEFAULTS_FILE", tmp_path / "no-default.json")  # as an install without models
    code, _, err = run_cli(["scan", str(solid_image(tmp_path / "x.png", 100))], capsys)
    assert code == 2 and "no detector model is installed" in err


def test_a_model_named_by_the_environment_is_said_to_be_so(tmp_path, capsys, monkeypatch):
    """$SYNTHSPOT_MODEL naming a file gone: `scan` said "model file not found" without saying who named it, and
    `models` exited 0 with no default marked and no word."""
    monkeypatch.setenv("SYNTHSPOT_MODEL", str(tmp_path / "gone.onnx"))
    code, _, err = run_cli(["scan", str(solid_image(tmp_path / "x.png", 100))], capsys)
    assert code == 2 and "gone.onnx" in err and "$SYNTHSPOT_MODEL" in err
    code, out, _ = run_cli(["models"], capsys)
    assert code == 0 and "default model: $SYNTHSPOT_MODEL" in out and "no such file" in out
    code, _, err = run_cli(["scan", "--model", str(tmp_path / "typed.onnx"), str(tmp_path / "x.png")], capsys)
    assert code == 2 and "$SYNTHSPOT_MODEL" not in err  # a --model of its own is not the variable's


def test_models_lists_user_models(tmp_path, brightness_model_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    from engine.models import user_models_dir
    user_dir = user_models_dir()
    user_dir.mkdir(parents=True)
    (user_dir / "mine.onnx").write_bytes(brightness_model_path.read_bytes())
    (user_dir / "broken.onnx").write_bytes(b"junk")
    os.mkfifo(user_dir / "pipe.onnx")  # opening it would wait for a writer for ever
    code, out, _ = run_cli(["models"], capsys)
    assert code == 0
    assert "test-brightness 1 (fp32, crop 32px, mean, experts: reconstruction, upsampling)  [user]" in out
    assert ("broken.onnx  [user]  unusable: broken.onnx is not a loadable ONNX model: the file is not an ONNX model, "
            "or it is damaged or only partly downloaded") in out and "ONNXRuntimeError" not in out
    assert "pipe.onnx  [user]  unusable: not a model file (a folder, a device or a pipe)" in out
    assert "models would run on CPU" in out


def test_model_file_names_cannot_send_escape_codes_to_the_terminal(tmp_path, capsys, monkeypatch):
    """Image names were escaped; a model file's name was printed as it was, by `synthspot models` and in the
    errors that quote it (a file named with ESC [2J cleared the screen)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    from engine.models import user_models_dir
    user_dir = user_models_dir()
    user_dir.mkdir(parents=True)
    hostile = user_dir / "x\x1b[2Jclear.onnx"
    hostile.write_bytes(b"junk")
    code, out, _ = run_cli(["models"], capsys)
    assert code == 0 and "\x1b" not in out
    assert "x\\x1b[2Jclear.onnx  [user]  unusable: x\\x1b[2Jclear.onnx is not a loadable ONNX model" in out
    code, _, err = run_cli(["scan", str(tmp_path), "--model", str(hostile)], capsys)
    assert code == 2 and "\x1b" not in err and "x\\x1b[2Jclear.onnx is not a loadable ONNX model" in err


def test_the_model_list_to_a_full_disk_is_said_in_one_line(tmp_path):
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "engine", "models"], stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=120, env={**os.environ, "XDG_DATA_HOME": str(tmp_path)})
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr == "synthspot: the list could not be written out (No space left on device)\n"


def test_installed_entry_point_runs(folder, brightness_model_path, tmp_path):
    """The console script, as a user would run it."""
    script = os.path.join(os.path.dirname(sys.executable), "synthspot")
    output = subprocess.run([script, "scan", str(folder), "--json", "--no-cache", "--model", str(brightness_model_path)],
                            capture_output=True, text=True, timeout=120)
    assert output.returncode == 0, output.stderr
    assert len(output.stdout.splitlines()) == 3
    as_module = subprocess.run([sys.executable, "-m", "engine", "scan", str(folder), "--json", "--no-cache", "--model",
                                str(brightness_model_path)], capture_output=True, text=True, timeout=120)
    # `python -m engine`, where no script is on PATH
    assert as_module.returncode == 0 and len(as_module.stdout.splitlines()) == 3, as_module.stderr


def test_the_embedded_default_model_scans_with_no_set_up(capsys, monkeypatch):
    """The README's promise: after install, `synthspot scan` works on the embedded model."""
    monkeypatch.delenv("SYNTHSPOT_MODEL", raising=False)
    from engine import models
    samples = os.path.join(os.path.dirname(models.__file__), "..", "samples")
    code, out, err = run_cli(["scan", samples, "--json", "--no-cache"], capsys)
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) >= 4 and all(r["error"] is None for r in records)
    default = models.read_metadata(models.default_model_path("cpu"))
    assert {r["model_name"] for r in records} == {default.name}
    assert all(r["verdict"] in ("likely_ai", "uncertain", "likely_real") for r in records)


def test_one_long_path_does_not_push_every_row_s_notes_across_the_terminal():
    from engine.cli_output import MAX_FILE_COLUMN, format_table
    from engine.result import ERROR, LIKELY_REAL, Result

    long_path = "/photos/" + "a-very-long-folder-name/" * 10 + "holiday.jpg"
    results = [Result(sha256="", path=long_path, probability=0.1, verdict=LIKELY_REAL, width=10, height=10, format="JPEG"),
               Result(sha256="", path="/p/x.jpg", verdict=ERROR, error="the image data is truncated")]
    header, first, second = format_table(results).splitlines()
    assert header.index("NOTES") <= header.index("FILE") + MAX_FILE_COLUMN + 2
    assert second.index("the image data is truncated") == header.index("NOTES")  # short rows stay aligned
    assert long_path in first  # the long path is whole, overrunning its column


def test_the_table_counts_the_reasons_its_notes_column_has_no_room_for():
    """Only the first reason was shown: an animated palette GIF's "only its first frame was checked" hid."""
    from engine.cli_output import format_table
    from engine.result import UNCERTAIN, Result

    result = Result(sha256="", path="/p/a.gif", probability=0.5, verdict=UNCERTAIN, width=200, height=200,
                    format="GIF", reasons=["a palette image", "only its first frame or page was checked"])
    row = format_table([result]).splitlines()[1]
    assert "a palette image (+1 more: --json lists them)" in row


def test_wide_characters_in_names_keep_the_notes_column_aligned():
    from wcwidth import wcswidth

    from engine.cli_output import format_table
    from engine.result import ERROR, Result

    names = ["/p/猫の写真.jpg", "/p/🐱🐱.jpg", "/p/plain-name.jpg"]
    results = [Result(sha256="", path=name, verdict=ERROR, error="the file is empty") for name in names]
    header, *rows = format_table(results).splitlines()
    notes_column = wcswidth(header[:header.index("NOTES")])
    assert [wcswidth(row[:row.index("the file is empty")]) for row in rows] == [notes_column] * 3


def test_auto_takes_the_default_model_of_the_provider_it_resolves_to(tmp_path, monkeypatch):
    """Where default.json names another file for CUDA (an fp16 one), a machine without CUDA on "auto" gets
    the CPU's, in the app as in the CLI (the app used to ask for the CUDA entry whenever it was not "cpu")."""
    from engine import models
    from engine.model import available_providers

    for name in ("for-cpu.onnx", "for-cuda.onnx"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "default.json").write_text(json.dumps({"cpu": "for-cpu.onnx", "cuda": "for-cuda.onnx"}))
    monkeypatch.setattr(models, "DEFAULTS_FILE", tmp_path / "default.json")
    monkeypatch.setattr(models, "EMBEDDED_DIR", tmp_path)
    monkeypatch.delenv(models.MODEL_ENV, raising=False)
    expected = "for-cuda.onnx" if "cuda" in available_providers() else "for-cpu.onnx"
    assert models.resolve_model(None, "auto").name == expected
    assert models.resolve_model("", "cpu").name == "for-cpu.onnx"
    assert models.resolve_model(tmp_path / "mine.onnx", "auto") == tmp_path / "mine.onnx"
