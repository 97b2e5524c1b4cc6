"""Checksummed downloads of optional public corpora (Tiny Shakespeare), cached once.

``download(name)`` fetches a file of ``DATASETS`` (or any URL with its SHA-256), verifies it
and keeps it under ``home_dir()/"data"``; errors say where to put the file by hand when you
are offline. Taught in chapter 4.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from labkit._util import atomic_write, sha256_file
from labkit.env import home_dir

# name -> (url, sha256, file name). The SHA-256 of Tiny Shakespeare (1,115,394 bytes) is the
# published hash of that file (as given in the course brief; widely quoted).
DATASETS: dict[str, tuple[str, str, str]] = {
    "tinyshakespeare": (
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        "tinyshakespeare.txt",
    ),
}


class DownloadError(ConnectionError):
    """A download failed (offline, time-out, HTTP error); the message says where to put the
    file by hand. Taught in chapter 4."""


class ChecksumError(ValueError):
    """A downloaded file does not have the expected SHA-256. Taught in chapter 4."""


def download(
    name: str,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    url: str | None = None,
    sha256: str | None = None,
    timeout: float = 10.0,
    progress: bool = True,
) -> Path:
    """Fetch a public corpus once, check its SHA-256, and return its path in the cache.

    ``name`` is a key of ``DATASETS`` (e.g. ``"tinyshakespeare"``); ``url`` / ``sha256``
    override the registry, or describe a file that is not in it. The cache is
    ``home_dir()/"data"`` unless ``cache_dir`` is given. A cached file with the right hash
    is returned without touching the network. Otherwise the file is downloaded (time-out
    ``timeout`` seconds per network operation) to a temporary file, verified, then renamed
    into place, so a broken download never looks like a good one.

    Errors: ``ValueError`` for an unknown name; ``DownloadError`` when offline (it names the
    URL and the exact path where you can place the file by hand); ``ChecksumError`` when the
    bytes are not the expected ones. Taught in chapter 4.
    """
    from tqdm.auto import tqdm  # imported here: tqdm.auto is slow to import

    if name in DATASETS:
        known_url, known_sha, filename = DATASETS[name]
    elif url and sha256:
        known_url, known_sha, filename = url, sha256, name
    else:
        raise ValueError(
            f"unknown dataset {name!r}; known names: {', '.join(sorted(DATASETS))} "
            "(or pass url=... and sha256=... for another file)"
        )
    url, expected = url or known_url, (sha256 or known_sha).lower()
    folder = Path(cache_dir).expanduser() if cache_dir is not None else home_dir() / "data"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename

    stale = ""
    if path.exists():
        actual = sha256_file(path)
        if actual == expected:
            return path
        stale = (
            f" The file already at {path} has SHA-256 {actual}, not the expected {expected}: "
            "replace it with a correct copy or delete it."
        )

    def fetch(tmp: str) -> None:
        """Download into ``tmp`` and verify it; raising here leaves ``path`` untouched."""
        digest = hashlib.sha256()
        try:
            with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(
                    total=total, unit="B", unit_scale=True, desc=filename, disable=not progress
                ) as bar:
                    for block in iter(lambda: response.read(1 << 16), b""):
                        out.write(block)
                        digest.update(block)
                        bar.update(len(block))
        except (OSError, ValueError) as exc:  # URLError, HTTPError, time-outs, refused, bad URL
            if isinstance(exc, urllib.error.HTTPError):
                reason = f"HTTP {exc.code} {exc.reason}"
            else:
                reason = getattr(exc, "reason", None) or exc
            raise DownloadError(
                f"could not download {name!r} from {url} ({reason}). If you are offline, fetch "
                f"that URL on another machine or in a browser and place the file at {path} — "
                f"labkit checks its SHA-256 ({expected}) and then uses it without the network."
                f"{stale}"
            ) from exc
        actual = digest.hexdigest()
        if actual != expected:
            raise ChecksumError(
                f"the file downloaded from {url} has SHA-256 {actual}, but {expected} was "
                f"expected: it is damaged or not the file labkit expects, so nothing was saved "
                f"to {path}. Try again later, or place a correct copy there by hand."
            )

    atomic_write(path, fetch)
    return path
