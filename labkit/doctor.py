"""``doctor()``: check the learner's environment and say how to fix what is wrong.

Taught in chapter 0 (Start here). The packages to check and the minimum Python come from
labkit's installed metadata (``importlib.metadata``: the ``dependencies`` and
``requires-python`` of ``pyproject.toml``), so the list cannot drift from what ``pip``
installs. Also ``python -m labkit doctor``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import platform
import re
import sys
import types
from pathlib import Path
from typing import NamedTuple

import torch

from labkit import real_models
from labkit.env import (
    apply_thread_policy,
    get_device,
    home_dir,
    in_colab,
    in_vscode,
    mps_available,
    network_reachable,
    usable_cpus,
)


class Requirement(NamedTuple):
    """One package labkit needs: its distribution name, minimum version and extra (or None).

    Taught in chapter 0.
    """

    dist: str
    minimum: str | None
    extra: str | None


_REQUIREMENT = re.compile(
    r"^\s*(?P<dist>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*"
    r"(?:\(?\s*>=\s*(?P<minimum>[0-9][^,;\s)]*))?[^;]*(?:;(?P<marker>.*))?$"
)


def parse_requirement(line: str) -> Requirement:
    """``'gguf>=0.10; extra == "real-models"'`` → ``Requirement('gguf', '0.10', 'real-models')``.

    Taught in chapter 0.
    """
    found = _REQUIREMENT.match(line)
    if found is None:
        raise ValueError(f"cannot read the requirement {line!r}")
    extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", found.group("marker") or "")
    return Requirement(found.group("dist"), found.group("minimum"), extra and extra.group(1))


def _pyproject_metadata() -> tuple[list[str], str]:
    """Requirements and requires-python from the source tree's pyproject.toml (not installed)."""
    import tomllib

    path = Path(__file__).resolve().parent.parent / "pyproject.toml"
    project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
    lines = list(project.get("dependencies", []))
    for extra, packages in project.get("optional-dependencies", {}).items():
        lines += [f'{p}; extra == "{extra}"' for p in packages]
    return lines, project.get("requires-python", "")


def requirements() -> tuple[list[Requirement], str]:
    """``(requirements, requires_python)`` of the installed labkit, e.g. ``([...], ">=3.11")``.

    Read from ``importlib.metadata``; from ``pyproject.toml`` when labkit runs from a source
    tree that is not installed. Taught in chapter 0.
    """
    try:
        lines = importlib.metadata.requires("labkit") or []
        python = importlib.metadata.metadata("labkit")["Requires-Python"] or ""
    except importlib.metadata.PackageNotFoundError:
        lines, python = _pyproject_metadata()
    return [parse_requirement(line) for line in lines], python


def version_tuple(version: str) -> tuple[int, ...]:
    """``"2.13.0+cpu"`` → ``(2, 13, 0)``: the leading numbers of a version. Taught in chapter 0."""
    parts = []
    for piece in version.split("+")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit()) if piece[:1].isdigit() else ""
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def _installed_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _import_names() -> dict[str, list[str]]:
    """Distribution name (normalised) → the top-level modules it installs."""
    names: dict[str, list[str]] = {}
    for module, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            names.setdefault(_normalise(dist), []).append(module)
    return names


