"""Result of an engine call: arrays per trajectory, plus what they mean."""
from __future__ import annotations

import html
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

OUTCOMES = ("converged", "diverged", "running")
#: per-record arrays a run has only when asked for (a scheduler, ``track=...``)
OPTIONAL_ARRAYS = ("lr", "sharpness", "hess_min", "preconditioned_sharpness")


@dataclass
class Result:
    """Trajectories of one engine call.

    Arrays are indexed by trajectory first. ``x`` is (n_traj, n_records, dim)
    with ``x[:, 0] == x0``; ``loss`` is (n_traj, n_records); ``steps`` gives
    the step number of each record. Records after a divergence are NaN.

    ``outcome[i]`` is "diverged" (the loss became non-finite or exceeded
    ``blowup``, at step ``diverged_step[i]``), "converged" (the final gradient
    norm, or the final gap to the known minimum value, is at most ``tol``) or
    "running" (neither, when the steps ran out).

    A diverged trajectory is not stopped: it steps on (as a torch loop would),
    and ``x_final`` / ``loss_final`` are where it went -- inf or NaN after a
    real divergence, but finite when a ``blowup`` set below the losses it
    meets (below the start's loss: diverged at step 0) is crossed and left
    again. Its records stop at the crossing either way.
    """

    optimizer: str
    objective: str
    x: np.ndarray
    loss: np.ndarray
    steps: np.ndarray
    x_final: np.ndarray
    loss_final: np.ndarray
    grad_norm_final: np.ndarray
    best_loss: np.ndarray
    best_step: np.ndarray
    diverged_step: np.ndarray
    tol_step: np.ndarray
    hyper: dict
    options: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)
    #: with a scheduler: the learning rate in effect at each recorded step (the one that step's
    #: update uses; at the last record, the lr after the last ``scheduler.step()``), (n_traj, n_records)
    lr: np.ndarray | None = None
    #: with ``track=("sharpness",)``: the largest and smallest Hessian eigenvalue at every record
    sharpness: np.ndarray | None = None
    hess_min: np.ndarray | None = None
    #: with ``track=("preconditioned_sharpness",)``: the largest eigenvalue of P^-1 H (Adam's P)
    preconditioned_sharpness: np.ndarray | None = None

    @property
    def n_traj(self) -> int:
        return self.x_final.shape[0]

    @property
    def dim(self) -> int:
        return self.x_final.shape[1]

    @property
    def x0(self) -> np.ndarray:
        return self.x[:, 0]

    @property
    def outcome(self) -> np.ndarray:
        tol = self.options.get("tol", 1e-6)
        f_target = self.options.get("f_target")
        out = np.full(self.n_traj, "running", dtype=object)
        conv = self.grad_norm_final <= tol
        if f_target is not None:
            conv |= (self.loss_final - f_target) <= tol
        out[conv] = "converged"
        out[self.diverged_step >= 0] = "diverged"
        return out

    def outcome_counts(self) -> dict:
        vals, counts = np.unique(self.outcome.astype(str), return_counts=True)
        return {k: int(counts[list(vals).index(k)]) if k in vals else 0 for k in OUTCOMES}

    def user_hyper(self) -> dict:
        """``hyper`` in the user's values: an option the kernel holds as a code (L-BFGS's
        ``line_search_fn`` 0 / 1, Muon's ``adjust_lr_fn``) as the value it stands for
        (None / ``"strong_wolfe"``), per trajectory where a sweep varied it."""
        from ..optimizers import get
        try:
            spec = get(self.optimizer)
        except Exception:  # noqa: BLE001 - a result loaded from a file of an optimizer not here
            return dict(self.hyper)
        out = {}
        for k, v in self.hyper.items():
            if k in spec.labels:
                v = spec.label(k, v) if np.ndim(v) == 0 else [spec.label(k, e) for e in np.asarray(v)]
            out[k] = v
        return out

    def metrics(self) -> list[dict]:
        """Per-trajectory summary, JSON-ready."""
        rows = []
        oc = self.outcome
        hyper = self.user_hyper()
        for i in range(self.n_traj):
            rows.append({
                "trajectory": i,
                "x0": [float(v) for v in self.x0[i]],
                **{k: _plain(v[i] if np.ndim(v) else v) for k, v in hyper.items()},
                "final_loss": _plain(self.loss_final[i]),
                "best_loss": _plain(self.best_loss[i]),
                "best_step": int(self.best_step[i]),
                "outcome": str(oc[i]),
                "diverged_step": None if self.diverged_step[i] < 0 else int(self.diverged_step[i]),
                "steps_to_tol": None if self.tol_step[i] < 0 else int(self.tol_step[i]),
                "final_grad_norm": _plain(self.grad_norm_final[i]),
                "x_final": [_plain(v) for v in self.x_final[i]],
            })
        return rows

    def save_npz(self, path, *, more=None) -> Path:
        """Write the arrays atomically (temporary file, then rename); ``more``: further named arrays
        (a sweep's grid)."""
        arrays = dict(x=self.x, loss=self.loss, steps=self.steps, x_final=self.x_final,
                      loss_final=self.loss_final, grad_norm_final=self.grad_norm_final,
                      best_loss=self.best_loss, best_step=self.best_step,
                      diverged_step=self.diverged_step, tol_step=self.tol_step,
                      outcome=self.outcome.astype(str))
        arrays.update({f"hyper_{k}": np.asarray(v) for k, v in self.hyper.items()})
        arrays.update({f"extra_{k}": v for k, v in self.extra.items()})
        for name in OPTIONAL_ARRAYS:
            if getattr(self, name) is not None:
                arrays[name] = getattr(self, name)
        meta = dict(optimizer=self.optimizer, objective=self.objective,
                    options={k: _plain(v) for k, v in self.options.items()})
        arrays["meta"] = np.array(json.dumps(meta))
        arrays.update(more or {})
        path = Path(path)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)
        return path

    @classmethod
    def load_npz(cls, path) -> "Result":
        with np.load(path, allow_pickle=False) as z:
            if "meta" not in z.files:  # a study's arrays (lr_divergence.npz ...): numpy's KeyError
                from ..errors import OptlabError
                raise OptlabError(f"{path} is not a run written by save_npz (no 'meta'); its arrays: "
                                  f"{', '.join(z.files[:8])}{' ...' if len(z.files) > 8 else ''} (np.load reads it)")
            meta = json.loads(str(z["meta"]))
            hyper = {k[6:]: (z[k].item() if z[k].ndim == 0 else z[k]) for k in z.files if k.startswith("hyper_")}
            extra = {k[6:]: z[k] for k in z.files if k.startswith("extra_")}
            return cls(optimizer=meta["optimizer"], objective=meta["objective"],
                       x=z["x"], loss=z["loss"], steps=z["steps"], x_final=z["x_final"],
                       loss_final=z["loss_final"], grad_norm_final=z["grad_norm_final"],
                       best_loss=z["best_loss"], best_step=z["best_step"],
                       diverged_step=z["diverged_step"], tol_step=z["tol_step"],
                       hyper=hyper, options=meta["options"], extra=extra,
                       **{k: z[k] for k in OPTIONAL_ARRAYS if k in z.files})

    def to_pandas(self):
        """A tidy table, one row per trajectory (needs the ``frames`` extra: pandas).

        Columns: ``trajectory``, each per-trajectory hyperparameter (``lr``,
        ``momentum``, ``beta1`` ...), the start ``x0_0``, ``x0_1``, ...,
        ``final_loss``, ``best_loss``, ``best_step``, ``outcome``,
        ``steps_to_tol`` and ``diverged_step`` (nullable integers, ``<NA>``
        for never), ``final_grad_norm``, ``x_final_0``, ... and any final
        scalar the optimizer records. ``df.attrs`` holds the optimizer, the
        objective, the engine options and the per-call options. The names are
        those of :meth:`metrics`.

        >>> import optlab
        >>> res = optlab.simulate("sgd", "quadratic", x0=[[1.0, 1.0], [-1.0, 0.5]], steps=200, lr=[0.1, 0.5])
        >>> df = res.to_pandas()
        >>> df[["lr", "x0_0", "outcome", "steps_to_tol"]]
            lr  x0_0    outcome  steps_to_tol
        0  0.1   1.0    running          <NA>
        1  0.5  -1.0  converged           106
        >>> df.attrs["optimizer"], df.attrs["steps"]
        ('sgd', 200)
        """
        from ..frames import result_to_pandas
        return result_to_pandas(self)

    @property
    def n_steps(self) -> int:
        """Steps the run took (the last record's step when ``record_every`` does not divide it)."""
        return int(self.options.get("steps", self.steps[-1]))

    def _html_rows(self) -> list:
        counts = ", ".join(f"{k} {v}" for k, v in self.outcome_counts().items())
        return [("optimizer", self.optimizer), ("objective", f"{self.objective} (dim {self.dim})"),
                ("trajectories", self.n_traj), ("steps", self.n_steps), ("outcomes", counts)]

    def _repr_html_(self) -> str:
        """A small table for Jupyter: optimizer, objective, trajectories, steps, outcome counts."""
        return html_table("Result", self._html_rows())

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.outcome_counts().items())
        return (f"Result({self.optimizer} on {self.objective}: {self.n_traj} "
                f"trajector{'y' if self.n_traj == 1 else 'ies'} x {self.n_steps} "
                f"step{'' if self.n_steps == 1 else 's'}, dim={self.dim}; {counts})")


