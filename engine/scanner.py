"""The scan queue: image bytes in, :class:`Result` out, for every way into the app.

Reading, hashing, decoding and cropping run on a small thread pool (Pillow and
hashlib release the GIL); one inference thread gathers crops from several
images into batches for the model. Results are cached in the :class:`Store`
by (sha256, model), so the same bytes are never scanned twice by one model,
even when they arrive twice in the same job. Scoring a scanned image from the
model's outputs is :func:`engine.result.score_result`. Given a
:class:`PendingWork`, a scanner keeps each file there from :meth:`Scanner.submit`
until its outcome; resuming that list is its owner's business (the app's scan
service), not the scanner's.
"""

from __future__ import annotations

import collections
import errno
import hashlib
import logging
import os
import queue
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from collections.abc import Callable, Iterable

import numpy as np

from engine import contract
from engine.decode import MAX_FILE_BYTES, DecodeError, open_image
from engine.files import NotReadable, read_regular_file
from engine.memory import DECODE_BUDGET, MemoryBudget
from engine.claims import Abandoned, ClaimBook
from engine.model import Detector, ModelOutputs
from engine.pending import PendingWork
from engine.paths import display_path
from engine.provenance import provenance_hints
from engine.result import ImageTraits, Result, UnusableScore, fine_detail, score_result
from engine.store import Store

log = logging.getLogger(__name__)



@dataclass
class ScanRequest:
    """One image to scan: a file path, or bytes that arrived some other way."""

    path: str = ""
    data: bytes | None = None
    source: str = "cli"
    page_url: str = ""
    image_url: str = ""
    # The sha256 of the bytes when whoever made the request hashed them already (the folder watcher):
    # bytes the store knows are then not read again. What is read is hashed anyway, so a file that
    # changed since is stored under its own bytes.
    sha256: str = ""
    # A file gone when its turn comes ends unscanned, not as an error row: a download the person deleted
    # before it was scanned was thrown away, not lost (the folder watcher's requests).
    gone_is_unscanned: bool = False
    # Scanned again even where the store knows the bytes (Rescan): the stored result is replaced once the new
    # one is there, and stays if the scan is cancelled.
    rescan: bool = False


class ScannerClosed(RuntimeError):
    """The scanner was closed (another model chosen, the app quitting) before the scan had its result."""


ResultCallback = Callable[[Result], None]
ProgressCallback = Callable[[int, int], None]


class ScanJob:
    """A batch of requests in flight. Thread-safe; callbacks run on scanner threads.

    The scanner reports each request exactly once (:meth:`report`): with its result, or with None when it
    ended unscanned (cancelled, or the scanner closed); the job is finished when every request has reported."""

    def __init__(self, requests: list[ScanRequest], on_result: ResultCallback | None = None,
                 on_progress: ProgressCallback | None = None):
        self.requests = list(requests)
        self.total = len(self.requests)
        self.results: list[Result] = []
        self._request_ids: list[int] = []
        self._done = 0
        self._unscanned = 0
        self._on_result = on_result
        self._on_progress = on_progress
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._cancelled = threading.Event()
        if self.total == 0:
            self._finished.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def done(self) -> int:
        return self._done

    @property
    def unscanned(self) -> int:
        """Requests that ended without a result: cancelled, or dropped because the scanner closed."""
        return self._unscanned

    def cancel(self) -> None:
        """Stop scanning what has not started; what is already being scanned still reports."""
        self._cancelled.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)

    def ordered_results(self) -> list[Result]:
        """The results so far in the order of the requests (``results`` is in the order they finished)."""
        with self._lock:
            by_request = dict(zip(self._request_ids, self.results, strict=True))
        return [by_request[id(r)] for r in self.requests if id(r) in by_request]

    def report(self, request: ScanRequest, result: Result | None) -> None:
        """The one outcome of ``request``: its result, or None when it ended unscanned. Called by the scanner."""
        with self._lock:
            self._done += 1
            if result is None:
                self._unscanned += 1
            else:
                self.results.append(result)
                self._request_ids.append(id(request))
            done, finished = self._done, self._done >= self.total
        try:
            if result is not None and self._on_result:
                self._on_result(result)
            if self._on_progress:
                self._on_progress(done, self.total)
        except Exception:
            log.exception("scan callback failed")
        if finished:
            self._finished.set()


