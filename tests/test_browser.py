"""The widgets in a real browser: JupyterLab and Notebook 7, headless Chromium, no network.

Each test starts its own Jupyter server on 127.0.0.1 (free port, random token, temporary
root directory holding a small notebook that uses every widget), opens the notebook in
Debian's ``/usr/bin/chromium`` driven by Playwright (never a downloaded browser), runs all
cells from the Run menu, and checks that:

* both attention explorers render and their canvases are not blank;
* every plotly-based teaching widget renders (its plot appears);
* clicking a head in the browser changes ``explorer.head`` in the kernel (an ``observe``
  callback fires, and a re-run cell prints the new value);
* no cell shows an error, and the page requests nothing outside 127.0.0.1 (no CDN).

The server is always stopped at the end. ``python tests/test_browser.py docs/img`` runs the
widget gallery (course/widgets_gallery.ipynb) the same way and saves a PNG of each widget
(the README's pictures).

Needs ``apt-get install chromium`` and ``pip install playwright`` (no ``playwright install``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NOTEBOOK = "widgets_test.ipynb"
RUN_TIMEOUT_MS = 240_000

# The cells of the test notebook: what a learner could have written.
CELLS: list[str] = [
    (
        "import ipywidgets\n"
        "import numpy as np\n"
        "import torch\n"
        "import labkit.widgets as lw\n"
        "from labkit.models import TinyGPT\n"
        "from labkit.tokenizers import train_bpe_tokenizer\n"
        "\n"
        "# Attention with recognisable heads: previous token, first token, itself, uniform.\n"
        "T = 12\n"
        "causal = np.tril(np.ones((T, T)))\n"
        "heads = [np.eye(T, k=-1) + np.eye(T) * (np.arange(T) == 0)[:, None], np.zeros((T, T)),\n"
        "         np.eye(T), causal / causal.sum(1, keepdims=True)]\n"
        "heads[1][:, 0] = 1\n"
        "attn = np.stack([np.stack(heads), np.stack(heads[::-1])])  # (layers, heads, T, T)\n"
        "words = 'The cat sat on the mat . The dog sat on the'.split()\n"
        "tokens = ['Ġ' + w if i else w for i, w in enumerate(words)]"
    ),
    (
        "explorer = lw.AttentionExplorer(attn, tokens, view='layer', title='toy heads')\n"
        "log = ipywidgets.Output()\n"
        "explorer.observe(\n"
        "    lambda change: log.append_stdout(f\"observed head={change['new']}\\n\"),\n"
        "    names='head',\n"
        ")\n"
        "display(explorer, log)"
    ),
    (
        "text = 'The cat sat on the mat.\\n小猫坐在垫子上。'\n"
        "tok = train_bpe_tokenizer(text * 3, vocab_size=280)\n"
        "torch.manual_seed(0)\n"
        "model = TinyGPT(vocab_size=len(tok), n_layer=2, n_head=4, d_model=32, block_size=64)\n"
        "second = lw.explore(model, tok, text)\n"
        "second"
    ),
    "lw.SoftmaxTemperature()",
    "lw.SqrtDkScaling()",
    "lw.PositionalEncodingExplorer(max_len=48, d_model=64)",
    "lw.SamplingExplorer(model, tok, 'The cat', top_k=10)",
    (
        "plot = lw.LossPlot()\n"
        "for step in range(0, 300, 10):\n"
        "    plot.update(step, train_loss=1.5 + 3 * np.exp(-step / 60),\n"
        "                val_loss=1.7 + 3 * np.exp(-step / 70) if step % 50 == 0 else None)\n"
        "plot.flush()\n"
        "plot"
    ),
    "lw.EmbeddingProjector(model, tok, max_points=60)",
    "print(f'HEAD={explorer.head} LAYER={explorer.layer}')",
]
N_PLOTLY_WIDGETS = 6
# User settings for the test's server: start the kernel without asking, never fetch news.
_AUTOSTART = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"autoStartDefaultKernel": True}
}
SETTINGS = {
    "lab": {
        **_AUTOSTART,
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
    },
    "notebook": _AUTOSTART,
}


def _write_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Jupyter exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"Jupyter did not start in {timeout} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen, base: str, token: str) -> None:
    """Ask the server to shut down (it stops its kernels), then make sure it is gone."""
    try:
        request = urllib.request.Request(
            f"{base}/api/shutdown?token={token}", method="POST", data=b""
        )
        urllib.request.urlopen(request, timeout=10).close()
    except OSError:
        pass
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def jupyter_server(app: str, tmp_path: Path, notebook: Path | None = None) -> Iterator[dict]:
    """Start ``jupyter lab`` or ``jupyter notebook`` on 127.0.0.1 in a temporary root holding
    the test notebook (or a copy of ``notebook``); always stop it afterwards."""
    root = tmp_path / "root"
    root.mkdir()
    if notebook is None:
        _write_notebook(root / NOTEBOOK)
    else:
        shutil.copy(notebook, root / NOTEBOOK)
    port, token = _free_port(), secrets.token_hex(16)
    settings = tmp_path / "settings"
    for name, values in SETTINGS[app].items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "LABKIT_HOME": str(tmp_path / "labkit_home"),
    }
    cmd = [
        sys.executable, "-m", "jupyter", app,
        "--allow-root", "--no-browser", "--ServerApp.open_browser=False",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    log = tmp_path / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base}/api/status?token={token}", proc, log)
        page_path = "lab/tree" if app == "lab" else "notebooks"
        yield {
            "app": app, "url": f"{base}/{page_path}/{NOTEBOOK}?token={token}", "base": base,
            "token": token, "root": root, "log": log,
        }  # fmt: skip
    finally:
        _stop(proc, base, token)


@pytest.fixture(params=["lab", "notebook"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict]:
    """A Jupyter server (JupyterLab or Notebook 7) that this test owns."""
    with jupyter_server(request.param, tmp_path) as info:
        yield info


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1300, "height": 1000})
            yield context.new_page()
        finally:
            browser.close()


def _distinct_colours(page: Page, selector: str) -> list[int]:
    """For each canvas matching ``selector``: how many distinct opaque colours it shows
    (0 or 1 = blank)."""
    return page.eval_on_selector_all(
        selector,
        """cs => cs.map(c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            const seen = new Set();
            for (let i = 0; i < d.length; i += 4 * 7) {
                if (d[i + 3] > 0) seen.add(d[i] + ',' + d[i + 1] + ',' + d[i + 2]);
            }
            return seen.size;
        })""",
    )


def _wait_for_kernel(server: dict, timeout: float = 120) -> None:
    """Wait until the notebook's kernel is idle with the page connected to it, and stays so
    for a second (JupyterLab may replace the first kernel while the page starts up)."""
    deadline, ready_since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{server['base']}/api/kernels?token={server['token']}") as r:
            kernels = json.load(r)
        ready = (
            len(kernels) == 1
            and kernels[0]["execution_state"] == "idle"
            and kernels[0]["connections"] > 0
        )
        if not ready:
            ready_since = None
        elif ready_since is None:
            ready_since = time.monotonic()
        elif time.monotonic() - ready_since > 1.5:
            return
        time.sleep(0.3)
    raise TimeoutError(f"the kernel was not ready after {timeout} s: {kernels}")


def _run_all(page: Page) -> None:
    """Run → Run All Cells, from the menu bar (the same in JupyterLab and Notebook 7)."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator('li[data-command="runmenu:run-all"]').click()


