"""The ``synthspot`` command line: scan files, list models, serve the browser bridge."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from engine.contract import ContractError
from engine.files import expand_paths
from engine.model import PROVIDER_CHOICES, Detector, ModelLoadError, available_providers, resolve_provider
from engine.models import NoModelError, default_model_path, list_models
from engine.result import VERDICT_LABELS, Result, to_csv
from engine.scanner import Scanner, ScanRequest
from engine.store import Store

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synthspot", description="Detect AI-generated images, locally.")
    sub = parser.add_subparsers(dest="command", required=True)

    def model_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("--model", type=Path, help="an exported SynthSpot .onnx model (default: the embedded one)")
        command.add_argument("--provider", choices=PROVIDER_CHOICES, default="auto",
                             help="execution provider (default: CUDA when available, else CPU)")
        command.add_argument("--store", type=Path, help="results database (default: the user's data folder)")

    scan = sub.add_parser("scan", help="scan image files and folders (recursively)")
    scan.add_argument("paths", nargs="+", help="image files or folders")
    model_options(scan)
    output = scan.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print results as JSON lines")
    output.add_argument("--csv", action="store_true", help="print results as CSV")
    scan.add_argument("--no-cache", action="store_true", help="scan again even when a result is stored")
    scan.add_argument("--no-recursive", action="store_true", help="do not descend into sub-folders")
    scan.add_argument("--workers", type=int, default=2, help="decoding threads (default 2)")

    models = sub.add_parser("models", help="list available models and the provider each would run on")
    models.add_argument("--provider", choices=PROVIDER_CHOICES, default="auto")

    serve = sub.add_parser("serve", help="run the localhost bridge for the browser extension, without the app")
    model_options(serve)
    serve.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: the bridge's default)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors and 0 on --help
        return int(exc.code or 0)
    logging.basicConfig(level=logging.WARNING, format="synthspot: %(message)s")
    try:
        if args.command == "scan":
            return cmd_scan(args)
        if args.command == "models":
            return cmd_models(args)
        if args.command == "serve":
            return cmd_serve(args)
    except (NoModelError, ModelLoadError, ContractError) as exc:
        print(f"synthspot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("synthspot: interrupted", file=sys.stderr)
        return 130
    return EXIT_USAGE


def load_detector(model: Path | None, provider: str) -> Detector:
    path = model or default_model_path(resolve_provider(provider))
    return Detector(path, provider=provider)


def cmd_scan(args) -> int:
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"synthspot: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    detector = load_detector(args.model, args.provider)
    files = list(expand_paths(args.paths, recursive=not args.no_recursive))
    store = None if args.no_cache else Store(args.store)
    progress = _Progress(len(files)) if sys.stderr.isatty() and not (args.json or args.csv) else None
    requests = [ScanRequest(path=str(f), source="cli") for f in files]
    with Scanner(detector, store=store, workers=args.workers) as scanner:
        job = scanner.submit(requests, on_progress=progress.update if progress else None)
        job.wait()
    by_request = job.results_by_request()
    results = [by_request[id(r)] for r in requests if id(r) in by_request]
    if progress:
        progress.close()
    if args.json:
        for result in results:
            print(result.to_json())
    elif args.csv:
        sys.stdout.write(to_csv(results))
    else:
        print(format_table(results))
        print(f"\n{_summary(results)} · model {detector.metadata.model_id} on {detector.active_provider.upper()}")
    return EXIT_OK


def cmd_models(args) -> int:
    provider = resolve_provider(args.provider)
    models = list_models()
    print(f"providers available: {', '.join(p.upper() for p in available_providers())}; "
          f"models would run on {provider.upper()}")
    if not models:
        print("no models installed (embedded or in the user's models folder); pass --model PATH to scan")
        return EXIT_OK
    try:
        default = default_model_path(provider)
    except NoModelError:
        default = None
    for info in models:
        mark = "*" if default and info.path == default else " "
        where = "embedded" if info.embedded else "user"
        if info.metadata is None:
            print(f"{mark} {info.path}  [{where}]  unusable: {info.problem}")
            continue
        meta = info.metadata
        experts = f", experts: {', '.join(meta.expert_names)}" if meta.expert_names else ""
        print(f"{mark} {meta.name} {meta.version} ({meta.precision}, crop {meta.crop_size}px, {meta.aggregation}"
              f"{experts})  [{where}] {info.path}")
    return EXIT_OK


def cmd_serve(args) -> int:
    from engine.bridge import serve_forever  # the bridge pulls in aiohttp; only load it when asked

    detector = load_detector(args.model, args.provider)
    return serve_forever(detector, Store(args.store), port=args.port)


def format_table(results: list[Result]) -> str:
    rows = [("VERDICT", "P(AI)", "SIZE", "FORMAT", "FILE", "NOTES")]
    for r in results:
        notes = r.error or "; ".join([*r.reasons[:1], *(h.label for h in r.provenance)])
        rows.append((
            VERDICT_LABELS.get(r.verdict, r.verdict),
            "" if r.probability is None else f"{r.probability:.2f}",
            f"{r.width}x{r.height}" if r.width else "",
            r.format,
            r.path,
            notes,
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row[:5], widths)) + "  " + row[5]
                     for row in rows).rstrip()


def _summary(results: list[Result]) -> str:
    counts = {label: 0 for label in VERDICT_LABELS}
    for result in results:
        counts[result.verdict] = counts.get(result.verdict, 0) + 1
    parts = [f"{counts[k]} {VERDICT_LABELS[k].lower()}" for k in VERDICT_LABELS if counts.get(k)]
    return f"{len(results)} scanned: " + (", ".join(parts) if parts else "nothing")


class _Progress:
    """A one-line progress bar on stderr (only when stderr is a terminal)."""

    def __init__(self, total: int):
        self.total = total
        self.started = time.monotonic()

    def update(self, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        rate = done / max(time.monotonic() - self.started, 1e-6)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {rate:.1f} img/s")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


if __name__ == "__main__":
    sys.exit(main())
