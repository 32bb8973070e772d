"""Where real photos come from: Debian packages and Python packages, each with an explicit
allow-list of photo sets (clipart, paintings, renders, diagrams and logos left out by hand,
after looking at every set), plus a user's own folder."""
from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Container, Iterator
from dataclasses import dataclass
from pathlib import Path

from training.data.reserved import refuse_photo_source

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp")  # what package sources are searched for
# A person's own folder takes a phone's formats too (packages are searched for the above only, so a corpus
# rebuilt from them stays the same photos).
FOLDER_SUFFIXES = IMAGE_SUFFIXES + (".heic", ".heif", ".avif")


@dataclass(frozen=True)
class SourcePhoto:
    data: bytes
    source_package: str  # e.g. "deb:gcompris-qt-data=3.1-2", "pypi:scikit-image=0.26.0", "user"
    original_path: str
    licence: str
    attribution: str


# GCompris activity folders (inside the .rcc resources) that hold photographs.
# Left out after inspection: paintings, lang/words_sample (cartoon clipart), details
# (painting crops), solar_system (renders), babyshapes/chronos (collages, clipart),
# louis-braille (mixed drawings), leftright (hand cut-outs on flat backgrounds).
GCOMPRIS_PHOTO_SETS = (
    "erase/resource",
    "explore_farm_animals/resource/animals",
    "explore_world_animals/resource/animals",
    "explore_world_music/resource/music",
    "explore_monuments/resource/",
    "categorization/resource/images/fishes",
    "categorization/resource/images/monuments",
    "categorization/resource/images/others",
    "categorization/resource/images/renewable",
    "categorization/resource/images/tools",
)

# opencv-doc examples that are photographs (not renders, logos, charts, masks, text crops).
OPENCV_PHOTOS = (
    "alphamat/input_images/plant.jpg",
    "dnn_superres/butterfly.png",
    "reg/home.png",
    *(f"hfs/data/{n:03d}.jpg" for n in range(3)),
    *(f"text/scenetext0{n}.jpg" for n in range(1, 7)),
    *(
        f"data/{name}"
        for name in (
            "aero1.jpg aero3.jpg aloeL.jpg apple.jpg baboon.jpg basketball1.png board.jpg "
            "box_in_scene.png building.jpg butterfly.jpg chicky_512.png ela_original.jpg "
            "fruits.jpg graf1.png home.jpg left.jpg left01.jpg leuvenA.jpg leuvenB.jpg "
            "messi5.jpg orange.jpg rubberwhale1.png smarties.png squirrel_cls.jpg stuff.jpg "
            "sudoku.png"
        ).split()
    ),
)

SKIMAGE_PHOTOS = (
    "astronaut.png brick.png camera.png chelsea.png coffee.png coins.png grass.png gravel.png "
    "hubble_deep_field.jpg ihc.png moon.png motorcycle_left.png retina.jpg rocket.jpg text.png"
).split()

MATPLOTLIB_PHOTOS = ("grace_hopper.jpg",)
SKLEARN_PHOTOS = ("china.jpg", "flower.jpg")


def _debian_package(name: str, workdir: Path) -> tuple[Path, str]:
    """apt-get download + dpkg -x into workdir; returns (root, version)."""
    refuse_photo_source(f"deb:{name}")
    subprocess.run(["apt-get", "download", name], cwd=workdir, check=True, capture_output=True)
    deb = next(workdir.glob(f"{name}_*.deb"))
    root = workdir / name
    subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    version = deb.name.split("_")[1]
    return root, version


def gcompris_photos(workdir: Path) -> Iterator[SourcePhoto]:
    from PySide6.QtCore import QDirIterator, QFile, QIODevice, QResource

    root, version = _debian_package("gcompris-qt-data", workdir)
    rcc_files = sorted((root / "usr/share/gcompris-qt/rcc").glob("*.rcc"))
    prefixes = []
    for rcc in rcc_files:
        prefix = f"/synthspot_{rcc.stem}"
        if QResource.registerResource(str(rcc), prefix):
            prefixes.append((str(rcc), prefix))
    try:
        iterator = QDirIterator(":/", QDirIterator.IteratorFlag.Subdirectories)
        paths = []
        while iterator.hasNext():
            path = iterator.next()
            if path.startswith(":/synthspot_") and path.lower().endswith(IMAGE_SUFFIXES):
                inner = path.split("/activities/", 1)[-1]
                if any(inner.startswith(allowed) for allowed in GCOMPRIS_PHOTO_SETS):
                    paths.append(path)
        for path in sorted(paths):
            handle = QFile(path)
            handle.open(QIODevice.OpenModeFlag.ReadOnly)
            data = bytes(handle.readAll())
            handle.close()
            yield SourcePhoto(
                data,
                f"deb:gcompris-qt-data={version}",
                path.split("/", 2)[-1],
                "GPL-3+ (debian/copyright of gcompris-qt-data; per-file credits in GCompris sources)",
                "GCompris contributors, KDE",
            )
    finally:
        for rcc, prefix in prefixes:
            QResource.unregisterResource(rcc, prefix)