def test_widgets_render_and_clicks_reach_python(server: dict, page: Page, tmp_path: Path) -> None:
    try:
        _check_notebook(server, page)
    except BaseException:
        page.screenshot(path=str(tmp_path / "failure.png"))
        print(f"screenshot of the failure: {tmp_path / 'failure.png'}")
        print(server["log"].read_text()[-3000:])
        raise


def _check_notebook(server: dict, page: Page) -> None:
    outside: list[str] = []
    page.on(
        "request",
        lambda r: (
            outside.append(r.url)
            if not r.url.startswith(("http://127.0.0.1", "data:", "blob:"))
            else None
        ),
    )
    page_errors: list[str] = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))

    page.goto(server["url"])
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=120_000)
    _wait_for_kernel(server)
    # Errors the app throws on its own before any widget exists (Notebook 7.6 has one in its
    # shortcuts plugin) are not ours; every error after this point is.
    errors_before_widgets = len(page_errors)
    _run_all(page)
    last = page.locator(".jp-Notebook .jp-CodeCell").nth(len(CELLS) - 1)
    expect(last.locator(".jp-OutputArea")).to_contain_text("HEAD=0 LAYER=0", timeout=RUN_TIMEOUT_MS)

    # Both explorers render, with pictures on their canvases.
    expect(page.locator(".lk-attn")).to_have_count(2, timeout=60_000)
    first = page.locator(".lk-attn").first
    expect(first.locator(".lk-head-cell")).to_have_count(4)
    assert min(_distinct_colours(page, ".lk-attn .lk-head-cell canvas")) >= 2, "blank head canvas"
    assert min(_distinct_colours(page, ".lk-attn canvas.lk-heatmap")) >= 2, "blank heatmap"
    # Every plotly teaching widget draws its plot (plotly's JS comes from the plotly package).
    expect(page.locator(".js-plotly-plot")).to_have_count(N_PLOTLY_WIDGETS, timeout=120_000)
    traces = page.eval_on_selector_all(
        ".js-plotly-plot", "ps => ps.map(p => p.querySelectorAll('.trace').length)"
    )
    assert min(traces) > 0, f"a plot was drawn without its data: traces per plot {traces}"

    # A click in the browser reaches Python: the observer fires and the trait changed.
    first.locator('.lk-head-cell[data-head="2"]').click()
    explorer_cell = page.locator(".jp-Notebook .jp-CodeCell").nth(1)
    expect(explorer_cell.locator(".jp-OutputArea").first).to_contain_text(
        "observed head=2", timeout=30_000
    )
    expect(first.locator("canvas.lk-heatmap")).to_be_visible()  # the click opened the head view
    last.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")  # run this cell again, in place
    expect(last.locator(".jp-OutputArea")).to_contain_text("HEAD=2 LAYER=0", timeout=60_000)

    # Hovering a token lists where it looks.
    first.locator('.lk-tok[data-i="3"]').hover()
    expect(first.locator(".lk-side")).to_contain_text("attends to")

    errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    assert errors.count() == 0, errors.all_inner_texts()
    assert page.get_by_text("Error displaying widget").count() == 0
    assert not page_errors[errors_before_widgets:], page_errors[errors_before_widgets:]
    assert not outside, f"the page fetched from the network: {outside[:5]}"


