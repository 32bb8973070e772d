"""Peak memory and time of the engine on hostile images, beside plain Pillow on the same files.

    .venv/bin/python bench/decode_memory.py [--heic FILE] [--skip-folder]

Generates the hostile kinds of issue 16 in a temp folder (a GIF with a 9000x9000 screen, a 16-bit
grey PNG, a float32 TIFF and a palette PNG of 10000x10000, an APNG of 150 frames of 2000x2000,
a 100 MP JPEG, a 48 MP AVIF standing in for HEIC, since this environment has no HEIC encoder:
pass --heic with a real 48 MP HEIC to measure one). Each measurement runs in a fresh subprocess:
"engine" is decode_image + provenance_hints (all the per-file work before the model), "pillow" is
Image.open + load + convert("RGB"). Peak RSS is the child's whole high-water mark (interpreter and
imports included, shown as "base"). Then the CLI scans the folder of all of them with the default
workers and the embedded model, and its peak RSS is printed.

Targets (issue 16): engine peak <= 2 x Pillow's + 200 MB, time <= 2 x Pillow's + 0.5 s, folder < 2 GB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: tests.fixtures
from tests.fixtures.crafted import encode, gif_with_screen  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024

# Peak RSS from the child's own VmHWM: ru_maxrss survives exec on Linux, so a child would inherit its
# parent's high-water mark (the generator's gigabytes) and every figure would read the same.
CHILD = r"""
import json, sys, time, warnings
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
warnings.simplefilter("ignore")
mode, path = sys.argv[1], sys.argv[2]
if mode == "engine":
    sys.path.insert(0, sys.argv[3])
    from engine.decode import decode_image
    from engine.provenance import provenance_hints
else:
    from PIL import Image
    Image.MAX_IMAGE_PIXELS = None  # the cap is the engine's business; Pillow alone just decodes
base = hwm()
data = open(path, "rb").read()
started = time.perf_counter()
error = None
try:
    if mode == "engine":
        image = decode_image(data)
        hints = provenance_hints(data, image.format)
    else:
        import io
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            rgb = image.convert("RGB")
except Exception as exc:
    error = f"{type(exc).__name__}: {exc}"[:80]
