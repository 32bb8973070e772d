"""Contact sheet of a forged set: real | one fake per domain | inpaint mask | processed reals,
one row per photo or crop, each cell a native-resolution window (no resizing, so the artifacts
show), centred on the inpainted region when there is one, labelled with the network that made it.
Rows are picked so that every upsample family appears before any repeats.

    python -m training.data.contact_sheet DIR/manifest.jsonl OUT.png [--rows 8] [--cell 192]
"""
from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np
from PIL import Image, ImageDraw

from training.data import manifest

FAKE_COLUMNS = ("upsample", "reconstruct", "regenerate", "inpaint")
PROCESSED_COLUMNS = 2


def _units(records: list[manifest.Record], split: str | None) -> list[dict]:
    units: dict[tuple, dict] = defaultdict(lambda: {"processed": []})
    for r in records:
        if r.variant or (split and r.split != split):
            continue
        unit = units[(r.source_id, (r.crop or {}).get("index"))]
        if r.processing:
            unit["processed"].append(r)
        else:
            unit[r.domain] = r
    return [u for _, u in sorted(units.items(), key=lambda kv: str(kv[0])) if "real" in u]


def _pick(units: list[dict], rows: int) -> list[dict]:
    """Round-robin over upsample families, so the sheet shows each design once before repeats."""
    by_family: dict[str, list[dict]] = defaultdict(list)
    for unit in units:
        by_family[getattr(unit.get("upsample"), "family", "") or ""].append(unit)
    chosen: list[dict] = []
    while len(chosen) < rows and any(by_family.values()):
        for family in sorted(by_family):
            if by_family[family] and len(chosen) < rows:
                chosen.append(by_family[family].pop(len(by_family[family]) // 2))
    return chosen


def render(manifest_path: str, rows: int = 8, cell: int = 192, split: str | None = None) -> Image.Image:
    units = _units(manifest.read(manifest_path), split)
    present = [d for d in FAKE_COLUMNS if any(d in u for u in units)]
    columns = ["real", *present, *(["mask"] if "inpaint" in present else []), *[f"processed {k}" for k in range(PROCESSED_COLUMNS)]]
    chosen = _pick(units, rows)
    label_height = 16
    sheet = Image.new("RGB", (cell * len(columns), label_height + cell * len(chosen)), "white")
    draw = ImageDraw.Draw(sheet)
    for column, name in enumerate(columns):
        draw.text((column * cell + 4, 2), name, fill="black")

    def load(rel):
        return np.asarray(Image.open(manifest.resolve(manifest_path, rel)).convert("RGB"))

    for row, unit in enumerate(chosen):
        real = load(unit["real"].path)
        mask = None
        if "inpaint" in unit:
            mask = np.asarray(Image.open(manifest.resolve(manifest_path, unit["inpaint"].mask_path))) > 127
        ys, xs = np.nonzero(mask) if mask is not None else ((), ())
        centre = (int(np.mean(ys)), int(np.mean(xs))) if len(ys) else (real.shape[0] // 2, real.shape[1] // 2)
        top = int(np.clip(centre[0] - cell // 2, 0, max(real.shape[0] - cell, 0)))
        left = int(np.clip(centre[1] - cell // 2, 0, max(real.shape[1] - cell, 0)))

        def aligned(image, top=top, left=left):  # the same window of the real and its fakes
            return image[top:, left:]

        cells: list[tuple[np.ndarray | None, str]] = [(aligned(real), f"{unit['real'].source_id[:8]} {unit['real'].format}")]
        for domain in present:
            record = unit.get(domain)
            cells.append((aligned(load(record.path)), record.network or record.generator[:20]) if record else (None, ""))
        if mask is not None:
            cells.append((aligned(np.repeat(mask[..., None] * np.uint8(255), 3, axis=2)), ""))
        elif "inpaint" in present:
            cells.append((None, ""))
        for record in unit["processed"][:PROCESSED_COLUMNS]:
            ops = "+".join(op["op"] for op in record.processing)
            image = load(record.path)  # resized copies have their own geometry: shown from their centre
            cy, cx = image.shape[0] // 2, image.shape[1] // 2
            cells.append((image[max(cy - cell // 2, 0):, max(cx - cell // 2, 0):], ops))
        for column, (image, label) in enumerate(cells):
            x, y = column * cell, label_height + row * cell
            if image is not None:
                sheet.paste(Image.fromarray(np.ascontiguousarray(image[:cell, :cell])), (x, y))
            draw.text((x + 3, y + 3), label[:30], fill="yellow", stroke_width=1, stroke_fill="black")
    return sheet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("manifest")
    parser.add_argument("out")
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--cell", type=int, default=192)
    parser.add_argument("--split")
    args = parser.parse_args(argv)
    render(args.manifest, args.rows, args.cell, args.split).save(args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
