"""Engine throughput end to end (read + decode + crops + ONNX + store) beside the ONNX forward alone.

    .venv/bin/python bench/engine_throughput.py [--images-1mp 24] [--images-12mp 4] [--models vits14,lite0]

For each contract model (ViT-S/14-sized and EfficientNet-Lite0-sized, exported
from the real backbones with random adapters) at fp32 and fp16 on the CPU
provider, it scans a folder of 1 MP and of 12 MP JPEGs with the engine's
Scanner, then feeds the very same crops to the model alone in the same batch
sizes. "overhead" is the share of the end-to-end time spent outside the model.
Everything runs in one process, side by side, so the ratios hold on a noisy machine.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import contract  # noqa: E402
from engine.contract import ModelMetadata  # noqa: E402
from engine.decode import decode_image  # noqa: E402
from engine.model import Detector  # noqa: E402
from engine.scanner import Scanner, ScanRequest  # noqa: E402
from engine.store import Store  # noqa: E402

SIZES = {"1mp": (1152, 864), "12mp": (4000, 3000)}
BACKBONES = {"vits14": "dinov2_vits14", "lite0": "efficientnet_lite0"}


def make_photos(folder: Path, count: int, size: tuple[int, int], seed: int) -> list[Path]:
    """JPEGs with photo-like content: a real photo resized, plus sensor-like noise, quality 90."""
    from skimage import data

    base = Image.fromarray(data.astronaut())
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        image = np.asarray(base.rotate(index * 7, expand=False).resize(size, Image.BICUBIC), np.float32)
        image += rng.normal(0, 4, image.shape)
        path = folder / f"photo_{size[0]}x{size[1]}_{index}.jpg"
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(path, quality=90)
        paths.append(path)
    return paths


def export_model(short: str, precision: str, folder: Path) -> Path:
    from export.onnx_export import export_detector
    from training.config import DetectorConfig
    from training.detector import create_detector

    detector = create_detector(DetectorConfig(backbone=BACKBONES[short], weights="random"))
    path = folder / f"{short}_{precision}.onnx"
    export_detector(detector, path, ModelMetadata(name=f"bench-{short}", version=precision,
                                                  crop_size=detector.input_spec.crop_size), precision)
    return path


def engine_run(model: Path, photos: list[Path], store_path: Path, batch_crops: int) -> tuple[float, float]:
    detector = Detector(model, provider="cpu")
    with Scanner(detector, Store(store_path), workers=2, batch_crops=batch_crops) as scanner:
        started = time.perf_counter()
        results = scanner.scan([ScanRequest(path=str(p)) for p in photos])
        elapsed = time.perf_counter() - started
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    model_ms = sum(r.timings_ms["model"] for r in results)
    return elapsed, model_ms / 1000.0


def forward_only(model: Path, photos: list[Path], batch_crops: int) -> tuple[float, float]:
    """Seconds the model alone takes on the photos' crops (cut by the model's own plan), and crops per photo."""
    detector = Detector(model, provider="cpu")
    meta = detector.metadata
    crops = []
    for path in photos:
        image = decode_image(path.read_bytes())
        crops.append(contract.extract_crops(image.rgb, contract.plan_for(image.rgb, meta.crop_size, meta.max_crops,
                                                                         meta.crop_plan)))
    everything = np.concatenate(crops)
    started = time.perf_counter()
    for start in range(0, len(everything), batch_crops):
        detector.run(everything[start:start + batch_crops])
    return time.perf_counter() - started, len(everything) / len(photos)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images-1mp", type=int, default=24)
    parser.add_argument("--images-12mp", type=int, default=4)
    parser.add_argument("--models", default="vits14,lite0")
    parser.add_argument("--precisions", default="fp32,fp16")
    parser.add_argument("--batch-crops", type=int, default=16)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        photos = {"1mp": make_photos(scratch, args.images_1mp, SIZES["1mp"], 0),
                  "12mp": make_photos(scratch, args.images_12mp, SIZES["12mp"], 1)}
        print(f"{'model':<8} {'prec':<5} {'images':<6} {'crops/img':>9} {'engine img/s':>12} {'ms/img':>8} "
              f"{'forward img/s':>13} {'overhead':>9}")
        for short in args.models.split(","):
            for precision in args.precisions.split(","):
                model = export_model(short, precision, scratch)
                for size_name, files in photos.items():
                    forward_only(model, files[:1], args.batch_crops)  # warm-up: kernels, caches
                    store = scratch / f"store_{short}_{precision}_{size_name}.db"
                    elapsed, _ = engine_run(model, files, store, args.batch_crops)
                    forward, crops = forward_only(model, files, args.batch_crops)
                    print(f"{short:<8} {precision:<5} {size_name:<6} {crops:>9.1f} {len(files) / elapsed:>12.2f} "
                          f"{1000 * elapsed / len(files):>8.1f} {len(files) / forward:>13.2f} "
                          f"{max(0.0, 1 - forward / elapsed):>9.1%}", flush=True)


if __name__ == "__main__":
    main()