elapsed = time.perf_counter() - started
print(json.dumps({"base": base, "peak": hwm(), "seconds": elapsed, "error": error}))
"""


def gradient(width: int, height: int, dtype=np.uint8, peak: float = 255.0) -> np.ndarray:
    """Smooth content: compresses well (small files, as in the issue) but is not a constant."""
    row = np.linspace(0, peak, width, dtype=np.float32)
    column = np.linspace(0, peak / 4, height, dtype=np.float32)[:, None]
    return ((row + column) % (peak + 1)).astype(dtype)


def photo_like(width: int, height: int) -> Image.Image:
    rng = np.random.default_rng(0)
    base = np.stack([gradient(width, height)] * 3, axis=-1)
    tile = rng.integers(0, 24, (512, 512, 3), dtype=np.uint8)  # sensor-like texture, tiled to save time
    reps = (-(-height // 512), -(-width // 512), 1)
    base += np.tile(tile, reps)[:height, :width]
    return Image.fromarray(base)


def make_files(folder: Path, heic: Path | None) -> dict[str, Path]:
    files: dict[str, bytes | Path] = {}
    files["gif 9000x9000 screen"] = gif_with_screen(9000, 9000)
    files["png 16-bit grey 100 MP"] = encode(Image.fromarray(gradient(10000, 10000, np.uint16, 65535)), "PNG",
                                             compress_level=1)
    steps = np.floor(gradient(10000, 10000, np.float32, 1.0) * 16) / 16  # runs of equal values: a small file
    files["tiff float32 100 MP"] = encode(Image.fromarray(steps.astype(np.float32)), "TIFF",
                                          compression="tiff_deflate")
    del steps
    palette = Image.fromarray(gradient(10000, 10000) % 16, "P")
    palette.putpalette([v for i in range(256) for v in (i * 16 % 256, i * 7 % 256, 255 - i)])
    files["png palette+alpha 100 MP"] = encode(palette, "PNG", transparency=0, compress_level=1)
    frames = [Image.new("RGB", (2000, 2000), (200, 30, 30)), Image.new("RGB", (2000, 2000), (30, 30, 200))]
    files["apng 150 x 2000x2000"] = encode(frames[0], "PNG", save_all=True,
                                           append_images=[frames[(i + 1) % 2] for i in range(149)])
    big = photo_like(10000, 10000)
    files["jpeg 100 MP"] = encode(big, "JPEG", quality=90)
    files["avif 48 MP (HEIC stand-in)"] = encode(big.crop((0, 0, 8000, 6000)), "AVIF", quality=60, speed=10)
    del big
    if heic:
        files["heic 48 MP"] = heic
    paths = {}
    for index, (kind, content) in enumerate(files.items()):
        path = folder / f"{index:02d}-{kind.split()[0]}.{kind.split()[0]}"
        if isinstance(content, Path):
            shutil.copy(content, path)
        else:
            path.write_bytes(content)
        paths[kind] = path
    return paths


def generate_in_a_child(folder: Path, heic: Path | None) -> dict[str, Path]:
    """Making the files takes gigabytes; a child does it, so this process stays small while it measures."""
    command = [sys.executable, __file__, "--generate", str(folder)] + (["--heic", str(heic)] if heic else [])
    done = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return {kind: Path(path) for kind, path in json.loads(done.stdout).items()}


def measure(mode: str, path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, mode, str(path), str(ROOT)], capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        return {"base": 0, "peak": 0, "seconds": 0.0, "error": done.stderr.strip().splitlines()[-1][:80]}
    return json.loads(done.stdout)


def scan_folder_peak(folder: Path) -> tuple[float, float, int]:
    """The CLI on the whole folder, default workers, embedded model: (peak RSS bytes, seconds, exit code),
    the peak read from the CLI's own VmHWM just before it exits."""
    script = ("import atexit, sys, time; from engine.cli import main\n"
              "start = time.perf_counter()\n"
              "code = main(sys.argv[1:])\n"
              "hwm = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
              "print(hwm * 1024, time.perf_counter() - start, code, file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", script, "scan", str(folder), "--no-cache", "--json"], cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=1200)
    peak, seconds, code = done.stderr.strip().splitlines()[-1].split()
    return float(peak), float(seconds), int(code)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--heic", type=Path, help="a real 48 MP HEIC to measure as well")
    parser.add_argument("--skip-folder", action="store_true", help="skip the CLI scan of the whole folder")
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)  # the child that makes the files
    args = parser.parse_args()
    if args.generate:
        print(json.dumps({kind: str(path) for kind, path in make_files(args.generate, args.heic).items()}))
        return 0
    with tempfile.TemporaryDirectory(prefix="synthspot-bombs-") as temp:
        folder = Path(temp)
        print("generating the files ...", file=sys.stderr, flush=True)
        paths = generate_in_a_child(folder, args.heic)
        header = (f"{'kind':28} {'file':>9} | {'engine peak':>11} {'pillow peak':>11} {'base':>5} | "
                  f"{'engine s':>8} {'pillow s':>8} | targets")
        print(header)
        print("-" * len(header))
        worst_ok = True
        for kind, path in paths.items():
            engine, pillow = measure("engine", path), measure("pillow", path)
            memory_ok = engine["peak"] <= 2 * pillow["peak"] + 200 * MB
            time_ok = engine["seconds"] <= 2 * pillow["seconds"] + 0.5
            worst_ok &= memory_ok and time_ok
            note = ("memory ok" if memory_ok else "MEMORY OVER") + ", " + ("time ok" if time_ok else "TIME OVER")
            for label, result in (("engine", engine), ("pillow", pillow)):
                if result["error"]:
                    note += f"; {label}: {result['error']}"
            print(f"{kind:28} {path.stat().st_size / MB:7.2f}MB | {engine['peak'] / MB:9.0f}MB "
                  f"{pillow['peak'] / MB:9.0f}MB {engine['base'] / MB:4.0f}M | {engine['seconds']:8.2f} "
                  f"{pillow['seconds']:8.2f} | {note}", flush=True)
        if not args.skip_folder:
            peak, seconds, code = scan_folder_peak(folder)
            print(f"\nsynthspot scan of the folder ({len(paths)} files, default 2 workers, embedded model): "
                  f"peak RSS {peak / MB:.0f} MB in {seconds:.1f} s, exit {code} "
                  f"({'under' if peak < 2048 * MB else 'OVER'} the 2 GB target)")
        return 0 if worst_ok else 1


if __name__ == "__main__":
    sys.exit(main())
