"""Folder mode finds every image (BigTIFF, symlinked folders), never loops, and says what it skipped."""
import io
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.cli import main
from engine.files import expand_paths, sniff_image
from tests.conftest import nest_past_the_path_limit, solid_image


def bigtiff(path):
    Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(path, format="TIFF", big_tiff=True)
    return path


def test_bigtiff_is_sniffed_in_both_byte_orders(tmp_path):
    assert sniff_image(bigtiff(tmp_path / "b").read_bytes()[:32])
    assert sniff_image(b"MM\x00+\x00\x08\x00\x00" + bytes(24))
    assert [p.name for p in expand_paths([tmp_path])] == ["b"]


@pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32", reason="POSIX symlinks")
def test_symlinked_folders_are_followed_once_and_loops_end(tmp_path):
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    (root / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    solid_image(root / "a.png", 10)
    solid_image(root / "sub" / "b.png", 20)
    solid_image(elsewhere / "c.png", 30)
    (root / "linked").symlink_to(elsewhere, target_is_directory=True)
    (root / "sub" / "up").symlink_to(root, target_is_directory=True)  # a loop back to the top
    (root / "again").symlink_to(elsewhere, target_is_directory=True)  # the same folder a second time
    found = [p.relative_to(root).as_posix() for p in expand_paths([root])]
    assert found == ["a.png", "again/c.png", "sub/b.png"]


@pytest.mark.skipif(sys.platform != "linux", reason="PATH_MAX is Linux's 4096")
def test_paths_longer_than_path_max_are_reported(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    nest_past_the_path_limit(tmp_path, buffer.getvalue())
    skipped = []
    assert list(expand_paths([tmp_path], skipped=skipped)) == []
    assert skipped and all("longer than the system allows" in why for _, why in skipped)


def test_image_named_files_that_do_not_decode_are_errors_the_rest_is_counted(tmp_path, brightness_model_path,
                                                                              capsys):
    solid_image(tmp_path / "good.png", 200)
    (tmp_path / "broken.jpg").write_bytes(b"this was never a JPEG")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "._good.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # macOS side file: not an image
    code = main(["scan", str(tmp_path), "--model", str(brightness_model_path), "--no-cache"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "broken.jpg" in out and "not an image" in out  # an error row, not a silent skip
    assert "2 scanned" in out and "2 skipped (2 not an image)" in out
    assert "skipped " + str(tmp_path / "notes.txt") + ": not an image" in err


def test_a_file_named_twice_or_inside_a_folder_also_given_is_scanned_once(tmp_path):
    from engine.files import expand_paths

    nested = tmp_path / "nest" / "a"
    nested.mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(nested / "x.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "nest" / "y.png")
    found = list(expand_paths([tmp_path / "nest", nested, nested / "x.png", f"{tmp_path}/nest/./a/x.png"]))
    assert sorted(path.name for path in found) == ["x.png", "y.png"]


@pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32", reason="POSIX symlinks")
def test_a_self_looping_link_named_like_an_image_gets_its_error_row_and_others_are_listed(tmp_path):
    (tmp_path / "loop.jpg").symlink_to(tmp_path / "loop.jpg")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    skipped = []
    assert list(expand_paths([tmp_path], skipped=skipped)) == [tmp_path / "loop.jpg"]
    assert [Path(path).name for path, _ in skipped] == ["loop"]
    assert skipped[0][1] == "a symbolic link that loops"  # was the system's "Too many levels of symbolic links"


def test_without_recursion_the_sub_folders_passed_over_are_said(tmp_path):
    """`scan --no-recursive` said "0 scanned: nothing" for a folder whose images were one level down."""
    (tmp_path / "sub").mkdir()
    solid_image(tmp_path / "sub" / "a.png", 100)
    solid_image(tmp_path / "top.png", 100)
    skipped = []
    assert list(expand_paths([tmp_path], recursive=False, skipped=skipped)) == [tmp_path / "top.png"]
    assert skipped == [(str(tmp_path / "sub"), "a sub-folder, not searched (no recursion)")]
    skipped = []
    assert len(list(expand_paths([tmp_path], skipped=skipped))) == 2 and skipped == []


def test_a_broken_link_is_said_to_be_one_as_a_file_and_as_a_model(tmp_path, brightness_model_path, capsys):
    import json

    (tmp_path / "photo.jpg").symlink_to(tmp_path / "moved-away.jpg")
    (tmp_path / "model.onnx").symlink_to(tmp_path / "model.onnx")  # loops
    (tmp_path / "loop.jpg").symlink_to(tmp_path / "loop.jpg")
    assert main(["scan", str(tmp_path / "photo.jpg"), str(tmp_path / "loop.jpg"), "--json", "--no-cache", "--model",
                 str(brightness_model_path)]) == 0
    rows = {Path(row["path"]).name: row["error"] for row in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows == {"photo.jpg": "a broken link: the file it points to does not exist",
                    "loop.jpg": "a link that loops back on itself: there is no file to read"}  # not the system's words
    assert main(["scan", str(tmp_path / "photo.jpg"), "--model", str(tmp_path / "model.onnx")]) == 2
    assert f"a broken or looping link, not a model file: {tmp_path / 'model.onnx'}" in capsys.readouterr().err


def test_a_folder_with_no_image_is_said_to_hold_none(tmp_path, brightness_model_path, capsys):
    """An empty folder printed an empty table and "0 scanned: nothing", which reads like a scan that failed."""
    (tmp_path / "empty").mkdir()
    assert main(["scan", str(tmp_path / "empty"), "--no-cache", "--model", str(brightness_model_path)]) == 0
    assert capsys.readouterr().err == f"synthspot: no images found in {tmp_path / 'empty'} (sub-folders were searched too)\n"