def _normalise(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def check_package(req: Requirement, load: bool = True) -> tuple[str, str]:
    """Return ``(status, message)`` for one package: status is "ok", "old" or "missing".

    With ``load=True`` the package is imported (catches broken installs); otherwise only its
    installed version is looked up (fast: importing jupyterlab alone takes seconds).
    Taught in chapter 0.
    """
    version = _installed_version(req.dist)
    if version is None:
        return "missing", f"{req.dist} not installed"
    if load:
        modules = _import_names().get(_normalise(req.dist)) or [req.dist.replace("-", "_")]
        module = req.dist.replace("-", "_") if req.dist.replace("-", "_") in modules else modules[0]
        try:
            importlib.import_module(module)
        except Exception as exc:  # installed but broken
            return "missing", f"{req.dist} cannot be imported ({type(exc).__name__}: {exc})"
    if req.minimum and version_tuple(version) < version_tuple(req.minimum):
        fix = f"pip install -U '{req.dist}>={req.minimum}'"
        return "old", f"{req.dist} {version} is older than {req.minimum}: {fix}"
    return "ok", f"{req.dist} {version}"


def _line(status: str, text: str) -> None:
    print(f"{status:<7}{text}")


def _check_python(requires_python: str) -> bool:
    py = platform.python_version()
    found = re.search(r">=\s*([0-9][0-9.]*)", requires_python)
    minimum = found.group(1) if found else ""
    if not minimum or version_tuple(py) >= version_tuple(minimum):
        _line("[OK]", f"Python {py}")
        return True
    _line("[FAIL]", f"Python {py}: labkit needs Python {minimum} or newer")
    return False


def _check_packages(reqs: list[Requirement]) -> bool:
    """Base requirements must pass; an extra's packages are checked once the extra is installed."""
    ok = True
    for req in (r for r in reqs if r.extra is None):
        status, message = check_package(req)
        if status == "ok":
            _line("[OK]", message)
        else:
            ok = False
            hint = f": pip install '{req.dist}>={req.minimum}'" if status == "missing" else ""
            _line("[FAIL]", message + hint)
    extras: dict[str, list[Requirement]] = {}
    for req in reqs:
        if req.extra is not None:
            extras.setdefault(req.extra, []).append(req)
    for extra, members in extras.items():
        results = [(req, *check_package(req, load=False)) for req in members]
        if all(status == "missing" for _, status, _ in results):
            _line(
                "[--]", f'extra "{extra}" not installed (optional: pip install "labkit[{extra}]")'
            )
            continue
        for _, status, message in results:
            if status == "ok":
                _line("[OK]", f'{message} (extra "{extra}")')
            else:
                _line("[--]", f'{message} (extra "{extra}", optional)')
    return ok


def doctor(check_network: bool = True) -> bool:
    """Check the environment and print one line per check; return True if all required pass.

    ``[OK]`` a check passed, ``[FAIL]`` a required check failed (the line says how to fix it),
    ``[--]`` something optional is absent (fine). Checks: the Python version and the packages
    that labkit's installed metadata requires (with their versions; an extra such as
    ``real-models`` is checked once it is installed), the device labkit will use, torch's
    thread count, CPU cores, the optional real models, Colab / VS Code, and (unless
    ``check_network=False``) whether the network is reachable — the course itself runs
    offline, so being offline is not a failure.

    Also ``labkit.doctor()`` and ``python -m labkit doctor``. Taught in chapter 0.
    """
    reqs, requires_python = requirements()
    ok = _check_python(requires_python)
    ok = _check_packages(reqs) and ok

    cuda = "yes" if torch.cuda.is_available() else "no"
    mps = "yes" if mps_available() else "no"
    try:
        device = get_device()
        _line("[OK]", f"device: {device} (CUDA available: {cuda}, MPS available: {mps})")
    except ValueError as exc:
        ok = False
        _line("[FAIL]", f"device: {exc} (fix or unset $LABKIT_DEVICE)")
    threads = apply_thread_policy()  # what labkit will use: one thread unless you chose
    _line("[OK]", f"torch threads: {threads} (labkit's policy: LABKIT_THREADS, set_threads())")
    _line("[OK]", f"CPU cores: {os.cpu_count()} (usable by this process: {usable_cpus()})")

    for name in real_models.REAL_MODELS:
        installed, message = real_models.real_status(name)
        if installed:
            _line("[OK]", f"real model {name}: {message}")
        else:
            _line("[--]", f"real model {name}: {message} (optional)")
    if real_models.real_models_off():
        _line("[--]", "real models switched off by $LABKIT_REAL_MODELS (chapters use tiny models)")

    where = [name for name, flag in (("Colab", in_colab()), ("VS Code", in_vscode())) if flag]
    local = "a local Python (not Colab, not VS Code)"
    _line("[OK]", f"running in: {', '.join(where) if where else local}")
    _line("[OK]", f"labkit home: {home_dir()}")

    if check_network:
        if network_reachable():
            _line("[OK]", "network: pypi.org reachable")
        else:
            _line("[--]", "offline (fine: the course runs offline)")
    else:
        _line("[--]", "network: not checked (--no-network)")
    print("All required checks passed." if ok else "Some required checks FAILED: see [FAIL] above.")
    return ok


def cli(argv: list[str]) -> int:
    """``python -m labkit doctor [--no-network]``: exit 0 when every required check passes.

    Taught in chapter 0.
    """
    parser = argparse.ArgumentParser(
        prog="python -m labkit doctor",
        description="Check labkit's environment: packages, device, threads, models, network.",
    )
    parser.add_argument(
        "--no-network", action="store_true", help="skip the (2-second) network check"
    )
    args = parser.parse_args(argv)
    return 0 if doctor(check_network=not args.no_network) else 1


class _CallableModule(types.ModuleType):
    """``labkit.doctor()`` still works once ``import labkit.doctor`` bound the name to this."""

    def __call__(self, check_network: bool = True) -> bool:
        return doctor(check_network=check_network)


sys.modules[__name__].__class__ = _CallableModule
