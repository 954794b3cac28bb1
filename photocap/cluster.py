"""The caption loop on a Ray cluster (`--cluster ADDRESS`): Ray Data spreads the work, this process records it.

The driver (this process, on the machine with the library) claims pending jobs from the library's queue in
chunks under lease, as CaptionLoop does, and streams each chunk through one Ray Data pipeline (its stages are
in photocap.cluster_workers):

  [read]  --ship-files only: the file bytes, read on this machine's node (capped before reading whole)
  decode  CPU tasks on any node: each photo decoded exactly as on one machine (open_image, same size)
  caption actors that load the models once (photocap's loader: the node's GPU and precision, fp16 on
          CUDA) and caption and embed whole batches with the user's caption options

The results stream back and are recorded in batches through CaptionLoop.record, the library's one writer
of results, so the rows are those a single-machine run writes. A thread renews the leases of what is
still in flight. Ray Data does the distribution, batching, backpressure and retries: a caption actor
that dies is restarted and its batches run again; a result that arrives twice is recorded once (the job
is no longer ours). Ray is imported only here, and only when a cluster run starts.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from photocap.captioning import CaptionLoop, Progress, say_once
from photocap.cluster_workers import CaptionWorker, decode_images, read_files
from photocap.library import db, jobs, paths
from photocap.library.images import ImageError
from photocap.vision.registry import ModelUnavailable, model_id

log = logging.getLogger(__name__)

INSTALL_HINT = "--cluster needs Ray, which is not installed: pip install 'photocap[cluster]'"
SHIP_MAX_BYTES = 512 * 2**20      # bigger than any camera's photo; a bigger "photo" is not shipped
CHUNK_PHOTOS = 4096               # the first claim; caption actors start once per chunk
CHUNK_SECONDS = 300.0             # later chunks hold this much work at the rate measured: start-up ~5%
MAX_CHUNK_PHOTOS = 250_000        # claims and their lease renewals stay one quick write each
RENEW_SECONDS = jobs.LEASE_SECONDS / 5
# watch: after the first new photo, the rest of its burst is awaited this long, so the caption actors
# (about 10 s to start) start once for a copy of many photos, not once for each photo.
GATHER_SECONDS = 10.0
PROBE_SECONDS = 5.0               # a head that does not accept a TCP connection by then is not there
# No result for this long: the driver says what it waits for. Loading BLIP-2 and its first batch on a slow
# CPU node take about a minute; a cluster with no room for the caption workers would wait without end.
STALL_SECONDS = 120.0


class ClusterError(Exception):
    """A cluster run that cannot start or go on; str() is one line for the user."""


@dataclass(frozen=True)
class ClusterOptions:
    address: str = "local"                        # auto, host:port (the head's), local[:N]
    path_maps: tuple[tuple[str, str], ...] = ()   # (local prefix, worker prefix)
    ship_files: bool = False
    ship_max_bytes: int = SHIP_MAX_BYTES
    chunk: int = CHUNK_PHOTOS
    chunk_seconds: float = CHUNK_SECONDS
    gather_seconds: float = GATHER_SECONDS
    stall_seconds: float = STALL_SECONDS

    def next_chunk(self, photos: int, seconds: float) -> int:
        """How many photos to claim next, after a chunk of `photos` took `seconds` end to end.

        Each chunk starts the caption actors anew (Ray's start-up and the models' loading: about 10 s),
        so a fast cluster gets chunks big enough to keep that a small share of the run."""
        if photos <= 0 or seconds <= 0:
            return self.chunk
        return max(self.chunk, min(MAX_CHUNK_PHOTOS, int(photos / seconds * self.chunk_seconds)))

    @property
    def local_workers(self) -> int | None:
        """N of local[:N] (default: one per core), None for an existing cluster."""
        name, _, count = self.address.partition(":")
        if name != "local":
            return None
        return int(count) if count else max(1, os.cpu_count() or 1)


def parse_address(text: str) -> str:
    """ADDRESS as given, checked: local[:N] needs a whole N >= 1, and a head's HOST:PORT both parts."""
    text = text.strip()
    if not text:
        raise ClusterError("--cluster needs an address: auto, HEAD:6379 or local[:N]")
    if text.startswith("ray://"):
        # Ray Data needs a driver of its own (a core worker): through Ray Client it fails after connecting.
        raise ClusterError(f"--cluster {text}: Ray Data does not run through Ray Client (ray://); give the head's "
                           "HOST:6379, or run photocap on a node of the cluster with --cluster auto")
    name, colon, count = text.partition(":")
    if name == "local" and colon and not (count.isdigit() and int(count) >= 1):
        raise ClusterError(f"--cluster {text}: local:N needs a number of workers N of 1 or more")
    host, colon, port = text.rpartition(":")
    if name != "local" and colon and not (host.strip("[]") and port.isdigit()):
        raise ClusterError(f"--cluster {text}: the head's address is HOST:PORT, e.g. head:6379")
    return text


