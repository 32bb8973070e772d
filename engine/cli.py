"""The ``synthspot`` command line: scan files, list models, serve the browser bridge."""

from __future__ import annotations

import argparse
import errno
import io
import logging
import os
import shlex
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import engine
from engine.files import expand_paths
from engine.model import PROVIDER_CHOICES, Detector, ModelLoadError, available_providers, resolve_provider
from engine.models import MODEL_ENV, NoModelError, default_model_path, list_models, resolve_model
from engine.cli_output import StreamingPrinter, format_table, list_skipped, summary
from engine.scanner import Scanner, ScanRequest
from engine.paths import display_path
from engine.store import STORE_ENV, Store, StoreError
from engine.store_errors import move_aside

EXIT_OK = 0
EXIT_OUTPUT_FAILED = 1  # the results could not be written out (a full disk)
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synthspot", description="Detect AI-generated images, locally.")
    parser.add_argument("--version", action="version", version=f"synthspot {engine.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def model_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("--model", type=Path, help="an exported SynthSpot .onnx model "
                             f"(default: ${MODEL_ENV} where set, else the embedded one)")
        command.add_argument("--provider", choices=PROVIDER_CHOICES, default="auto",
                             help="execution provider (default: CUDA when available, else CPU)")
        command.add_argument("--store", type=Path, help=f"results database (default: ${STORE_ENV} when set, "
                             "else results.sqlite3 in the user's data folder)")

    scan = sub.add_parser(
        "scan", help="scan image files and folders (recursively)",
        epilog="Exit status: 0 when the scan ran, whatever it found (a file that could not be read is a row "
               "of its own, counted in the summary); 1 when the results cannot be written out (a full disk); "
               "2 on usage errors, a model it cannot load and a results database it cannot use; 130 on "
               "Ctrl-C, after printing what had finished.")
    scan.add_argument("paths", nargs="+", help="image files or folders")
    model_options(scan)
    output = scan.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print results as JSON lines")
    output.add_argument("--csv", action="store_true", help="print results as CSV")
    scan.add_argument("--no-cache", action="store_true",
                      help="leave the results database alone: scan every file afresh and store nothing")
    scan.add_argument("--no-recursive", action="store_true", help="do not descend into sub-folders")
    scan.add_argument("--workers", type=worker_count, default=2, help="decoding threads (default 2)")
    scan.add_argument("--move-corrupt-store", action="store_true",
                      help="if the results database is damaged, rename it aside and start a new one")

    models = sub.add_parser("models", help="list available models and the provider each would run on")
    models.add_argument("--provider", choices=PROVIDER_CHOICES, default="auto")

    serve = sub.add_parser("serve", help="run the localhost bridge for the browser extension, without the app")
    model_options(serve)
    serve.add_argument("--port", type=port_number, default=None,
                       help="port on 127.0.0.1, 0 for any free one (default: the bridge's default)")
    serve.add_argument("--pair", action="store_true",
                       help="accept a browser's pairing request, approved here on the terminal")
    serve.add_argument("--move-corrupt-store", action="store_true",
                       help="if the results database is damaged, rename it aside and start a new one")
    parser.set_defaults(commands={"scan": scan, "models": models, "serve": serve})
    return parser


def worker_count(text: str) -> int:
    """--workers: 1 or more decoding threads (0 or -3 were taken, and meant one)."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of threads: {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"{count} decoding threads: give 1 or more")
    return count


def port_number(text: str) -> int:
    """A TCP port for argparse: a usage error in words, not a traceback from bind()."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range (0 to 65535)")
    return port


