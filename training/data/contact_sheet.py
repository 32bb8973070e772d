"""Contact sheet of a forged set: real | upsample | reconstruct | inpaint | inpaint mask, one
row per photo, each cell a native-resolution crop (no resizing, so the artifacts show),
centred on the inpainted region when there is one.

    python -m training.data.contact_sheet DIR/manifest.jsonl OUT.png [--rows 6] [--cell 256]
"""
from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np
from PIL import Image, ImageDraw

from training.data import manifest

COLUMNS = ("real", "upsample", "reconstruct", "inpaint", "mask")


def _crop_box(shape, centre, cell):
    h, w = shape
    top = int(np.clip(centre[0] - cell // 2, 0, max(h - cell, 0)))
    left = int(np.clip(centre[1] - cell // 2, 0, max(w - cell, 0)))
    return top, left


def render(manifest_path: str, rows: int = 6, cell: int = 256, split: str | None = None) -> Image.Image:
    records = manifest.read(manifest_path)
    groups: dict[str, dict[str, manifest.Record]] = defaultdict(dict)
    for r in records:
        if r.variant == "" and (split is None or r.split == split):
            groups[r.source_id][r.domain] = r
    complete = [g for _, g in sorted(groups.items()) if all(d in g for d in COLUMNS[:4])]
    chosen = complete[:: max(len(complete) // rows, 1)][:rows]
    label_height = 18
    sheet = Image.new("RGB", (cell * len(COLUMNS), label_height + cell * len(chosen)), "white")
    draw = ImageDraw.Draw(sheet)
    for column, name in enumerate(COLUMNS):
        draw.text((column * cell + 4, 3), name, fill="black")
    load = lambda rel: np.asarray(Image.open(manifest.resolve(manifest_path, rel)).convert("RGB"))
    for row, group in enumerate(chosen):
        mask = np.asarray(Image.open(manifest.resolve(manifest_path, group["inpaint"].mask_path))) > 127
        ys, xs = np.nonzero(mask)
        centre = (int(ys.mean()), int(xs.mean())) if len(ys) else (mask.shape[0] // 2, mask.shape[1] // 2)
        top, left = _crop_box(mask.shape, centre, cell)
        cells = [load(group[d].path) for d in COLUMNS[:4]] + [np.repeat(mask[..., None] * np.uint8(255), 3, axis=2)]
        for column, image in enumerate(cells):
            crop = image[top : top + cell, left : left + cell]
            sheet.paste(Image.fromarray(np.ascontiguousarray(crop)), (column * cell, label_height + row * cell))
        draw.text((4, label_height + row * cell + 4), f"{group['real'].source_id[:8]} {group['real'].format}", fill="yellow")
        up = group["upsample"].params
        draw.text((cell + 4, label_height + row * cell + 4), f"{up.get('network', '')[:12]} x{up.get('factor', '')}", fill="yellow")
    return sheet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("manifest")
    parser.add_argument("out")
    parser.add_argument("--rows", type=int, default=6)
    parser.add_argument("--cell", type=int, default=256)
    parser.add_argument("--split")
    args = parser.parse_args(argv)
    render(args.manifest, args.rows, args.cell, args.split).save(args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