@dataclass(eq=False)
class _Prepared:
    job: ScanJob
    request: ScanRequest
    result: Result
    crops: np.ndarray
    boxes: list[contract.CropBox]  # on the pixels as stored
    started: float
    orientation: int = 1  # EXIF: how the stored pixels show
    traits: ImageTraits = ImageTraits()
    followers: list[tuple[ScanJob, ScanRequest]] = field(default_factory=list)
    first: int = 0  # crops the first run scores: all of them, or the cascade's first stage
    scored: int = 0  # crops scored so far
    outputs: list[ModelOutputs] = field(default_factory=list)  # this image's share of each run
    model_ms: float = 0.0

    @property
    def next_count(self) -> int:
        return (self.first if self.scored == 0 else len(self.boxes)) - self.scored

    def joined(self, name: str):
        """One output (``logits``, ``expert_weights``, ``artifact_map``) over every run so far."""
        parts = [getattr(output, name) for output in self.outputs]
        return None if parts[0] is None else np.concatenate(parts)


class Scanner:
    def __init__(self, detector: Detector, store: Store | None = None, workers: int = 2, batch_crops: int = 16,
                 pending: PendingWork | None = None, decode_budget: MemoryBudget | None = None,
                 on_store_failure: Callable[[Exception], None] | None = None):
        self.detector = detector
        self.decode_budget = decode_budget or DECODE_BUDGET
        self.store = store
        self.batch_crops = max(1, batch_crops)
        self.pending = pending  # files stay there from submit() until they have their outcome
        self.on_store_failure = on_store_failure  # a result the store would not take (a full disk): told here
        self.model_id = detector.metadata.model_id
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="synthspot-prep")
        # A person waiting on one image (the browser's "Check image") is not queued behind a dropped folder of
        # thousands: its own preparer, and then only the few images already prepared are ahead of it.
        self._urgent_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="synthspot-prep-urgent")
        # Bounded: preparation waits for inference instead of racing ahead with crops and store claims.
        self._ready: queue.Queue[_Prepared | None] = queue.Queue(maxsize=max(2, 2 * workers))
        # Images whose first crops did not settle them (the model's cascade), for their remaining crops:
        # the inference thread's own, so it never waits on the bounded queue it drains.
        self._second_stage: collections.deque[_Prepared] = collections.deque()
        self._in_flight: dict[str, _Prepared] = {}
        self._in_flight_lock = threading.Lock()
        # What this scanner scans, so other processes wait; a result of another calibration is no answer.
        self._claims = ClaimBook(store, self.model_id, detector.metadata.verdict_fingerprint)
        self._closed = False
        self._inference = threading.Thread(target=self._inference_loop, name="synthspot-infer", daemon=True)
        self._inference.start()

    # --- public API -----------------------------------------------------------

    def submit(self, requests: Iterable[ScanRequest], on_result: ResultCallback | None = None,
               on_progress: ProgressCallback | None = None, urgent: bool = False) -> ScanJob:
        """Queue ``requests``; ``urgent`` ones (someone waiting on them) go ahead of every queued one."""
        if self._closed:
            raise ScannerClosed("the scanner is closed")
        pool = self._urgent_pool if urgent else self._pool
        requests = list(requests)
        job = ScanJob(requests, on_result, on_progress)
        refused: dict[str, Result] = {}
        if self.pending is not None:
            self.pending.add((r.path, r.source) for r in requests if r.path and r.data is None)
            refused = self.pending.screen(requests)
        for position, request in enumerate(requests):
            if request.path in refused:  # it stopped the app before: its error row, and it stays listed
                self._record_error(refused[request.path], request)
                job.report(request, refused[request.path])
                continue
            try:
                future = pool.submit(self._prepare, job, request)
            except RuntimeError:  # closed by another thread meanwhile: the rest ends unscanned, not unreported
                for unsubmitted in requests[position:]:
                    job.report(unsubmitted, None)
                break
            # close() cancels queued work; each request still needs its one outcome, or its job never finishes.
            future.add_done_callback(partial(_report_if_cancelled, job, request))
        return job

    def scan(self, requests: Iterable[ScanRequest], timeout: float | None = None, urgent: bool = False) -> list[Result]:
        """Scan and wait; results in request order."""
        job = self.submit(requests, urgent=urgent)
        job.wait(timeout)
        return job.ordered_results()

    def scan_bytes(self, data: bytes, source: str = "browser", path: str = "", **urls) -> Result:
        """One image someone is waiting on, ahead of queued work; :class:`ScannerClosed` where the scanner closed
        before its turn."""
        results = self.scan([ScanRequest(path=path, data=data, source=source, **urls)], urgent=True)
        if not results:
            raise ScannerClosed("the scanner closed before the image was scanned")
        return results[0]

    def close(self, wait: bool = True) -> None:
        """Stop; what has not started stays pending and is reported to its job as unscanned. ``wait=False``
        (Ctrl-C) returns at once and lets decodes in progress finish on their own instead of holding the user at
        the prompt."""
        if self._closed:
            return
        self._closed = True
        self._urgent_pool.shutdown(wait=wait, cancel_futures=True)
        self._pool.shutdown(wait=wait, cancel_futures=True)
        if wait and self.pending is not None:  # every decode has ended: what did not finish, did not crash us
            self.pending.clear_started()
        try:
            self._ready.put(None, timeout=None if wait else 0.1)
        except queue.Full:  # the inference thread is a daemon and stops with the process
            return
        # Even without waiting for decodes, let a model run in progress end: an interpreter that exits
        # while ONNX Runtime is inside a run aborts ("terminate called without an active exception").
        self._inference.join(timeout=30 if wait else 2)

    def release_claims(self) -> None:
        """Give up every claim this scanner holds (a process about to exit without waiting for its decodes):
        another process sharing the store takes the bytes over at once, not when the claims go stale."""
        self._claims.release_all()

    def __enter__(self) -> Scanner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- preparation (pool threads) -------------------------------------------

    def _prepare(self, job: ScanJob, request: ScanRequest) -> None:
        try:
            self._prepare_unsafe(job, request)
        except Exception as exc:  # never lose a request to an unexpected bug
            log.exception("preparing %s failed", display_path(request.path) or "bytes")
            # A pool future's exception is never looked at: if reporting failed here too, the job would wait forever.
            self._finish(job, request, self._error_result(request, "", f"internal error: {exc}", time.perf_counter()))

    def _prepare_unsafe(self, job: ScanJob, request: ScanRequest) -> None:
        started = time.perf_counter()
        if self._closed:  # shutting down: the request stays pending for the next start
            job.report(request, None)
            return
        if job.cancelled:
            self._finish(job, request, None)
            return
        # A rescan takes no stored result made before it began (another process's newer one is welcome).
        newer_than = time.time() if request.rescan else 0.0
        if request.sha256 and not request.rescan and self._reuse_stored(job, request, request.sha256):
            return  # known bytes, hashed by whoever asked: not read again
        data, error = _read(request)
        if error and request.gone_is_unscanned and not os.path.lexists(request.path):
            self._finish(job, request, None)
            return
        if error:
            self._finish(job, request, self._error_result(request, "", error, started))
            return
        sha256 = hashlib.sha256(data).hexdigest()
        read_done = time.perf_counter()
        if sha256 != request.sha256 and not request.rescan and self._reuse_stored(job, request, sha256):
            return
        with self._in_flight_lock:
            leader = self._in_flight.get(sha256)
            if leader is not None:  # the same bytes are being scanned right now: wait for that result
                leader.followers.append((job, request))
                return
            placeholder = _Prepared(job, request, Result(sha256=sha256), np.empty(0), [], started)
            self._in_flight[sha256] = placeholder
        try:
            stored = self._claims.claim_or_wait(sha256, give_up=lambda: self._closed or job.cancelled,
                                                newer_than=newer_than)
        except Abandoned:
            self._release(sha256, None)
            return
        if stored is not None:  # another process scanned these bytes meanwhile: share its result
            result = _for_request(stored, request)
            result.cached = True
            self._record_sighting(result)
            self._release(sha256, result)
            return
        if self.pending is not None and request.path and request.data is None:
            self.pending.started(request.path)  # a file that crashes decoding or the model is not resumed for ever
        try:
            prepared = self._decode_and_crop(job, request, data, sha256, started, read_done)
        except Exception as exc:  # whatever happens, release the bytes: others may be waiting on them
            if not isinstance(exc, DecodeError):
                log.exception("decoding %s failed", request.path or "bytes")
            message = str(exc) if isinstance(exc, DecodeError) else f"internal error while decoding: {exc}"
            self._release(sha256, self._error_result(request, sha256, message, started, len(data)))
            return
        with self._in_flight_lock:
            prepared.followers = placeholder.followers  # the same list: later followers land there too
            self._in_flight[sha256] = prepared
        while not self._closed:
            try:
                self._ready.put(prepared, timeout=0.5)
                return
            except queue.Full:
                continue
        self._release(sha256, None)  # closed while waiting for the queue: it stays pending, its claim goes

    def _reuse_stored(self, job: ScanJob, request: ScanRequest, sha256: str) -> bool:
        """Report the stored result for these bytes, if the store has one (True)."""
        if not self.store:
            return False
        try:
            stored = self.store.get(sha256, self.model_id, self.detector.metadata.verdict_fingerprint)
        except Exception as exc:  # a store that breaks mid-scan costs the cache, not the scan
            log.warning("could not look %s up in the store: %s", display_path(request.path) or "bytes", exc)
            return False
        if stored is None:
            return False
        result = _for_request(stored, request)
        result.cached = True
        self._record_sighting(result)
        self._finish(job, request, result)
        return True

    def _decode_and_crop(self, job, request, data, sha256, started, read_done) -> _Prepared:
        meta = self.detector.metadata
        with open_image(data) as opened:
            cost = opened.decode_bytes
            if meta.crop_plan == "texture":  # the luminance it ranks windows on, float32 at half resolution
                cost += opened.width * opened.height * 4
            # Pixels exist only inside the reservation: the crops leave it, the full image never does.
            with self.decode_budget.reserve(cost):
                image = opened.decode()
                decoded = time.perf_counter()
                boxes = contract.plan_for(image.rgb, meta.crop_size, meta.max_crops, meta.crop_plan)
                crops = contract.extract_crops(image.rgb, boxes)
                image_format, width, height, jpeg_quality = image.format, image.width, image.height, image.jpeg_quality
                orientation = image.orientation
                traits = ImageTraits(image.mode, image.animated, fine_detail(crops))
                del image
        cropped = time.perf_counter()
        hints = provenance_hints(data, image_format)
        done = time.perf_counter()
        result = Result(
            sha256=sha256,
            source=request.source,
            path=request.path,
            width=width,
            height=height,
            format=image_format,
            jpeg_quality=jpeg_quality,
            provenance=hints,
            model_name=meta.name,
            model_version=meta.version,
            model_fingerprint=meta.verdict_fingerprint,
            provider=self.detector.active_provider,
            file_size=len(data),
            page_url=request.page_url,
            image_url=request.image_url,
            timings_ms={
                "read": _ms(read_done - started),
                "decode": _ms(decoded - read_done),
                "crops": _ms(cropped - decoded),
                "provenance": _ms(done - cropped),
            },
        )
        return _Prepared(job, request, result, crops, boxes, started, orientation, traits,
                         first=contract.first_stage(len(boxes), meta))

    # --- inference (one thread) -----------------------------------------------

    def _inference_loop(self) -> None:
        while True:
            item = self._second_stage.popleft() if self._second_stage else self._ready.get()
            if item is None:
                while self._second_stage:  # second stages still owed before stopping
                    self._score([self._second_stage.popleft()])
                return
            batch = [item]
            crops = item.next_count
            # Gather more images while they are ready, up to the batch size.
            while crops < self.batch_crops:
                more: _Prepared | None
                if self._second_stage:
                    more = self._second_stage.popleft()
                else:
                    try:
                        more = self._ready.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        self._ready.put(None)
                        break
                batch.append(more)
                crops += more.next_count
            self._score(batch)

    def _score(self, batch: list[_Prepared]) -> None:
        try:
            self._run_batch(batch)
        except Exception:
            if len(batch) == 1:
                self._fail_batch(batch, "the model failed")
                return
            # One image's crops must not fail its batch-mates: score each alone, so only it fails.
            for prepared in batch:
                try:
                    self._run_batch([prepared])
                except Exception:
                    self._fail_batch([prepared], "the model failed")

    def _fail_batch(self, batch: list[_Prepared], what: str) -> None:
        exc = sys.exc_info()[1]
        log.exception("%s on %s", what, ", ".join(display_path(p.request.path) or "bytes" for p in batch))
        for prepared in batch:
            self._release(prepared.result.sha256, self._error_result(
                prepared.request, prepared.result.sha256, f"{what}: {exc}", prepared.started,
                prepared.result.file_size))

    def _run_batch(self, batch: list[_Prepared]) -> None:
        live = []
        for prepared in batch:
            if prepared.job.cancelled and not prepared.followers:
                self._release(prepared.result.sha256, None)
            else:
                live.append(prepared)
        if not live:
            return
        counts = [p.next_count for p in live]
        started = time.perf_counter()
        outputs = self.detector.run(np.concatenate([p.crops[p.scored:p.scored + n] for p, n in zip(live, counts,
                                                                                                   strict=True)]))
        model_ms = _ms(time.perf_counter() - started)
        total_crops = sum(counts)
        offset = 0
        meta = self.detector.metadata
        for prepared, count in zip(live, counts, strict=True):
            window = slice(offset, offset + count)
            offset += count
            try:  # the model has scored the whole batch: whatever goes wrong now is this image's alone
                prepared.outputs.append(ModelOutputs(
                    outputs.logits[window],
                    None if outputs.expert_weights is None else outputs.expert_weights[window],
                    None if outputs.artifact_map is None else outputs.artifact_map[window]))
                prepared.scored += count
                prepared.model_ms += model_ms * count / total_crops
                more_to_score = prepared.scored < len(prepared.boxes)
                if more_to_score and not contract.decided_early(prepared.joined("logits"), meta):
                    self._second_stage.append(prepared)  # its first crops did not settle it: the rest next
                    continue
                self._finish_result(prepared)
            except UnusableScore as exc:  # the model's fault, not the image's: said plainly, no traceback
                self._release(prepared.result.sha256, self._error_result(
                    prepared.request, prepared.result.sha256, str(exc), prepared.started, prepared.result.file_size))
            except Exception:
                self._fail_batch([prepared], "internal error after scoring")

    def _finish_result(self, prepared: _Prepared) -> None:
        result = prepared.result
        score_result(result, self.detector.metadata, prepared.boxes[:prepared.scored], prepared.joined("logits"),
                     prepared.joined("expert_weights"), prepared.joined("artifact_map"), prepared.orientation,
                     prepared.traits)
        result.timings_ms["model"] = round(prepared.model_ms, 2)
        result.scanned_at = time.time()
        result.timings_ms["total"] = _ms(time.perf_counter() - prepared.started)
        if self.store:
            store_started = time.perf_counter()
            try:
                self.store.put(result, self.model_id)
            except Exception as exc:  # the score stands; only the cache and the history missed it
                log.warning("could not store the result for %s: %s", display_path(result.path) or "bytes", exc)
                if self.on_store_failure is not None:
                    self.on_store_failure(exc)
            result.timings_ms["store"] = _ms(time.perf_counter() - store_started)
            result.timings_ms["total"] += result.timings_ms["store"]
        self._release(result.sha256, result)

    # --- bookkeeping ----------------------------------------------------------

    def _release(self, sha256: str, result: Result | None) -> None:
        """Report a finished scan to its request and to everyone who waited on the same bytes."""
        with self._in_flight_lock:
            prepared = self._in_flight.pop(sha256, None)
        self._claims.release(sha256)  # after the store has the result: a waiting process finds it there
        if prepared is None:
            return
        self._finish(prepared.job, prepared.request, result)
        for job, request in prepared.followers:
            follower = None
            if result is not None:
                follower = _for_request(result, request)
                if result.ok:
                    follower.cached = True
                    self._record_sighting(follower)
            self._finish(job, request, follower)

    def _record_sighting(self, result: Result) -> None:
        if self.store:
            try:
                self.store.record_sighting(result)
            except Exception as exc:  # a sighting is history, not the result: never lose the result to it
                log.warning("could not record where %s was seen: %s", display_path(result.path) or "bytes", exc)

    def _finish(self, job: ScanJob, request: ScanRequest, result: Result | None) -> None:
        """Report one request. Never raises: a request that is not reported leaves its job waiting forever."""
        if result is not None and not result.ok:
            self._record_error(result, request)
        # Unscanned because the scanner closed: it stays pending, for the next scanner or the next start.
        closing = result is None and self._closed
        if self.pending is not None and request.path and request.data is None and not closing:
            self.pending.done(request.path)
        job.report(request, result)

    def _record_error(self, result: Result, request: ScanRequest) -> None:
        if self.store:
            try:  # the history keeps failures too, so an error row outlives a restart
                self.store.record_error(result)
            except Exception as exc:
                log.warning("could not record the error for %s: %s", display_path(request.path) or "bytes", exc)

    def _error_result(self, request: ScanRequest, sha256: str, error: str, started: float, size: int = 0) -> Result:
        meta = self.detector.metadata
        return Result(sha256=sha256, source=request.source, path=request.path, error=error,
                      model_name=meta.name, model_version=meta.version, provider=self.detector.active_provider,
                      file_size=size, page_url=request.page_url, image_url=request.image_url,
                      scanned_at=time.time(), timings_ms={"total": _ms(time.perf_counter() - started)})


