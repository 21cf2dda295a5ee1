"""The gallery: run every lecture study and keep one figure of each in docs/gallery/.

    python -m optlab.bench.gallery                 # all studies, default settings (a few minutes, warm cache)
    python -m optlab.bench.gallery --quick         # quick mode (for a smoke test)
    python -m optlab.bench.gallery --only momentum saddle_escape
    python -m optlab.bench.gallery --out /tmp/gallery --runs /tmp/gallery_runs

Each study runs through :func:`optlab.runner.run` with its experiment's
defaults and ``plot.dpi`` 90 into ``<runs>/<study>`` (default
outputs/gallery/); the chosen figure is copied to ``<out>/<study>.png``
as a 256-color PNG (kept small: the whole gallery stays under 3 MB), and
``docs/gallery.md`` is rewritten with the command behind every figure.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from ..errors import argument_parser

# study -> (figure file written by the study, caption)
FIGURES = {
    "lr_divergence": ("lr_divergence.png",
                      "GD and heavy-ball over a log grid of learning rates: final loss and steps to tolerance; the "
                      "measured edge of stability against 2/L and 2(1+β)/L from the Hessian."),
    "saddle_escape": ("saddle_escape.png",
                      "Around three saddles: GD on the stable manifold stays; a perturbation, gradient noise, "
                      "momentum and Adam escape. Paths, distance to the saddle, escape step."),
    "local_minima": ("basins_himmelblau.png",
                     "Basins of attraction on Himmelblau's function: 200×200 starts per optimizer, colored by the "
                     "minimum each reaches."),
    "momentum": ("momentum.png",
                 "Heavy-ball SGD over (lr, β): steps to tolerance, the stability bound lr = 2(1+β)/L and Polyak's "
                 "optimum."),
    "adam_betas": ("adam_betas.png", "Adam's β1 × β2 on Rosenbrock and Beale: steps to tolerance and final gap."),
    "batch_vs_minibatch": ("batch_vs_minibatch.png",
                           "Least squares in (w, b): full-batch GD, SGD and minibatch 32 at the same lr; loss per "
                           "epoch and per gradient evaluation."),
    "optimizer_race": ("race_rosenbrock_panels.png",
                       "Every registered optimizer on Rosenbrock, each at the learning rate its batched search "
                       "chose."),
    "plateau_cliff": ("plateau_cliff.png",
                      "A plateau with a cliff: GD crawls then is thrown across the crater; gradient clipping, a "
                      "smaller lr, Adam and RMSprop."),
    "convergence_rates": ("convergence_rates.png",
                          "Measured linear rates of GD and Polyak's heavy ball against (κ−1)/(κ+1) and "
                          "(√κ−1)/(√κ+1), and the stability edges of GD, heavy ball and torch's Nesterov against "
                          "2/L, 2(1+β)/L and (2+2β)/((1+2β)L); every point is a checked claim."),
    "heavy_ball_cycle": ("heavy_ball_cycle.png",
                         "Lessard, Recht & Packard's counterexample: heavy ball tuned for quadratics ends in a "
                         "period-3 cycle on a 1-strongly convex, 25-smooth function; GD and Nesterov converge."),
    "edge_of_stability": ("edge_of_stability.png",
                          "The edge of stability: the sharpness rises to 2/lr (GD on the minimalist example and on a "
                          "tanh network), (2 + 2β)/lr (heavy ball) and 38/lr (Adam, preconditioned) and hovers "
                          "there while the loss keeps falling, non-monotonically."),
    "lr_schedules": ("lr_schedules.png",
                     "Constant lr, StepLR, cosine, warm-up + cosine, one-cycle and reduce-on-plateau, each at its "
                     "searched peak lr: minibatch SGD on least squares and Adam on an MLP; loss, lr, final losses."),
    "amsgrad_counterexample": ("amsgrad_counterexample.png",
                               "Reddi, Kale & Kumar's online problem on [-1, 1]: torch's Adam (β = (0.9, 0.99)) at "
                               "α/√t ends at the worst point x = +1 with linear regret, AMSGrad at the optimum; "
                               "deterministic and stochastic, the drift per period and the sawtooth predicted."),
    "lr_range_test": ("lr_range_test.png",
                      "Smith's LR range test with fastai's rules (minimum/10, steep, valley) next to a sweep of fixed "
                      "lrs on quadratics, Rosenbrock, regressions and the mlp: the picks against the best lr, the "
                      "edge and 2/L."),
}
# study -> (interactive page written by the study, caption): the gallery shows a screenshot of it, taken in
# headless Chromium (optlab.plots.explorer.screenshot; skipped with a note when chromium is missing)
PAGES = {
    "explorer": ("explorer.html",
                 "explorer.html: SGD and Adam on Rosenbrock, every trajectory of 10 lr × 8 momenta × 36 starts; "
                 "sliders, a click on the landscape picks the start, the heatmap picks (lr, momentum)."),
}
ROOT = Path(__file__).resolve().parents[2]


def shrink_png(src: Path, dst: Path, colors: int = 256) -> int:
    """Copy a PNG as an optimised palette image (figures have few colors); returns the size in bytes."""
    from PIL import Image
    with Image.open(src) as im:
        rgb = im.convert("RGB")
    pal = rgb.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp.png")
    pal.save(tmp, optimize=True)
    tmp.replace(dst)
    return dst.stat().st_size


def run_gallery(out=ROOT / "docs" / "gallery", runs=ROOT / "outputs" / "gallery", only=None, quick=False,
                dpi=90, page=ROOT / "docs" / "gallery.md") -> list[dict]:
    from ..runner import run
    names = list(FIGURES) + list(PAGES) if not only else list(only)
    unknown = [n for n in names if n not in FIGURES and n not in PAGES]
    if unknown:
        from ..errors import unknown_name
        raise unknown_name("gallery study", unknown[0], {**FIGURES, **PAGES})
    rows = []
    for name in names:
        t0 = time.perf_counter()
        cfg = {"study": {"name": name, **({"quick": True} if quick else {})}, "plot": {"format": "png", "dpi": dpi}}
        summary = run(cfg, Path(runs) / name)
        fig, caption = FIGURES[name] if name in FIGURES else PAGES[name]
        src = Path(runs) / name / fig
        if name in PAGES:
            from ..plots.explorer import screenshot
            shot = src.with_name(f"{src.stem}_screenshot.png")
            if not screenshot(src, shot):
                print(f"{name:<20} skipped: no chromium/chromedriver for the screenshot")
                continue
            src = shot
        size = shrink_png(src, Path(out) / f"{name}.png")
        rows.append(dict(study=name, figure=f"{name}.png", caption=caption, bytes=size,
                         wall_s=round(time.perf_counter() - t0, 1), study_wall_s=summary.get("wall_s")))
        print(f"{name:<20} {rows[-1]['wall_s']:>6.1f} s  {size / 1024:>6.0f} KiB  -> {Path(out) / (name + '.png')}")
    if page is not None and not only:
        write_page(rows, Path(page), Path(out))
    total = sum(r["bytes"] for r in rows)
    print(f"total {total / 2**20:.2f} MiB in {Path(out)}")
    return rows


def write_page(rows, page: Path, out: Path) -> None:
    rel = out.relative_to(page.parent) if out.is_relative_to(page.parent) else out
    lines = ["# Gallery", "",
             "One figure per lecture study (and a screenshot of the explorer page), made by "
             "`python -m optlab.bench.gallery` (every study with its default settings, `plot.dpi=90`). Each caption gives the command that makes the full set of figures of "
             "that study; its page in `experiments/` says what to look for.", ""]
    for r in rows:
        name = r["study"]
        source = FIGURES[name][0] if name in FIGURES else f"a screenshot of {PAGES[name][0]}"
        lines += [f"## {name}", "", f"![{name}]({rel.as_posix()}/{r['figure']})", "", r["caption"], "",
                  "```bash", f"python -m optlab +experiment={name}", "```", "",
                  f"The figure is {source if name in PAGES else f'`{source}`'} of that run (study time here: {r['study_wall_s']:.1f} s, warm kernel "
                  f"cache). What to look for, and the knobs: [experiments/{name}.md](../experiments/{name}.md).", ""]
    page.write_text("\n".join(lines))


def main(argv=None) -> int:
    ap = argument_parser(prog="python -m optlab.bench.gallery", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "gallery")
    ap.add_argument("--runs", type=Path, default=ROOT / "outputs" / "gallery")
    ap.add_argument("--only", nargs="+", default=None, metavar="STUDY")
    ap.add_argument("--quick", action="store_true", help="quick mode (smaller grids; for a smoke test)")
    ap.add_argument("--dpi", type=int, default=90)
    args = ap.parse_args(argv)
    from ..errors import OptlabError
    try:
        page = None if (args.quick or args.out != ROOT / "docs" / "gallery") else ROOT / "docs" / "gallery.md"
        run_gallery(args.out, args.runs, args.only, args.quick, args.dpi, page)
    except OptlabError as exc:
        print(f"optlab.bench.gallery: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