def probe(address: str, timeout: float = PROBE_SECONDS) -> None:
    """ClusterError at once when nothing answers at a HOST:PORT address (Ray itself retries for
    minutes); `auto` and what is not HOST:PORT are left to Ray."""
    host, colon, port = address.rpartition(":")
    if not colon or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or ("timed out" if isinstance(exc, TimeoutError) else type(exc).__name__)
        raise ClusterError(f"cannot reach the Ray cluster at {address}: nothing answers there ({reason}); "
                           "check the head's address, or use --cluster auto on a node of the cluster") from None


def parse_path_map(text: str) -> tuple[str, str]:
    """LOCAL=REMOTE: photos under LOCAL are read under REMOTE on the workers (absolute folders)."""
    local, eq, remote = text.partition("=")
    if not eq or not os.path.isabs(local) or not os.path.isabs(remote):
        raise ClusterError(f"--path-map {text!r}: use LOCAL=REMOTE with two absolute folders, "
                           "e.g. /mnt/archive=/data/archive")
    return os.path.normpath(local), os.path.normpath(remote)


def map_path(path: str, maps: tuple[tuple[str, str], ...]) -> str:
    """`path` as the workers see it: the longest LOCAL prefix (whole folders only) becomes its REMOTE."""
    for local, remote in sorted(maps, key=lambda m: len(m[0]), reverse=True):
        if path == local or path.startswith(local.rstrip(os.sep) + os.sep):
            return remote + path[len(local):]
    return path


