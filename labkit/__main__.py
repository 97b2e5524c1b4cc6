"""Command line: ``python -m labkit COMMAND [options]`` (also installed as ``labkit``).

Each command lives in the module that owns it and exposes a function ``f(argv) -> int``;
this file only dispatches, importing the module on demand so ``doctor`` stays fast.
Taught in chapter 0 (``labkit doctor``), chapter 4 (``labkit train``) and chapter 8
(``labkit generate``, ``labkit export``, ``labkit models``).
"""

from __future__ import annotations

import importlib
import sys

# name -> ("module:function", one-line summary); the function takes argv and returns an exit code.
COMMANDS: dict[str, tuple[str, str]] = {
    "doctor": ("labkit.doctor:cli", "check the environment: packages, device, threads, network"),
    "train": ("labkit.cli:train_cli", "train a tiny GPT on a text file (nanoGPT-style options)"),
    "generate": ("labkit.cli:generate_cli", "sample text from a trained checkpoint"),
    "export": ("labkit.cli:export_cli", "export a checkpoint to a Hugging Face directory"),
    "models": (
        "labkit.real_models:cli",
        "install / list / remove the real pretrained models (ch. 8-9)",
    ),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: python -m labkit COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    lines += ["", "Run `python -m labkit COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run one labkit command and return its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"labkit: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, func_name = COMMANDS[name][0].split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    return int(func(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
