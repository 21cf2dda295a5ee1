"""``optlab cache``: the compiled-kernel cache (where, how big), ``clear`` and ``prune``.

::

    optlab cache          folder, size, kernel count
    optlab cache clear    remove every cached kernel (and the compiled helpers, the layout scans)
    optlab cache prune    remove kernels that no current source produces
"""
from __future__ import annotations

import sys
from .errors import argument_parser


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def main(argv=None) -> int:
    parser = argument_parser(
        prog="optlab cache", description="The compiled-kernel cache ($OPTLAB_CACHE_DIR or ~/.cache/optlab).")
    parser.add_argument("action", nargs="?", default="show", choices=("show", "clear", "prune"),
                        help="show (default): folder, size and kernel count; clear: remove every kernel; "
                             "prune: remove kernels no current source produces")
    args = parser.parse_args(argv)
    from .engine import codegen
    if args.action == "clear":
        n = codegen.clear()
        print(f"removed {n} kernel{'s' if n != 1 else ''} from {codegen.user_cache_root() / 'kernels'} "
              "(and the compiled helpers and layout scans)")
        return 0
    if args.action == "prune":
        removed = codegen.prune()
        n = sum(1 for p in removed if p.suffix == ".py" and not p.name.startswith("."))
        print(f"removed {n} stale kernel{'s' if n != 1 else ''} "
              f"({len(removed) - n} leftover temporary file{'s' if len(removed) - n != 1 else ''})")
        return 0
    info = codegen.info()
    print(f"folder:   {info['folder']}")
    print(f"size:     {_size(info['bytes'])}")
    print(f"kernels:  {info['kernels']} ({info['compiled']} compiled)")
    print(f"helpers:  {info['helpers']} compiled functions (driver, objectives; Numba's cache beside their source)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
