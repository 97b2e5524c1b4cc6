"""``python -m labkit models install | list | remove``: the real models from the command line.

Taught in chapter 8.
"""

from __future__ import annotations

import argparse
import sys

from .install import install_real, remove_real
from .registry import (
    REAL_MODELS,
    RealModelNotInstalledError,
    cache_dir,
    real_models_off,
    real_status,
)


def cli(argv: list[str]) -> int:
    """``python -m labkit models install [NAMES...] [--force] | list [--verify] | remove NAME``.

    Taught in chapter 8.
    """
    parser = argparse.ArgumentParser(
        prog="python -m labkit models",
        description="Install, list or remove the real pretrained models used in chapters 8–9.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    install = sub.add_parser("install", help="download, verify and unpack (default: all)")
    install.add_argument("names", nargs="*", metavar="NAME", help=", ".join(REAL_MODELS))
    install.add_argument("--force", action="store_true", help="reinstall even if present")
    install.add_argument("--quiet", action="store_true", help="print nothing but errors")
    listing = sub.add_parser("list", help="show each model's status, size and folder")
    listing.add_argument("--verify", action="store_true", help="also recompute SHA-256 sums")
    remove = sub.add_parser("remove", help="delete an installed model")
    remove.add_argument("names", nargs="+", metavar="NAME", help=", ".join(REAL_MODELS))
    args = parser.parse_args(argv)

    try:
        if args.command == "install":
            install_real(args.names or None, quiet=args.quiet, force=args.force)
            return 0
        if args.command == "list":
            print(f"real models in {cache_dir()}:")
            all_ok = True
            for name in REAL_MODELS:
                ok, message = real_status(name, checksums=args.verify)
                all_ok &= ok
                print(f"  {'[OK]' if ok else '[--]':<5} {name:<8} {message}")
            if real_models_off():
                print("  (LABKIT_REAL_MODELS is off: the chapters will not use them)")
            return 0 if all_ok else 1
        for name in args.names:
            removed = remove_real(name)
            print(f"{name}: {'removed' if removed else 'was not installed'}")
        return 0
    except (ValueError, TypeError, ImportError, RealModelNotInstalledError) as exc:
        print(f"labkit models: {exc}", file=sys.stderr)
        return 1
