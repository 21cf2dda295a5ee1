"""manifest.json: what a run wrote into its folder, for the report and for resume.

A run (:func:`optlab.runner.run`) keeps a :class:`Recorder` for its folder
while the study runs. Every artifact is recorded when it has been written
(atomically): its name, kind (``trajectories``, ``arrays``, ``figure``,
``metrics``, ``config``, ``summary``), size and, for an npz, the shape and
dtype of every array; a run of the study that has a file of its own is
recorded with its label and that file. The manifest is rewritten after each
file with ``"complete": false`` and a last time with ``"complete": true``
after summary.json, so an interrupted run leaves a manifest of what it did
write.

* File names are never derived from labels by readers: the report and resume
  read them here. :meth:`Recorder.run_file` gives each run its own file
  (``trajectories_<slug>.npz``, then ``_2``, ``_3`` ... when two labels share a
  slug, compared without case).
* :func:`check` verifies a folder against its manifest: each file present with
  its recorded size, each npz's arrays with their recorded shapes (``full``:
  every array loaded, so a damaged one fails here).
* A re-used folder never mixes two runs' files: at the first file a new run
  writes, the files an earlier run recorded (or, in a folder from before
  manifests, its ``trajectories_*.npz``) are removed.

Helpers that write artifacts (``plots.save``, ``studies._lecture.save_arrays``
...) call :func:`note`, which records into the recorder of the file's folder
if one is active and does nothing otherwise (a figure saved from a notebook).
"""
from __future__ import annotations

import contextlib
import json
import zipfile
from pathlib import Path

import numpy as np

from .engine.result import write_json_atomic

MANIFEST = "manifest.json"
VERSION = 1
_ACTIVE: dict = {}  # resolved folder -> Recorder


def _key(folder) -> str:
    return str(Path(folder).resolve())


class Recorder:
    """The files one run writes into ``folder``, recorded as they are written."""

    def __init__(self, folder, study: str, overrides=None):
        self.folder = Path(folder)
        self.study = study
        self.overrides = None if overrides is None else [str(o) for o in overrides]
        self.files: dict = {}      # name -> entry
        self.runs: list = []       # {label, file, kind[, keys]}
        self._claimed: set = set()  # lower-cased names handed out by run_file
        self._previous = None       # names an earlier run left here; removed at the first write

    # --- names ---------------------------------------------------------------------------------
    def run_file(self, label: str, prefix: str = "trajectories_", suffix: str = ".npz") -> Path:
        """A file name for the run ``label`` that no other run of this folder has (nor will get)."""
        from .studies._common import slug
        base = f"{prefix}{slug(str(label)) or 'run'}"
        name, k = base + suffix, 2
        while name.lower() in self._claimed:
            name, k = f"{base}_{k}{suffix}", k + 1
        self._claimed.add(name.lower())
        return self.folder / name

    # --- recording -----------------------------------------------------------------------------
    def add(self, path, kind: str, label: str | None = None, keys=None) -> Path:
        """Record the written file ``path`` (of this folder); with ``label``, as the file of that run."""
        path = Path(path)
        if path.parent.resolve() != self.folder.resolve():
            raise ValueError(f"{path} is not in the run folder {self.folder}")
        entry = {"name": path.name, "kind": kind, "bytes": path.stat().st_size}
        if path.suffix == ".npz":
            entry["arrays"] = npz_shapes(path)
        self._claimed.add(path.name.lower())
        first = not self.files
        self.files[path.name] = entry
        if label is not None:
            run = {"label": str(label), "file": path.name, "kind": kind}
            if keys is not None:
                run["keys"] = list(keys)
            self.runs.append(run)
        if first:
            self._clear_previous()
        self._write(complete=False)
        return path

    def add_run(self, label: str, name: str, kind: str, keys=None) -> None:
        """Record a run whose arrays are in the already recorded file ``name`` (under ``keys``)."""
        if name not in self.files:
            raise ValueError(f"{name} is not recorded in {self.folder / MANIFEST}")
        run = {"label": str(label), "file": name, "kind": kind}
        if keys is not None:
            run["keys"] = list(keys)
        self.runs.append(run)
        self._write(complete=False)

    def finish(self) -> Path:
        return self._write(complete=True)

    def _write(self, complete: bool) -> Path:
        doc = {"manifest": VERSION, "study": self.study, "complete": complete,
               "runs": self.runs, "files": list(self.files.values())}
        if self.overrides is not None:  # the command of these files (.hydra/ is the latest attempt's)
            doc["overrides"] = self.overrides
        return write_json_atomic(self.folder / MANIFEST, doc)

    # --- a re-used folder ----------------------------------------------------------------------
    def remember_previous(self) -> None:
        """Note what an earlier run left in the folder (called before the study starts)."""
        doc = read(self.folder)
        if doc is not None:
            names = {f.get("name") for f in doc.get("files", []) if isinstance(f, dict)}
        elif (self.folder / "summary.json").exists() or (self.folder / "metrics.json").exists():
            names = {p.name for p in self.folder.glob("trajectories_*.npz")}  # a folder from before manifests
        else:
            names = set()
        self._previous = {n for n in names if isinstance(n, str) and n not in ("", ".", "..", MANIFEST)
                          and "/" not in n and "\\" not in n}

    def _clear_previous(self) -> None:
        for name in sorted(self._previous or ()):
            if name in self.files:
                continue  # rewritten by this run already
            with contextlib.suppress(OSError):  # gone already, or not a file
                (self.folder / name).unlink()
        self._previous = None