def opencv_doc_photos(workdir: Path) -> Iterator[SourcePhoto]:
    root, version = _debian_package("opencv-doc", workdir)
    examples = root / "usr/share/doc/opencv-doc/examples"
    for relative in OPENCV_PHOTOS:
        path = examples / relative
        if path.exists():
            yield SourcePhoto(
                path.read_bytes(),
                f"deb:opencv-doc={version}",
                f"/usr/share/doc/opencv-doc/examples/{relative}",
                "Apache-2.0 / BSD-3-Clause (debian/copyright of opencv-doc)",
                "OpenCV sample data contributors",
            )


def _python_package_photos(module_name, folder, names, licence, attribution) -> Iterator[SourcePhoto]:
    import importlib
    import importlib.metadata

    module = importlib.import_module(module_name)
    base = Path(module.__file__).parent / folder
    distribution = {"skimage": "scikit-image", "sklearn": "scikit-learn"}.get(module_name, module_name)
    refuse_photo_source(f"pypi:{distribution}")
    version = importlib.metadata.version(distribution)
    for name in names:
        path = base / name
        if path.exists():
            yield SourcePhoto(path.read_bytes(), f"pypi:{distribution}={version}", str(path.relative_to(base.parent.parent)), licence, attribution)


# Installed Python packages whose sample data holds photos:
# distribution -> (module, folder inside it, photos, licence, attribution)
INSTALLED_PYTHON_PHOTOS = {
    "scikit-image": ("skimage", "data", SKIMAGE_PHOTOS, "Public domain or CC0/CC-BY per skimage/data/README.txt", "scikit-image data contributors"),
    "scikit-learn": ("sklearn", "datasets/images", SKLEARN_PHOTOS, "CC-BY-2.0", "danielbuechele (china.jpg), vultilion (flower.jpg) on Flickr"),
    "matplotlib": ("matplotlib", "mpl-data/sample_data", MATPLOTLIB_PHOTOS, "Public domain (US Navy photograph)", "James S. Davis, US Navy"),
}
DEBIAN_RESOURCE_PHOTOS = ("gcompris-qt-data", "opencv-doc")  # Debian sources with their own readers, above


def python_package_photos(only: Container[str] | None = None) -> Iterator[SourcePhoto]:
    for distribution, spec in INSTALLED_PYTHON_PHOTOS.items():
        if only is None or distribution in only:
            yield from _python_package_photos(*spec)


def debian_package_photos(only: Container[str] | None = None) -> Iterator[SourcePhoto]:
    with tempfile.TemporaryDirectory(prefix="synthspot-debs-") as tmp:
        if only is None or "gcompris-qt-data" in only:
            yield from gcompris_photos(Path(tmp))
        if only is None or "opencv-doc" in only:
            yield from opencv_doc_photos(Path(tmp))


def folder_photos(folder: str | os.PathLike, licence: str = "user-supplied", attribution: str = "",
                  skipped: list[tuple[str, str]] | None = None) -> Iterator[SourcePhoto]:
    """The photos under ``folder``, in name order. Links to folders are not followed (no loops, nothing from
    outside it), hidden files and other formats are passed over and listed in ``skipped``; a photo that
    resolves into a reserved package (an unpacked one, a link to one, one installed by apt) stops it all."""
    skipped = [] if skipped is None else skipped
    if not os.path.isdir(folder):
        raise NotADirectoryError(f"{folder} is not a folder")
    files = []
    for top, folders, names in os.walk(folder):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(names):
            path = os.path.join(top, name)
            if name.startswith("."):
                skipped.append((path, "hidden"))
            elif not name.lower().endswith(FOLDER_SUFFIXES):
                skipped.append((path, "not a photo format taken (" + (os.path.splitext(name)[1].lower() or "no suffix") + ")"))
            elif not os.path.isfile(path):
                skipped.append((path, "not a file"))
            else:
                files.append(path)
    refuse_reserved_files(files)
    for path in files:
        with open(path, "rb") as handle:
            yield SourcePhoto(handle.read(), "user", os.path.abspath(path), licence, attribution)


def refuse_reserved_files(paths: list[str]) -> None:
    """Raise if a file lies, once links are resolved, in a reserved package's folder or belongs to one that
    the system's package manager installed."""
    resolved = [os.path.realpath(path) for path in paths]
    for path in resolved:
        for part in Path(path).parts:
            refuse_photo_source(part)
    installed = [path for path in resolved if path.startswith(("/usr/", "/opt/"))]
    for start in range(0, len(installed), 500):  # dpkg names the package that owns each file
        try:
            answer = subprocess.run(["dpkg-query", "-S", *installed[start:start + 500]], capture_output=True,
                                    text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return  # not a Debian system: the folder names above are the check
        for line in answer.stdout.splitlines():
            for package in line.split(": ", 1)[0].split(", "):
                refuse_photo_source(package.split(":", 1)[0])