def import_ray() -> Any:
    """Ray and Ray Data, or ClusterError saying how to install them."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")     # no reports about this cluster leave it
    try:
        import ray
        import ray.data  # noqa: F401 - the extra installs both; either missing is the same fix
    except ImportError:
        raise ClusterError(INSTALL_HINT) from None
    return ray


# ---- driver side ------------------------------------------------------------------------------------

@dataclass
class Plan:
    """How many caption actors, and what each asks Ray for."""
    workers: int
    threads: int          # torch threads of a CPU worker (0: leave torch's default, on a GPU)
    gpus: float


@dataclass
class ClusterProgress:
    """The run's counts (CaptionLoop's Progress) plus photos per node."""
    base: Progress
    per_node: Counter = field(default_factory=Counter)
    worker_pids: set[int] = field(default_factory=set)     # the caption actors' processes seen
    # (the worker's finish time, photos) of the latest batches: rates measured where the work is done
    finished: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=10_000))
    interrupted: bool = False
    chunks: int = 0            # claims sent through Ray Data: each starts the caption actors

    def line(self) -> str:
        elapsed = time.monotonic() - self.base.started
        rate = self.base.done / elapsed if elapsed > 0 else 0.0
        nodes = ", ".join(f"{name} {count}" for name, count in sorted(self.per_node.items()))
        return f"{self.base.line()}, {rate:.1f}/s" + (f"; per node: {nodes}" if nodes else "")


class ClusterRun:
    """One connection to Ray and the runs of the caption loop on it (one or many: `watch`)."""

    def __init__(self, engine: Any, options: ClusterOptions, *,
                 on_progress: Callable[[ClusterProgress], None] | None = None):
        self.engine = engine
        self.options = options
        self.on_progress = on_progress or (lambda p: None)
        self.ray = import_ray()
        self._started_ray = False
        self.plan: Plan | None = None

    # -- Ray ---------------------------------------------------------------------------------------
    def connect(self) -> Plan:
        """Join the cluster (or start Ray here for local[:N]) and decide the caption workers."""
        ray = self.ray
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False          # our progress line is the one on the terminal
        ctx.print_on_execution_start = False
        quiet = logging.getLogger().level > logging.DEBUG
        local = self.options.local_workers
        threads = max(1, (os.cpu_count() or 1) // local) if local else 0
        # Ray's notes would bury the one progress line; --debug shows them.
        for name in ("ray", "ray.data"):
            logging.getLogger(name).setLevel(logging.ERROR if quiet else logging.INFO)
        if not ray.is_initialized():             # a program that set up Ray itself keeps its session
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": not quiet,
                                      "logging_level": logging.ERROR if quiet else logging.INFO}
            try:
                if local:
                    # One logical CPU more than the workers take, for reading and decoding. "local": a Ray
                    # of its own, not one already running here (Ray's default joins it, RAY_ADDRESS too).
                    ray.init(address="local", num_cpus=local * threads + 1, **kwargs)
                else:
                    probe(self.options.address)
                    ray.init(address=self.options.address, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                hint = ""
                if not local and self.options.address != "auto" and "RAY_AUTH_MODE" not in os.environ:
                    # Ray 2.60's heads ask for a token; to a HEAD:PORT Ray sends one only when told to, and
                    # its refusal reaches us only as "Failed to connect".
                    hint = ("; if the cluster uses Ray's token authentication (`ray start` turns it on), set "
                            "RAY_AUTH_MODE=token, with the cluster's token in ~/.ray/auth_token or RAY_AUTH_TOKEN")
                raise ClusterError(f"cannot reach the Ray cluster at {self.options.address}: "
                                   f"{' '.join(str(exc).split())[:200]}{hint}") from None
            self._started_ray = True
        self.plan = self._plan(local, threads)
        log.info("Ray cluster: %d caption workers (%s)", self.plan.workers,
                 f"{self.plan.gpus:g} GPU each" if self.plan.gpus else f"{self.plan.threads} threads each")
        return self.plan

    def _plan(self, local: int | None, threads: int) -> Plan:
        resources = self.ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        if gpus:
            return Plan(workers=min(local or gpus, gpus), threads=0, gpus=1)
        if local and self._started_ray:
            return Plan(workers=local, threads=threads, gpus=0)
        # An existing cluster: one worker per node, with all of its cores but one (for decoding).
        cpus = [n["Resources"].get("CPU", 0) for n in self.ray.nodes() if n.get("Alive")]
        cpus = [c for c in cpus if c >= 1] or [1]
        return Plan(workers=len(cpus), threads=max(1, int(min(cpus)) - 1), gpus=0)

    def close(self) -> None:
        if self._started_ray:
            _wait_for_ray_data()
            self.ray.shutdown()
            self._started_ray = False

    def __enter__(self) -> ClusterRun:
        self.connect()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the loop ----------------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None, *, forever: bool = False, idle_wait: float = 1.0,
            wake: threading.Event | None = None) -> ClusterProgress:
        """Caption until the queue is empty (or, with forever, until `stop`), as CaptionLoop.run.

        Raises ModelUnavailable (one line naming the node and the fix) after recording what the other
        nodes captioned, when a node could not load the caption model; its photos stay queued.
        """
        stop = stop or threading.Event()
        wake = wake or stop
        if self.plan is None:
            self.connect()
        conn = self.engine.conn
        loop = CaptionLoop(conn, self.engine.models)
        loop.progress = Progress(pending=loop.pending())
        progress = ClusterProgress(loop.progress)
        loop.on_progress = lambda _p: self.on_progress(progress)
        chunk = self.options.chunk
        idle = forever              # watching: photos that turn up are the start of a burst
        while not stop.is_set():
            db.check_file(conn)
            paused = jobs.paused(conn)
            if idle:
                # Nothing is claimed while idle: a photo that arrived just now would make a chunk of its own.
                if paused or not loop.pending():
                    if wake.wait(idle_wait) and wake is not stop:
                        wake.clear()
                    continue
                stop.wait(self.options.gather_seconds)        # the rest of the burst, then one chunk
                idle = False
            claimed = [] if paused else jobs.claim(conn, loop.worker, chunk)
            if not claimed:
                if not forever:
                    break
                idle = True
                continue
            started, done_before = time.monotonic(), loop.progress.done + loop.progress.failed
            progress.chunks += 1
            try:
                self._chunk(loop, claimed, progress, stop)
            finally:
                jobs.release(conn, loop.worker)      # whatever was not recorded goes back to the queue
            if len(claimed) == chunk:                # a full chunk measures the cluster's pace
                chunk = self.options.next_chunk(loop.progress.done + loop.progress.failed - done_before,
                                                time.monotonic() - started)
        progress.interrupted = stop.is_set() and not forever
        return progress

    def _chunk(self, loop: CaptionLoop, claimed: list[jobs.Job], progress: ClusterProgress,
               stop: threading.Event) -> None:
        from photocap.vision.captioner import CaptionOptions

        settings = self.engine.settings
        model, embed_id = settings.model, model_id(settings.embed_model)
        options = CaptionOptions.from_settings(settings).to_dict()
        by_id = {job.photo_id: job for job in claimed}
        missing: dict[str, str] = {}
        with _Renewer(self.engine.db_path, loop.worker, set(by_id)) as renewer:
            for batch in self._results(claimed, stop):
                rows, held = [], []
                for i, photo_id in enumerate(batch["photo_id"]):
                    job = by_id[int(photo_id)]
                    renewer.done(job.photo_id)
                    if batch["unavailable"][i]:
                        missing.setdefault(str(batch["node"][i]), str(batch["unavailable"][i]))
                        held.append(job.photo_id)
                        continue
                    if batch["embed_problem"][i]:
                        say_once(f"photos are captioned without embeddings, so search by meaning cannot find "
                                 f"them yet: {batch['node'][i]}: {batch['embed_problem'][i]}")
                    rows.append((job, _outcome(batch, i), _vector(batch["vector"][i])))
                    if not batch["error"][i]:
                        progress.per_node[str(batch["node"][i])] += 1
                    progress.worker_pids.add(int(batch["pid"][i]))
                progress.finished.append((float(batch["finished"][0]), len(batch["photo_id"])))
                if held:
                    jobs.release(loop.conn, loop.worker, held)
                loop.record(rows, model=model, options=options, embed_model=embed_id)
                if stop.is_set():
                    break
        if missing:
            node, reason = next(iter(missing.items()))
            more = f" (and {len(missing) - 1} more nodes)" if len(missing) > 1 else ""
            raise ModelUnavailable(
                f"node {node}{more} cannot caption, its photos stay queued: {reason}; fix it on that node "
                f"(`photocap models pull NAME`) or pass --model FOLDER on storage every node mounts")

    def _results(self, claimed: list[jobs.Job], stop: threading.Event) -> Iterator[dict[str, np.ndarray]]:
        ray, plan, opts = self.ray, self.plan, self.options
        assert plan is not None
        settings = self.engine.settings
        worker_settings = settings.replace(model=map_path(settings.model, opts.path_maps) if os.path.isabs(
            settings.model) else settings.model, embed_model=map_path(settings.embed_model, opts.path_maps)
            if os.path.isabs(settings.embed_model) else settings.embed_model)
        bs = max(1, settings.batch_size)
        items = [{"photo_id": j.photo_id,
                  "path": j.path if opts.ship_files else map_path(j.path, opts.path_maps)} for j in claimed]
        ds = ray.data.from_items(items, override_num_blocks=max(1, -(-len(items) // bs)))
        if opts.ship_files:
            # Read where the library is: a task pinned to this machine's node (its node:IP resource).
            ds = ds.map_batches(read_files, fn_kwargs={"max_bytes": opts.ship_max_bytes}, batch_size=bs,
                                num_cpus=0, concurrency=2, resources={self._here(): 0.001})
        # Half a CPU: two decodes share the core a node keeps free, and Ray Data does not fuse decoding into
        # the caption actors (it fuses stages with equal resources), where it would wait for the model.
        ds = ds.map_batches(decode_images, fn_kwargs={"model": worker_settings.model}, batch_size=bs,
                            num_cpus=0.5)
        # Ray Data's actor pools restart a caption actor that dies and run its batches again (and Ray
        # retries a decode task whose worker died): the retries are Ray's own.
        ds = ds.map_batches(CaptionWorker, batch_size=bs, compute=ray.data.ActorPoolStrategy(size=plan.workers),
                            fn_constructor_kwargs={"settings": worker_settings, "threads": plan.threads,
                                                   "shape": min(bs, len(items))},
                            num_cpus=plan.threads or 1, num_gpus=plan.gpus or None)
        results = iter(ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=0))
        watch = _Watch(self._stalled, stop, opts.stall_seconds)
        try:
            with watch:
                while True:
                    with watch.waiting():
                        batch = next(results, None)
                    if batch is None:
                        return
                    yield batch
                    if stop.is_set():
                        return
        except _Stopped:
            return                               # stopped while waiting: what is not recorded is released
        except ray.exceptions.RayError as exc:
            raise ClusterError(f"the cluster run failed: {_one_line(exc)}") from None
        finally:
            close = getattr(results, "close", None)
            if close is not None:
                close()                          # stops the pipeline: nothing more is started

    def _stalled(self, seconds: float) -> str:
        """What the user reads when no result came for `seconds`: what the cluster lacks, where Ray can tell."""
        plan = self.plan
        assert plan is not None
        head = f"no results from the cluster for {seconds:.0f} s"
        tail = "; Ctrl+C stops, and keeps what is done"
        try:
            free, total = self.ray.available_resources(), self.ray.cluster_resources()
        except Exception as exc:   # noqa: BLE001 - only the explanation is lost; the run goes on waiting
            log.debug("cluster resources unknown: %s", exc)
            return head + tail
        kind, need = ("GPU", plan.gpus) if plan.gpus else ("CPU", float(plan.threads or 1))
        have = free.get(kind, 0.0)
        if have < need:
            return (f"{head}: each caption worker needs {_count(need, kind)}, and the cluster has "
                    f"{have:g} of its {_count(total.get(kind, 0.0), kind)} free, so it waits for "
                    f"room (add a node, or end other work on the cluster; `ray status` shows it){tail}")
        return f"{head}; the caption workers may still be loading the models, or a node is slow{tail}"

    def _here(self) -> str:
        """The Ray resource that names this machine's node; ClusterError when it is not one (a driver
        that joined from outside the cluster)."""
        resource = f"node:{self.ray.util.get_node_ip_address()}"
        if resource not in self.ray.cluster_resources():
            raise ClusterError("--ship-files reads the photos on this machine, which is not a node of the cluster: "
                               "join it (`ray start --address=HEAD:6379`) and use --cluster auto")
        return resource


# Ray Data's threads that still call Ray while a stopped pipeline winds down: its executor, and the
# thread that fetches the results' blocks. (Its "Prefetcher" only waits, and only ends with the iterator.)
_RAY_DATA_THREADS = ("StreamingExecutor-", "iter_threaded")


def _wait_for_ray_data(timeout: float = 30.0) -> None:
    """Ray Data winds a stopped pipeline down on its own threads; shutting Ray down under them makes Ray's
    core end this process (exit 1, nothing printed), so they finish first."""
    started = time.monotonic()
    for thread in threading.enumerate():
        if thread.name.startswith(_RAY_DATA_THREADS):
            thread.join(max(0.0, started + timeout - time.monotonic()))
    log.debug("threads left at Ray's shutdown, after %.2f s: %s", time.monotonic() - started,
              ", ".join(t.name for t in threading.enumerate()))


def _outcome(batch: dict[str, np.ndarray], i: int) -> list[str] | ImageError:
    if batch["error"][i]:
        return ImageError(str(batch["error"][i]), transient=bool(batch["transient"][i]))
    return list(json.loads(batch["captions"][i]))


def _vector(blob: Any) -> np.ndarray | None:
    return np.frombuffer(bytes(blob), dtype=np.float32) if blob is not None and len(blob) else None


def _count(n: float, unit: str) -> str:
    return f"{n:g} {unit}" + ("" if n == 1 else "s")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


class _Stopped(BaseException):
    """Ends a wait for the cluster's results when the run is stopped. A BaseException, as KeyboardInterrupt
    is: Ray Data's iterator shuts its pipeline down on either, and no `except Exception` swallows it."""