def main(argv: list[str] | None = None) -> int:
    output_closed = sys.stdout is None  # `>&-`: what scan and models print goes nowhere, said at the end
    _stand_in_for_closed_streams()
    parser = build_parser()
    words = sys.argv[1:] if argv is None else list(argv)
    command = next((word for word in words if word in parser.get_default("commands")), None)
    if command and words and words[0].startswith("-") and words[0] not in ("-h", "--help", "--version"):
        # `synthspot --model M scan x`: argparse would call M an invalid command; say where options go.
        options = [word for word in words if word != command]
        print(f"synthspot: options go after the command, as in: synthspot {command} {shlex.join(options)}",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # said by the command's own parser, with its usage line, not the top level's
            args.commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    except SystemExit as exc:  # argparse exits 2 on usage errors and 0 on --help
        return int(exc.code or 0)
    _never_fail_on_encoding()
    real_stdout, real_stderr = sys.stdout, sys.stderr
    sys.stderr = _BestEffort(sys.stderr)
    if args.command == "serve":  # its lines are status: a full disk there must not stop the bridge
        sys.stdout = _BestEffort(sys.stdout)
    try:
        return _run(args, output_closed)
    finally:
        sys.stdout, sys.stderr = real_stdout, real_stderr


def _run(args, output_closed: bool) -> int:
    logging.basicConfig(level=logging.WARNING, format="synthspot: %(message)s")
    # Pillow logs its decoders' complaints too; the reason is already in the file's error row.
    logging.getLogger("PIL").setLevel(logging.CRITICAL)
    try:
        if args.command in ("scan", "models") and output_closed:
            code = cmd_scan(args) if args.command == "scan" else cmd_models(args)
            print("synthspot: standard output is closed: nothing was printed"
                  + (" (the results are stored)" if args.command == "scan" and not args.no_cache else ""),
                  file=sys.stderr)
            return code if code != EXIT_OK else EXIT_OUTPUT_FAILED
        if args.command == "scan":
            return cmd_scan(args)
        if args.command == "models":
            return _listed(args)
        if args.command == "serve":
            return cmd_serve(args)
    except ModelLoadError as exc:  # NoModelError included
        print(f"synthspot: {shown(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as exc:
        print(f"synthspot: {shown(str(exc))}", file=sys.stderr)
        if exc.corrupt:
            print(f"synthspot: to keep it for inspection and start afresh, run again with --move-corrupt-store, "
                  f"or move it yourself: mv {shlex.quote(str(exc.path))} {shlex.quote(str(exc.path))}.corrupt",
                  file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("synthspot: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_USAGE


def load_detector(model: Path | None, provider: str) -> Detector:
    try:
        return Detector(resolve_model(model, provider), provider=provider)
    except ModelLoadError as exc:
        if model is None and os.environ.get(MODEL_ENV):  # a file nobody named on this command line: say whence
            raise ModelLoadError(f"{exc} (named by ${MODEL_ENV})") from None
        raise


def _missing(path: str) -> bool:
    """Not there at all: no such name, or a name under a file (``photo.jpg/x``). A path there but not ours to
    read (a locked folder) is scanned, and so is a name too long for the system: its row says why."""
    try:
        os.lstat(path)
    except OSError as exc:
        return exc.errno in (errno.ENOENT, errno.ENOTDIR)
    return False


def cmd_scan(args) -> int:
    missing = [p for p in args.paths if _missing(p)]
    if missing:
        stdin = "; reading images from standard input ('-') is not supported" if "-" in missing else ""
        # Some there, some not (a batch from xargs, one deleted meanwhile): the others are scanned, the missing
        # ones said here only (not error rows in the shared history). None there: a usage error.
        scanned_anyway = "" if len(missing) == len(args.paths) else " (not scanned; the others are)"
        print(f"synthspot: no such file or folder: {', '.join(map(display_path, missing))}{stdin}{scanned_anyway}",
              file=sys.stderr)
        if not scanned_anyway:
            return EXIT_USAGE
    detector = load_detector(args.model, args.provider)
    store = None if args.no_cache else open_store(args.store, args.move_corrupt_store)
    skipped: list[tuple[str, str]] = []
    files = list(expand_paths([p for p in args.paths if p not in missing], recursive=not args.no_recursive,
                              skipped=skipped))
    list_skipped(skipped)
    if not files:  # an empty folder printed an empty table and "0 scanned: nothing"
        given = [display_path(p) for p in args.paths if p not in missing]
        print(f"synthspot: no images found in {', '.join(given)}"
              + (" (sub-folders were searched too)" if not args.no_recursive else ""), file=sys.stderr)
    mode = "json" if args.json else "csv" if args.csv else "table"
    printer = StreamingPrinter(mode)
    progress = _Progress(len(files)) if sys.stderr.isatty() and mode == "table" else None
    requests = [ScanRequest(path=str(f), source="cli") for f in files]
    scanner = Scanner(detector, store=store, workers=args.workers)
    job = scanner.submit(requests, on_result=printer, on_progress=progress.update if progress else None)
    ctrl_c = threading.Event()
    with _ctrl_c_sets(ctrl_c):
        # Short waits: the main thread writes what finished, notices Ctrl-C and a closed pipe.
        while not job.wait(0.1):
            printer.drain()
            if printer.broken or ctrl_c.is_set():
                break
        interrupted = ctrl_c.is_set() and not job.wait(0)  # Ctrl-C as the last file finished cut nothing short
        if interrupted or printer.broken:
            if progress:
                progress.stop()  # what is cancelled now reports in as done: the bar stays where the scan stopped
            job.cancel()
        printer.close()  # still under the handler: a Ctrl-C now would otherwise cut a line as it is written
    scanner.close(wait=not (interrupted or printer.broken))
    if progress:
        progress.close()
    if printer.failed:
        return _output_failed(printer.failed, store is not None)
    if printer.broken:
        _silence_stdout()
        return EXIT_OK
    # The summary counts what was printed: results finishing after an interrupt are not.
    results = job.ordered_results() if mode == "table" else printer.printed
    line = f"{summary(results, skipped, len(requests) if interrupted else None)} · model " \
           f"{detector.metadata.model_id} on {detector.active_provider.upper()}"
    try:
        if mode == "table":
            print(format_table(results))
            print(f"\n{line}")
        elif interrupted or skipped:
            print(f"synthspot: {line}", file=sys.stderr)
        sys.stdout.flush()
    except BrokenPipeError:  # ``| head`` read what it wanted
        _silence_stdout()
        return EXIT_OK
    except OSError as exc:
        return _output_failed(exc.strerror or str(exc), store is not None)
    if interrupted:
        kept = "the results above are stored" if store is not None else "the results above were not stored (--no-cache)"
        print(f"synthspot: interrupted; {kept}, the rest were not scanned", file=sys.stderr, flush=True)
        # Now, not after the image still decoding: the interpreter would join the decoding threads at exit.
        # Everything printed is flushed and every stored result committed (each in its own transaction).
        scanner.release_claims()
        os._exit(EXIT_INTERRUPTED)
    return EXIT_OK


def refuse_missing_folder(path: Path | None) -> None:
    """A store named on the command line (or by $SYNTHSPOT_STORE) goes in a folder that exists: a mistyped
    one made a new tree and an empty store, and the scan ran without the history it was meant to use."""
    named = path or (Path(os.environ[STORE_ENV]) if os.environ.get(STORE_ENV) else None)
    if named is not None and not named.parent.is_dir():
        what = "is a file, not a folder" if named.parent.exists() else "does not exist"
        raise StoreError(f"the folder {named.parent} {what}", named,
                         cli_hint="make it first, or check the --store path" if path else f"check ${STORE_ENV}")


def open_store(path: Path | None, move_corrupt: bool) -> Store:
    """The results store, checked once up front: a bad one is one clear message (exit 2), not a traceback a file."""
    refuse_missing_folder(path)
    try:
        return Store(path, verify=True)
    except StoreError as exc:
        if not (exc.corrupt and move_corrupt):
            raise
        moved = move_aside(exc.path)
        print(f"synthspot: moved the damaged store aside to {display_path(str(moved))}; starting a new one",
              file=sys.stderr)
        return Store(path, verify=True)


@contextmanager
def _ctrl_c_sets(event: threading.Event):
    """While scanning, Ctrl-C only sets ``event``: a KeyboardInterrupt raised in the middle of writing a JSON
    line would cut it in half. A second Ctrl-C after that ends the process at once (exit 130): not by an
    exception, which would leave the interpreter tearing down under ONNX Runtime's running threads (an
    abort, "terminate called without an active exception")."""
    def first_interrupt(signum, frame):
        event.set()
        signal.signal(signal.SIGINT, second_interrupt)

    def second_interrupt(signum, frame):
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
        print("synthspot: interrupted", file=sys.stderr, flush=True)
        os._exit(EXIT_INTERRUPTED)
    try:
        previous = signal.signal(signal.SIGINT, first_interrupt)
    except ValueError:  # not the main thread (an embedding caller): Ctrl-C is theirs
        yield
        return
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGINT) in (first_interrupt, second_interrupt):
            signal.signal(signal.SIGINT, previous)


def _output_failed(reason: str, stored: bool) -> int:
    kept = "those scanned are in the results store" if stored else "nothing was stored (--no-cache)"
    print(f"synthspot: the results could not be written out ({reason}); {kept}", file=sys.stderr, flush=True)
    _silence_stdout()  # the interpreter's own flush at exit would fail the same way, with a traceback
    return EXIT_OUTPUT_FAILED


def _stand_in_for_closed_streams() -> None:
    """Started with stdout or stderr closed (``2>&-``, some cron set-ups), Python has None there: messages
    meant for stderr went to stdout, into the JSON stream, and a write to either crashed the scan."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 (for the process's life)


def _silence_stdout() -> None:
    """The reader of our output has gone (``| head``): flushing at exit would only print a BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


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
    if os.environ.get(MODEL_ENV):  # the default is that file, whether or not it is among those listed
        state = "" if default is not None and default.is_file() else ": no such file, so scans fail until it is fixed"
        print(f"default model: ${MODEL_ENV} = {display_path(str(default))}{state}")
    for info in models:
        mark = "*" if default and info.path == default else " "
        where = "embedded" if info.embedded else "user"
        if info.metadata is None:
            print(f"{mark} {display_path(str(info.path))}  [{where}]  unusable: {shown(info.problem or '')}")
            continue
        meta = info.metadata
        experts = f", experts: {', '.join(meta.expert_names)}" if meta.expert_names else ""
        print(f"{mark} {meta.name} {meta.version} ({meta.precision}, crop {meta.crop_size}px, {meta.aggregation}"
              f"{experts})  [{where}] {display_path(str(info.path))}")
    return EXIT_OK


def _listed(args) -> int:
    """``synthspot models``, with its output's failures said as scan says them: one line, exit 1."""
    try:
        code = cmd_models(args)
        sys.stdout.flush()
    except BrokenPipeError:  # ``| head`` read what it wanted
        _silence_stdout()
        return EXIT_OK
    except OSError as exc:
        print(f"synthspot: the list could not be written out ({exc.strerror or exc})", file=sys.stderr, flush=True)
        _silence_stdout()  # the interpreter's own flush at exit would fail the same way, with a traceback
        return EXIT_OUTPUT_FAILED
    return code


def cmd_serve(args) -> int:
    from engine.bridge import serve_forever  # the bridge pulls in aiohttp; only load it when asked

    detector = load_detector(args.model, args.provider)
    store = open_store(args.store, args.move_corrupt_store)  # checked as scan checks it: a damaged one refused
    return serve_forever(detector, store, port=args.port, pair=args.pair)


def shown(message: str) -> str:
    """A message that quotes names (a model file's, a store's) made safe for the terminal, line by line: an
    escape sequence in a file name must not act on it."""
    return "\n".join(display_path(line) for line in message.split("\n"))


class _BestEffort:
    """A stream for notices (stderr) and serve's status lines, told if they can be: a full log partition
    (``2>>scan.log``) or a closed pipe there must not end a scan whose results go to stdout and the store
    (the first notice raised, and stopped it), nor a bridge that browsers use."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except (OSError, ValueError):
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError):
            pass

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _never_fail_on_encoding() -> None:
    """Output is already escaped text; an exotic stdout encoding (ASCII, a code page) must not turn a
    non-Latin file name into a traceback after the scan ran."""
    for stream in (sys.stdout, sys.stderr):
        if not isinstance(stream, io.TextIOWrapper):  # tests capture with their own streams
            continue
        try:
            stream.reconfigure(errors="backslashreplace")
        except ValueError:
            pass


class _Progress:
    """A one-line progress bar on stderr (only when stderr is a terminal)."""

    def __init__(self, total: int):
        self.total = total
        self.started = time.monotonic()
        self._stopped = False

    def stop(self) -> None:
        self._stopped = True

    def update(self, done: int, total: int) -> None:
        if self._stopped:
            return
        width = 30
        filled = int(width * done / max(total, 1))
        rate = done / max(time.monotonic() - self.started, 1e-6)
        # "\x1b[K" clears what a longer line before left behind.
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {rate:.1f} img/s\x1b[K")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


if __name__ == "__main__":
    sys.exit(main())
