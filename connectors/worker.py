"""Read an untrusted file in a separate process with memory, CPU and wall-clock limits.

The readers are native code (calamine in Rust, Arrow in C++): a hostile file
can make them allocate without bound, panic (a Rust panic is a BaseException
that gets past `except Exception`) or abort the whole process. So uploads and
CLI sources are read in a child process:

- a fresh `python -m connectors.worker` (a plain subprocess: the Streamlit
  process, with its threads, is never forked, and no caller's main module is
  re-imported as multiprocessing would; the start costs about 0.7 s);
- limited by RLIMIT_AS (address space, `worker_memory_mb`), RLIMIT_CPU
  (`worker_cpu_seconds`) and a wall-clock timeout in the parent
  (`worker_timeout_seconds`), all from `connectors.guard.ReadLimits`;
- running `connectors.guard.inspect_source` first (refuse with a precise
  message what the readers should not be asked for), then
  `connectors.sources.read_source` / `read_csv_files`;
- the job (pickled) goes in on stdin, the `RawWorkbook` (pickled) and the
  child's peak memory come back on stdout; stderr (a Rust panic's text) is
  dropped, never shown.

Whatever happens in the child — a refusal, a MemoryError, a panic, SIGABRT,
SIGXCPU, the timeout — the caller gets a `SourceError` with a plain message
for that user, and the server lives on.
"""
from __future__ import annotations

import io
import os
import pickle
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from billing.model import RawWorkbook
from connectors.guard import MB, ReadLimits, check_upload_size, inspect_source, read_limits
from connectors.sources import CSV_SUFFIXES, SourceError, read_csv_files, read_source

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["read_untrusted", "read_untrusted_files", "ReadStats", "SourceError"]


@dataclass(frozen=True)
class ReadStats:
    """What one read in the worker cost: peak resident memory (bytes) and CPU seconds."""

    peak_rss: int
    cpu_seconds: float
    wall_seconds: float


@dataclass(frozen=True)
class _Job:
    """One read: a path, the bytes of one file, or several CSV files."""

    source: str | Path | bytes | None = None
    name: str | None = None
    files: tuple[tuple[str, bytes], ...] = ()


# --------------------------------------------------------------------------- parent side


def read_untrusted(source: str | Path | bytes, name: str | None = None, *,
                   limits: ReadLimits | None = None) -> RawWorkbook:
    """`read_source(source, name)` in the limited worker; SourceError for anything that goes wrong."""
    return read_untrusted_with_stats(source, name, limits=limits)[0]


def read_untrusted_files(files: list[tuple[str, bytes]], *, limits: ReadLimits | None = None) -> RawWorkbook:
    """`read_csv_files(files)` (several uploaded CSVs, one table each) in the limited worker."""
    limits = limits or read_limits()
    check_upload_size([(n, len(b)) for n, b in files], limits)
    return _run(_Job(files=tuple((n, bytes(b)) for n, b in files)), limits,
                ", ".join(n for n, _ in files))[0]


def read_untrusted_with_stats(source: str | Path | bytes, name: str | None = None, *,
                              limits: ReadLimits | None = None) -> tuple[RawWorkbook, ReadStats]:
    """As `read_untrusted`, with what the read cost (for tests and benchmarks)."""
    limits = limits or read_limits()
    display = name or (_display(source))
    if isinstance(source, (bytes, bytearray, memoryview)):
        check_upload_size([(display, len(source))], limits)
        job = _Job(source=bytes(source), name=name)
    else:
        path = Path(source)
        if path.is_file():
            check_upload_size([(display, path.stat().st_size)], limits)
        elif path.is_dir():  # the CSV files of the folder, as read_source reads them
            check_upload_size([(p.name, p.stat().st_size) for p in path.iterdir()
                               if p.is_file() and p.suffix.lower() in CSV_SUFFIXES], limits)
        job = _Job(source=str(path.resolve()) if path.exists() else str(path), name=name or path.name)
    return _run(job, limits, display)


def _display(source: str | Path | bytes) -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "uploaded file"
    return Path(str(source)).name or str(source)