def unique_name(base: str, taken) -> str:
    """``base``, or ``base_2``, ``base_3`` ... : the first not in ``taken``."""
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name


def add_runs(folder, name: str, kind: str, runs) -> None:
    """Record ``runs`` ([(label, keys)]) whose arrays are in the file ``name``, if a run records ``folder``."""
    rec = active(folder)
    if rec is not None:
        for label, keys in runs:
            rec.add_run(label, name, kind, keys)


@contextlib.contextmanager
def recording(rec: Recorder):
    """Make ``rec`` the recorder of its folder for :func:`note` while the block runs."""
    key = _key(rec.folder)
    _ACTIVE[key] = rec
    try:
        yield rec
    finally:
        if _ACTIVE.get(key) is rec:
            del _ACTIVE[key]


def active(folder) -> Recorder | None:
    return _ACTIVE.get(_key(folder))


def note(path, kind: str, label: str | None = None, keys=None) -> None:
    """Record ``path`` into the active recorder of its folder, if any."""
    rec = _ACTIVE.get(_key(Path(path).parent)) if _ACTIVE else None
    if rec is not None:
        rec.add(path, kind, label=label, keys=keys)


# --- reading and checking --------------------------------------------------------------------------

def read(folder) -> dict | None:
    """The parsed manifest of ``folder``; None when there is none or it cannot be read."""
    try:
        doc = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("files"), list) else None


def npz_shapes(path) -> dict:
    """{array name: [shape, dtype]} from the headers of an npz (the data is not decompressed)."""
    out = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with zf.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read_header(fh)
            out[info.filename[:-4]] = [list(shape), dtype.str]
    return out


def check_file(folder, entry: dict, full: bool = True) -> str | None:
    """One line saying what is wrong with a file the manifest lists, or None when it is as written."""
    name = str(entry.get("name", "?"))
    path = Path(folder) / name
    try:
        size = path.stat().st_size
    except OSError:
        return f"{name} missing"
    want = entry.get("bytes")
    if isinstance(want, int) and size != want:
        return f"{name} {'truncated' if size < want else 'changed'} ({size} bytes; {want} were written)"
    arrays = entry.get("arrays")
    if path.suffix == ".npz" and isinstance(arrays, dict):
        try:
            if full:
                with np.load(path, allow_pickle=False) as z:
                    have = {k: [list(z[k].shape), z[k].dtype.str] for k in z.files}
            else:
                have = npz_shapes(path)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
            return f"{name} truncated or corrupt ({type(exc).__name__}: {exc})"
        for key, (shape, dtype) in arrays.items():
            if key not in have:
                return f"{name} lacks the array '{key}'"
            if list(have[key][0]) != list(shape) or have[key][1] != dtype:
                return (f"{name}: array '{key}' is {tuple(have[key][0])} {have[key][1]}, "
                        f"the manifest says {tuple(shape)} {dtype}")
    elif full and path.suffix == ".json":
        try:
            json.loads(path.read_text())
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            return f"{name} truncated or corrupt ({type(exc).__name__})"
    return None


def check(folder, doc: dict | None = None, full: bool = True, skip=()) -> list[str]:
    """Problems of ``folder`` against its manifest (empty: everything it lists is as written)."""
    doc = read(folder) if doc is None else doc
    if doc is None:
        return [f"{MANIFEST} missing or unreadable"]
    problems = []
    if not doc.get("complete"):
        problems.append(f"the run did not finish ({MANIFEST}: interrupted or failed)")
    for entry in doc.get("files", []):
        if isinstance(entry, dict) and entry.get("name") not in skip:
            problem = check_file(folder, entry, full=full)
            if problem:
                problems.append(problem)
    return problems
