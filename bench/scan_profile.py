"""Where one image's scan time goes, stage by stage, in ms, and the engine's images/s end to end.

    nice -n 10 .venv/bin/python bench/scan_profile.py [--model engine/models/synthspot-lite0-fp32.onnx]
        [--images 24] [--passes 3] [--compare OLD_TREE | --compare-model OLD.onnx] [--rounds 3]

The stages are the ones the Scanner runs for a 1 MP JPEG (bench/engine_throughput.py's photos), each
timed on its own, serially on one thread, the best of ``--passes`` passes per image; the ONNX stage is
one run of the image's crops. Stages are in CPU ms, which a machine busy with other work disturbs far
less than wall time (that mostly measures the wait for a core): this thread's CPU time, and for the ONNX
stage the whole process's, ONNX Runtime's threads included. What those threads burn between runs
(spinning) is in no stage, only in the end-to-end CPU ms per image. "end to end" is the Scanner itself
over the same files (2 preparation threads, batches of 16 crops, a store), the best of ``--passes`` runs.

``--compare OLD_TREE`` (a checkout, e.g. ``git worktree add /tmp/old HEAD``) runs this on both trees,
alternately, one process per run on the same files, so that a machine busy with other work weighs on
both alike; it prints both breakdowns with new / old ratios, and checks that both trees picked the same
crops and gave the same probabilities, bit for bit. ``--compare-model OLD.onnx`` does the same for two
models in this checkout (``--model`` the new one), e.g. a candidate beside the shipped file; each model's
runs must then agree with each other.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

from alternate import run_alternately


REPO = Path(__file__).resolve().parents[1]
SIZE = (1152, 864)  # bench/engine_throughput.py's "1mp"


def stage_times(model: Path, photos: list[Path], work: Path, passes: int) -> dict[str, float]:
    """CPU ms per image for each stage, the best of ``passes`` passes."""
    from engine import contract
    from engine.decode import estimate_jpeg_quality, open_image
    from engine.model import Detector
    from engine.pixels import to_rgb_array
    from engine.provenance import provenance_hints
    from engine.result import Result, score_result
    from engine.store import Store

    detector = Detector(model, provider="cpu")
    meta = detector.metadata
    best: dict[str, float] = {}
    for index in range(passes + 1):  # the first pass warms caches and kernels
        store = Store(work / f"stages{index}.sqlite")
        times: dict[str, float] = {}

        def lap(stage, started, clock=time.thread_time, times=times):
            now = clock()
            times[stage] = times.get(stage, 0.0) + now - started
            return time.thread_time()

        for path in photos:
            t = time.thread_time()
            data = path.read_bytes()
            t = lap("read", t)
            sha256 = hashlib.sha256(data).hexdigest()
            t = lap("sha256", t)
            with open_image(data) as opened:
                image = opened._image
                t = lap("open (header)", t)
                image.load()
                t = lap("JPEG decode (Pillow load)", t)
                estimate_jpeg_quality(image)
                image.getexif()
                t = lap("JPEG quality + EXIF", t)
                rgb = to_rgb_array(image)
                t = lap("to_rgb_array", t)
            boxes = contract.plan_for(rgb, meta.crop_size, meta.max_crops, meta.crop_plan)
            t = lap(f"crop plan ({meta.crop_plan})", t)
            crops = contract.extract_crops(rgb, boxes)
            t = lap("extract_crops", t)
            hints = provenance_hints(data, "JPEG")
            t = lap("provenance hints", t)
            t = time.process_time()
            outputs = detector.run(crops)
            t = lap(f"ONNX ({len(boxes)} crops, one run)", t, time.process_time)
            result = Result(sha256=sha256, path=str(path), width=rgb.shape[1], height=rgb.shape[0],
                            format="JPEG", provenance=hints, model_name=meta.name, model_version=meta.version,
                            provider="cpu", file_size=len(data))
            score_result(result, meta, boxes, outputs.logits, outputs.expert_weights, outputs.artifact_map)
            t = lap("score_result", t)
            store.put(result, meta.model_id)
            lap("store.put", t)
        if index:
            for stage, seconds in times.items():
                best[stage] = min(best.get(stage, float("inf")), 1000 * seconds / len(photos))
    return best


def end_to_end(model: Path, photos: list[Path], work: Path, passes: int) -> tuple[float, float, dict]:
    """The Scanner's best images/s and least CPU ms per image over ``passes`` runs, and what it found per file."""
    from engine.model import Detector
    from engine.scanner import Scanner, ScanRequest
    from engine.store import Store

    rates, cpu, found = [], [], {}
    for index in range(passes):
        detector = Detector(model, provider="cpu")
        with Scanner(detector, Store(work / f"scan{index}.sqlite"), workers=2, batch_crops=16) as scanner:
            started, cpu_started = time.perf_counter(), time.process_time()
            results = scanner.scan([ScanRequest(path=str(p)) for p in photos])
            rates.append(len(photos) / (time.perf_counter() - started))
            cpu.append(1000 * (time.process_time() - cpu_started) / len(photos))
        assert all(r.ok for r in results), [r.error for r in results if not r.ok]
        found = {Path(r.path).name: [r.probability.hex(), [(c.top, c.left, c.probability.hex()) for c in r.crops]]
                 for r in results}
    return max(rates), min(cpu), found