def _report_if_cancelled(job: ScanJob, request: ScanRequest, future: Future) -> None:
    if future.cancelled():
        job.report(request, None)


def _read(request: ScanRequest) -> tuple[bytes, str | None]:
    if request.data is not None:
        return request.data, None
    try:
        data = read_regular_file(request.path, MAX_FILE_BYTES)  # what decoding takes at most: no more is read
    except NotReadable as exc:
        return b"", str(exc)
    except FileNotFoundError:
        if os.path.islink(request.path):
            return b"", "a broken link: the file it points to does not exist"
        return b"", "the file does not exist (moved, renamed or deleted)"
    except PermissionError:
        return b"", "permission denied: SynthSpot cannot read this file"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return b"", "a link that loops back on itself: there is no file to read"
        return b"", f"the file could not be read ({exc.strerror or exc})"
    return data, None


def _for_request(result: Result, request: ScanRequest) -> Result:
    """A copy of a result describing where this request's bytes came from."""
    return replace(result, path=request.path or result.path, source=request.source,
                   page_url=request.page_url, image_url=request.image_url, crops=list(result.crops),
                   provenance=list(result.provenance), reasons=list(result.reasons),
                   timings_ms=dict(result.timings_ms), expert_weights=dict(result.expert_weights))


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 2)
