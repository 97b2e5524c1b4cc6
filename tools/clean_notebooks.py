"""Clean the course notebooks in place: no widget state, no run metadata, stable ids.

Usage: ``python tools/clean_notebooks.py [NOTEBOOK ...]`` (default: every ``course/*.ipynb``).
``--check`` only reports notebooks that are not clean and exits 1 if there are any.

What it removes: the notebook-level ``widgets`` metadata (a plotly ``FigureWidget`` alone
embeds a ~5 MB bundle there), widget-view outputs that have no static fallback next to
them, cell ``execution`` timings, and kernel-specific language metadata churn.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
KEEP_NOTEBOOK_META = {"kernelspec", "language_info"}


def clean(nb: dict) -> dict:
    """Return the cleaned notebook dictionary (nbformat 4 JSON)."""
    nb["metadata"] = {k: v for k, v in nb.get("metadata", {}).items() if k in KEEP_NOTEBOOK_META}
    nb["metadata"]["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    nb["metadata"]["language_info"] = {"name": "python"}
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {})
        for key in ("execution", "collapsed", "scrolled", "ExecuteTime"):
            meta.pop(key, None)
        if cell.get("cell_type") != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data and WIDGET_VIEW in data:
                data.pop(WIDGET_VIEW)
                if not data:  # a widget with no static fallback: nothing to show offline
                    continue
            outputs.append(out)
        cell["outputs"] = outputs
    return nb


def main(argv: list[str] | None = None) -> int:
    """Clean (or with ``--check`` verify) the given notebooks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="report, do not rewrite")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parents[1]
    paths = args.notebooks or sorted((root / "course").glob("*.ipynb"))
    dirty = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        cleaned = json.dumps(clean(json.loads(text)), indent=1, ensure_ascii=False) + "\n"
        if cleaned != text:
            dirty.append(path)
            if not args.check:
                path.write_text(cleaned, encoding="utf-8")
    for path in dirty:
        print(f"{'not clean' if args.check else 'cleaned'}: {path}")
    return 1 if (args.check and dirty) else 0


if __name__ == "__main__":
    sys.exit(main())