def html_table(title: str, rows) -> str:
    """``rows`` (label, value) as a two-column HTML table; every label and value escaped."""
    body = "".join(f"<tr><th style=\"text-align:left\">{html.escape(str(k))}</th>"
                   f"<td style=\"text-align:left\">{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table><caption style=\"text-align:left\"><b>{html.escape(title)}</b></caption>{body}</table>"


def _plain(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None if np.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, np.ndarray):
        v = v.tolist()  # a 0-d array (a flag loaded from .npz) gives its value
    if isinstance(v, (list, tuple)):
        return [_plain(e) for e in v]
    return v


_UMASK = os.umask(0)
os.umask(_UMASK)


class atomic_path:
    """Context manager giving a temporary path that is renamed onto ``path`` on success."""

    def __init__(self, path):
        self.path = Path(path)

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        os.close(fd)
        os.chmod(self.tmp, 0o666 & ~_UMASK)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            os.replace(self.tmp, self.path)
        elif os.path.exists(self.tmp):
            os.unlink(self.tmp)
        return False


# names of the temporary files of atomic writes: atomic_path's, and the GIF writer's (optlab.plots.animation)
TEMP_PATTERNS = (".*.tmp", ".*.tmp.gif")


def stale_temp_files(folder) -> list[Path]:
    """Temporary files of atomic writes in ``folder`` (left behind when a write was killed)."""
    folder = Path(folder)
    found = set()
    for pattern in TEMP_PATTERNS:
        found.update(p for p in folder.glob(pattern) if p.is_file())
    return sorted(found)


def remove_stale_temp_files(folder) -> list[Path]:
    """Remove the temporary files of killed atomic writes from ``folder``; call it only for a folder no
    other process is writing into (a run's own folder as it starts). Returns what was removed."""
    removed = []
    for p in stale_temp_files(folder):
        try:
            p.unlink()
            removed.append(p)
        except FileNotFoundError:
            pass
    return removed


def write_json_atomic(path, obj) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            json.dump(obj, fh, indent=2, allow_nan=False, default=_plain)
    return Path(path)
