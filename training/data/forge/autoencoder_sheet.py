"""Score autoencoders side by side and show what they do to real photos.

    python -m training.data.forge.autoencoder_sheet --corpus CORPUS --out SHEET.png AE_FOLDER...

Prints each autoencoder's PSNR/SSIM on the centre 512x512 of the split's photos (the same figure
training records; with --colour-calibrated, after the forge's global colour map), and writes a sheet: one row per photo, a 128 px detail of the real, then the
same detail from each autoencoder, magnified 2x so that blur, ringing and colour casts show. A
blurry autoencoder teaches a detector "blur = fake"; look before bundling one."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from training.data.corpus import read_manifest
from training.data.forge import autoencoder
from training.data.forge.reconstruct import calibrate_colour
from training.data.forge.train_autoencoder import centre_crop, evaluate, reconstruct_array

DETAIL = 128
ZOOM = 2


def _detail(image: np.ndarray) -> np.ndarray:
    """The most textured 128 px window of the image's centre crop (where artifacts show)."""
    grey = image.astype(np.float32).mean(axis=2)
    best, where = -1.0, (0, 0)
    for top in range(0, max(1, grey.shape[0] - DETAIL + 1), DETAIL // 2):
        for left in range(0, max(1, grey.shape[1] - DETAIL + 1), DETAIL // 2):
            window = grey[top : top + DETAIL, left : left + DETAIL]
            score = float(np.abs(np.diff(window, axis=1)).mean())
            if score > best:
                best, where = score, (top, left)
    return np.asarray(where)


def sheet(photos: list[np.ndarray], reconstructions: list[list[np.ndarray]], names: list[str]) -> Image.Image:
    """Rows of real | each reconstruction, on the same magnified detail."""
    cell = DETAIL * ZOOM
    label = 18
    canvas = Image.new("RGB", (cell * (1 + len(names)), label + cell * len(photos)), "white")
    draw = ImageDraw.Draw(canvas)
    for column, name in enumerate(["real", *names]):
        draw.text((column * cell + 4, 3), name, fill="black")
    for row, (photo, recons) in enumerate(zip(photos, reconstructions, strict=True)):
        top, left = _detail(photo)
        for column, image in enumerate([photo, *recons]):
            detail = Image.fromarray(image[top : top + DETAIL, left : left + DETAIL])
            canvas.paste(detail.resize((cell, cell), Image.NEAREST), (column * cell, label + row * cell))
    return canvas


@torch.inference_mode()  # scoped: a global switch would outlive the command when it is called in-process
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", help="autoencoder folders (autoencoder.json + .safetensors)")
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument("--limit", type=int, default=20, help="photos scored (the first N of the split, by id)")
    parser.add_argument("--show", type=int, default=6, help="photos shown on the sheet")
    parser.add_argument("--out", required=True, help="PNG sheet to write")
    parser.add_argument("--colour-calibrated", action="store_true",
                        help="score and show them after the forge's global colour map (what the reconstruct domain writes)")
    args = parser.parse_args(argv)

    entries = sorted((e for e in read_manifest(args.corpus) if e["split"] == args.split), key=lambda e: e["id"])
    if not entries:
        print(f"no photos in split {args.split!r} of {args.corpus}", file=sys.stderr)
        return 2
    photos = [np.asarray(Image.open(Path(args.corpus) / e["path"]).convert("RGB")) for e in entries[: args.limit]]
    shown = [centre_crop(p) for p in photos[: args.show]]
    names, columns, scores = [], [], {}
    for folder in args.folders:
        model = autoencoder.load(folder).eval()
        name = Path(folder).name
        scores[name] = evaluate(model, photos, colour_calibrated=args.colour_calibrated)
        names.append(name)
        recons = [reconstruct_array(model, p) for p in shown]
        if args.colour_calibrated:
            recons = [calibrate_colour(p, r)[0] for p, r in zip(shown, recons, strict=True)]
        columns.append(recons)
    print(json.dumps(scores, indent=1))
    sheet(shown, [list(row) for row in zip(*columns, strict=True)], names).save(args.out)
    print(f"sheet: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