# --------------------------------------------------------------------------------------------
# Screenshots for the README: python tests/test_browser.py docs/img
# --------------------------------------------------------------------------------------------

GALLERY = Path(__file__).resolve().parents[1] / "course" / "widgets_gallery.ipynb"
# picture name -> text that identifies the cell of the gallery showing that widget
SHOTS = {
    "softmax_temperature": "lw.SoftmaxTemperature(",
    "sqrt_dk": "lw.SqrtDkScaling(",
    "positional_encoding": "lw.PositionalEncodingExplorer(",
    "loss_plot": "plot = lw.LossPlot(",
    "attention_layer": "explorer = lw.explore(",
    "sampling": "lw.SamplingExplorer(",
    "embedding_projector": "lw.EmbeddingProjector(",
}


def screenshots(folder: Path) -> list[Path]:
    """Run the widget gallery in JupyterLab and save a PNG of each widget into ``folder``."""
    import tempfile

    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        jupyter_server("lab", Path(tmp), GALLERY) as server,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(
            viewport={"width": 1400, "height": 1000}, device_scale_factor=1
        ).new_page()
        page.goto(server["url"])
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=120_000)
        _wait_for_kernel(server)
        _run_all(page)
        last_prompt = page.locator(".jp-Notebook .jp-CodeCell").last.locator(".jp-InputPrompt")
        expect(last_prompt).to_have_text(re.compile(r"\[\d+\]"), timeout=900_000)
        page.wait_for_timeout(3000)

        def shoot(name: str, locator: object, hover: object = None) -> None:
            locator.scroll_into_view_if_needed()
            page.wait_for_timeout(800)
            if hover is not None:  # hover only once nothing scrolls any more
                hover.hover()
                page.wait_for_timeout(300)
            locator.screenshot(path=str(folder / f"{name}.png"))
            saved.append(folder / f"{name}.png")

        for name, marker in SHOTS.items():
            cell = page.locator(".jp-Notebook .jp-CodeCell", has_text=marker).first
            shoot(name, cell.locator(".jp-OutputArea").first)
        explorer = page.locator(".lk-attn").first
        explorer.locator('button[data-view="head"]').click()
        shoot("attention_head", explorer, hover=explorer.locator('.lk-tok[data-i="16"]'))
        explorer.locator('button[data-view="model"]').click()
        shoot("attention_model", explorer)
        browser.close()
    return saved


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/img")
    for path in screenshots(target):
        print(path)