def _raise_in(thread_id: int, exc: type[BaseException] | None) -> None:
    """Raise `exc` in that thread at its next Python instruction (None: take back one not yet raised)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               ctypes.py_object(exc) if exc is not None else None)


class _Watch:
    """Watches the driver's wait for the cluster's results, from a thread of its own.

    Ray Data's iterator waits without a timeout, and a cluster with no room for the caption workers (busy
    with other work, a node gone) waits without end and without a word. So: when no result has come for
    `stall_seconds`, `say` tells once (until results come again) what the cluster lacks; and when `stop`
    is set during a wait, the wait ends at once (_Stopped, raised in the waiting thread), as Ctrl+C on a
    plain Ray Data loop would. Only a wait is ever interrupted: never the recording of a result.
    """

    def __init__(self, say: Callable[[float], str], stop: threading.Event, stall_seconds: float):
        self._say, self._stop, self._stall = say, stop, stall_seconds
        self._lock = threading.Lock()
        self._waiter: int | None = None           # the thread waiting for a result, while it waits
        self._since = time.monotonic()            # the chunk's start, then its latest result
        self._told = False
        self._sent = False
        self._end = threading.Event()
        self._thread = threading.Thread(target=self._run, name="photocap-cluster-watch", daemon=True)

    @contextmanager
    def waiting(self) -> Iterator[None]:
        with self._lock:
            self._waiter = threading.get_ident()
        try:
            yield
        finally:
            with self._lock:
                self._waiter = None
                if self._sent:
                    _raise_in(threading.get_ident(), None)    # the wait ended on its own first
                self._since, self._told = time.monotonic(), False

    def _run(self) -> None:
        while not self._end.wait(0.05):
            with self._lock:
                if self._waiter is None:
                    continue
                if self._stop.is_set() and not self._sent:
                    self._sent = True
                    _raise_in(self._waiter, _Stopped)
                    continue
                waited = time.monotonic() - self._since
                if waited < self._stall or self._told:
                    continue
                self._told = True
            log.warning("%s", self._say(waited))

    def __enter__(self) -> _Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._end.set()
        self._thread.join()


class _Renewer:
    """Renews the leases of the chunk's photos still in flight, on its own connection and thread, so a
    long wait for the cluster (actors starting, a slow node) never lets them expire."""

    def __init__(self, db_path: Any, worker: str, photo_ids: set[int]):
        self.db_path, self.worker = db_path, worker
        self._left = set(photo_ids)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="photocap-lease", daemon=True)

    def done(self, photo_id: int) -> None:
        with self._lock:
            self._left.discard(photo_id)

    def _run(self) -> None:
        conn = db.connect(self.db_path)
        try:
            while not self._stop.wait(RENEW_SECONDS):
                with self._lock:
                    left = sorted(self._left)
                jobs.renew(conn, self.worker, left)
        finally:
            conn.close()

    def __enter__(self) -> _Renewer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def stop_on_signals(stop: threading.Event, wake: threading.Event | None = None) -> Iterator[None]:
    """SIGINT and SIGTERM set `stop` (main thread only): the batch in flight is recorded, the rest released."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        log.info("received %s: recording what is done, the rest goes back to the queue",
                 signal.Signals(signum).name)
        stop.set()
        if wake is not None:
            wake.set()
        for sig, previous in old.items():
            signal.signal(sig, previous)     # a second Ctrl+C does not wait (the claims are taken back later)

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


def describe_paths(maps: tuple[tuple[str, str], ...]) -> str:
    """The path maps for a log line."""
    return ", ".join(f"{paths.display(a)} -> {paths.display(b)}" for a, b in maps) or "same paths"