def _run(job: _Job, limits: ReadLimits, display: str) -> tuple[RawWorkbook, ReadStats]:
    payload = pickle.dumps((job, limits), protocol=pickle.HIGHEST_PROTOCOL)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "connectors.worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
    try:
        out, _ = proc.communicate(payload, timeout=limits.worker_timeout_seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        out = b""
    finally:
        del payload
    wall = time.monotonic() - start
    try:
        kind, value, peak, cpu = _ReplyUnpickler(io.BytesIO(out)).load() if out else (None, None, 0, 0.0)
    except Exception:  # a reply cut short by a crash, or naming what a RawWorkbook never holds
        kind, value, peak, cpu = None, None, 0, 0.0
    stats = ReadStats(peak_rss=peak, cpu_seconds=cpu, wall_seconds=wall)
    if kind == "ok":
        return value, stats
    if kind is None:
        error = SourceError(_death_message(display, proc.returncode, wall, limits))
    elif kind == "memory":
        error = SourceError(_memory_message(display, limits))
    else:
        error = SourceError(value)
    error.stats = stats  # what the refused or failed read cost (peak_rss 0: the child died)
    raise error


# What a reply may name: the classes and unpickle helpers of a RawWorkbook's cells. The child
# read a hostile file; should a reader bug ever let that file run code there, its reply still
# cannot make this process call anything else (pickle's REDUCE calls what the stream names).
_REPLY_GLOBALS = frozenset({
    ("billing.model", "RawSheet"), ("billing.model", "RawWorkbook"), ("connectors.sources", "_SharedHint"),
    ("builtins", "slice"), ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "complex"),
    ("datetime", "date"), ("datetime", "datetime"), ("datetime", "time"), ("datetime", "timedelta"),
    ("datetime", "timezone"), ("decimal", "Decimal"),
    ("numpy", "dtype"), ("numpy", "ndarray"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"), ("numpy._core.numeric", "_frombuffer"),
    ("pandas", "DataFrame"), ("pandas", "Series"), ("pandas", "Index"), ("pandas", "RangeIndex"),
    ("pandas", "NA"), ("pandas", "StringDtype"), ("pandas", "ArrowDtype"), ("pandas", "Int64Dtype"),
    ("pandas", "Float64Dtype"), ("pandas", "BooleanDtype"), ("pandas", "DatetimeTZDtype"),
    ("pandas.arrays", "ArrowExtensionArray"), ("pandas.arrays", "ArrowStringArray"),
    ("pandas.arrays", "DatetimeArray"), ("pandas.arrays", "TimedeltaArray"), ("pandas.arrays", "IntegerArray"),
    ("pandas.arrays", "FloatingArray"), ("pandas.arrays", "BooleanArray"), ("pandas.arrays", "StringArray"),
    ("pandas._libs.arrays", "__pyx_unpickle_NDArrayBacked"), ("pandas._libs.internals", "_unpickle_block"),
    ("pandas._libs.tslibs.nattype", "_nat_unpickle"), ("pandas._libs.tslibs.timedeltas", "_timedelta_unpickle"),
    ("pandas._libs.tslibs.timestamps", "_unpickle_timestamp"), ("pandas.core.indexes.base", "_new_Index"),
    ("pandas.core.internals.managers", "BlockManager"), ("pandas.core.internals.managers", "SingleBlockManager"),
    ("pyarrow.lib", "_restore_array"), ("pyarrow.lib", "py_buffer"), ("pyarrow.lib", "type_for_alias"),
    ("pyarrow.lib", "timestamp"), ("pyarrow.lib", "duration"), ("pyarrow.lib", "date32"),
})


class _ReplyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _REPLY_GLOBALS:
            raise pickle.UnpicklingError(f"a reader's reply may not name {module}.{name}")
        return super().find_class(module, name)


def _death_message(display: str, exitcode: int | None, wall: float, limits: ReadLimits) -> str:
    if exitcode is None or wall >= limits.worker_timeout_seconds:
        return (f"Reading '{display}' took longer than {limits.worker_timeout_seconds:,} seconds and was "
                "stopped (setting worker_timeout_seconds). Split the file: save each table as its own CSV "
                "file, or remove old rows.")
    if exitcode == -signal.SIGXCPU:
        return (f"Reading '{display}' used more than {limits.worker_cpu_seconds:,} seconds of processor time "
                "and was stopped (setting worker_cpu_seconds). Split the file: save each table as its own "
                "CSV file, or remove old rows.")
    if exitcode in (-signal.SIGABRT, -signal.SIGSEGV, -signal.SIGBUS):
        return _memory_message(display, limits) if exitcode == -signal.SIGABRT else (
            f"The spreadsheet reader crashed on '{display}'; nothing was loaded. Open the file in Excel "
            "or LibreOffice, save it again as .xlsx (or each table as CSV) and upload that.")
    return (f"The spreadsheet reader stopped on '{display}' (exit status {exitcode}); nothing was loaded. "
            "Open the file in Excel or LibreOffice, save it again as .xlsx (or each table as CSV) and "
            "upload that.")


def _memory_message(display: str, limits: ReadLimits) -> str:
    return (f"Reading '{display}' needs more than {limits.worker_memory_mb:,} MB of memory, the limit for one "
            "read (setting worker_memory_mb); nothing was loaded. The file spans far more cells than it seems "
            "to hold: open it in Excel, delete the empty rows and columns around the data, or save each table "
            "as its own CSV file.")


# --------------------------------------------------------------------------- child side


def main() -> None:
    """The child: read the job from stdin, limit this process, read, reply on stdout."""
    job, limits = pickle.load(sys.stdin.buffer)
    _limit_self(limits)
    started = time.process_time()
    try:
        raw = _read(job, limits)
        reply: tuple = ("ok", raw, _peak(), time.process_time() - started)
    except SourceError as exc:
        reply = ("error", exc.message, _peak(), 0.0)
    except MemoryError:
        reply = ("memory", "", _peak(), 0.0)
    except BaseException as exc:  # noqa: BLE001 - a Rust panic (pyo3 PanicException) is a BaseException
        reply = ("error", _crash_message(job, exc), _peak(), 0.0)
    try:
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:  # the result does not fit twice (pickled) under the limit
        data = pickle.dumps(("memory", "", _peak(), 0.0))
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _limit_self(limits: ReadLimits) -> None:
    memory = int(limits.worker_memory_mb * MB)
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(limits.worker_cpu_seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # an abort must not write a core file


def _read(job: _Job, limits: ReadLimits) -> RawWorkbook:
    if job.files:
        for name, data in job.files:
            inspect_source(data, name, limits)
        return read_csv_files(list(job.files), max_bytes=int(limits.max_upload_mb * MB))
    source = job.source
    if isinstance(source, str):
        path = Path(source)
        if path.is_file():
            inspect_source(path, job.name or path.name, limits)
        elif path.is_dir():
            for p in sorted(path.iterdir()):
                if p.is_file() and p.suffix.lower() in CSV_SUFFIXES:
                    inspect_source(p, p.name, limits)
        return read_source(path, name=job.name, max_bytes=int(limits.max_upload_mb * MB))
    inspect_source(source, job.name or "uploaded file", limits)
    return read_source(source, name=job.name, max_bytes=int(limits.max_upload_mb * MB))


def _crash_message(job: _Job, exc: BaseException) -> str:
    what = job.name or ("the CSV files" if job.files else "the file")
    return (f"The spreadsheet reader failed on '{what}' ({type(exc).__name__}); nothing was loaded. Open the "
            "file in Excel or LibreOffice, save it again as .xlsx (or each table as CSV) and upload that.")


def _peak() -> int:
    """This process's peak resident memory in bytes.

    VmHWM is the high-water mark of this process's own address space. ru_maxrss is not: Linux
    carries the parent's resident size at the fork into it across exec, so a worker started from a
    big server would report the server's size (ru_maxrss stays the fallback where /proc is missing).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


if __name__ == "__main__":
    main()