def measure(model: Path, photos: list[Path], work: Path, passes: int) -> dict:
    stages = stage_times(model, photos, work, passes)
    rate, cpu, found = end_to_end(model, photos, work, passes)
    return {"stages": stages, "images_per_s": rate, "cpu_ms": cpu, "found": found}


def make_photos(folder: Path, count: int) -> list[Path]:
    sys.path.insert(0, str(REPO / "bench"))
    from engine_throughput import make_photos as write

    return write(folder, count, SIZE, seed=0)


def print_table(columns: dict[str, dict], images: int) -> None:
    names = list(columns)
    stages = list(dict.fromkeys(s for figures in columns.values() for s in figures["stages"]))
    ratio = len(names) == 2
    print(f"{images} JPEGs of {SIZE[0]}x{SIZE[1]}; CPU ms per image, stage by stage (serial, one thread)")
    print(f"  {'stage':<32}" + "".join(f"{name:>10}" for name in names) + ("   new/old" if ratio else ""))
    for stage in stages:
        values = [columns[name]["stages"].get(stage) for name in names]
        row = "".join(f"{v:10.2f}" if v is not None else f"{'-':>10}" for v in values)
        if ratio and None not in values and values[0] > 0:
            row += f"{values[1] / values[0]:10.2f}"
        print(f"  {stage:<32}{row}")
    sums = [sum(columns[name]["stages"].values()) for name in names]
    print(f"  {'sum':<32}" + "".join(f"{v:10.2f}" for v in sums) + (f"{sums[1] / sums[0]:10.2f}" if ratio else ""))
    cpu = [columns[name]["cpu_ms"] for name in names]
    print(f"  {'end to end, CPU ms per image':<32}" + "".join(f"{v:10.2f}" for v in cpu)
          + (f"{cpu[1] / cpu[0]:10.2f}" if ratio else ""))
    rates = [columns[name]["images_per_s"] for name in names]
    print(f"  {'end to end, images/s (Scanner)':<32}" + "".join(f"{v:10.1f}" for v in rates)
          + (f"{rates[1] / rates[0]:10.2f}" if ratio else ""))


def compare(args, photos: Path, root: Path) -> int:
    """Two checkouts on one model (``--compare``), or two models in this checkout (``--compare-model``)."""
    if args.compare_model:
        trees = {"old": REPO, "new": REPO}
        models = {"old": Path(args.compare_model).resolve(), "new": Path(args.model).resolve()}
    else:
        trees = {"old": Path(args.compare).resolve(), "new": REPO}
        models = {name: Path(args.model).resolve() for name in trees}
    runs = run_alternately(
        __file__, trees, args.rounds, root, ["--photos", str(photos), "--passes", str(args.passes)],
        lambda index, name, tree, figures: (
            f"round {index + 1} {name}: {figures['images_per_s']:.1f} images/s end to end "
            f"({figures['cpu_ms']:.1f} CPU ms per image), stages sum {sum(figures['stages'].values()):.1f} CPU ms"),
        own_args={name: ["--model", str(model)] for name, model in models.items()})
    for name, model in models.items():
        print(f"{name}: {model}")
    same = all(run["found"] == runs["old"][0]["found"] for name in trees for run in runs[name])
    print(f"\nmedians of {args.rounds} alternating rounds (each the best of {args.passes} passes)")
    columns = {}
    for name in trees:
        stages = {stage: statistics.median(run["stages"][stage] for run in runs[name] if stage in run["stages"])
                  for stage in runs[name][0]["stages"]}
        columns[name] = {"stages": stages, "images_per_s": statistics.median(r["images_per_s"] for r in runs[name]),
                         "cpu_ms": statistics.median(r["cpu_ms"] for r in runs[name])}
    print_table(columns, len(runs["old"][0]["found"]))
    if args.compare_model:  # other weights score otherwise: only each model's own runs must agree
        steady = all(run["found"] == runs[name][0]["found"] for name in trees for run in runs[name])
        print(f"each model gave the same crops and probabilities in every run: {'yes' if steady else 'NO'}")
        return 0 if steady else 1
    print(f"same crops and probabilities, bit for bit, in every run: {'yes' if same else 'NO'}")
    return 0 if same else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(REPO / "engine" / "models" / "synthspot-lite0-fp32.onnx"))
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--compare", metavar="OLD_TREE", help="also run an older checkout, alternately, and compare")
    parser.add_argument("--compare-model", metavar="OLD_MODEL",
                        help="also run this model (in this checkout), alternately, and compare: --model is the new one")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each with --compare or --compare-model")
    parser.add_argument("--photos", help=argparse.SUPPRESS)  # internal: images made by the comparing parent
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)  # the checkout whose engine runs
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    root = Path(tempfile.mkdtemp(prefix="synthspot-bench-scan-"))
    if args.photos:
        photos = Path(args.photos)
    else:
        photos = root / "photos"
        photos.mkdir()
        make_photos(photos, args.images)
    if args.compare or args.compare_model:
        return compare(args, photos, root)
    sys.path.insert(0, str(Path(args.code).resolve() if args.code else REPO))
    work = Path(args.work) if args.work else root
    work.mkdir(parents=True, exist_ok=True)
    figures = measure(Path(args.model), sorted(photos.glob("*.jpg")), work, args.passes)
    if args.json:
        print(json.dumps(figures))
    else:
        print_table({"this tree": figures}, len(figures["found"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
