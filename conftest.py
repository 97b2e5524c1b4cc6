"""Settings for every pytest run, the notebooks under nbval included.

The Jupyter kernels that nbval starts inherit this process's environment, so the
variables set here reach them too: no test or notebook writes into the learner's real
labkit folder, and nothing tries to reach the Hugging Face hub.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# The real pretrained models (`python -m labkit models install`) stay visible to the tests and
# notebooks: their folder is fixed here, before LABKIT_HOME is pointed at a temporary folder.
if "LABKIT_REAL_MODELS_DIR" not in os.environ:
    if os.environ.get("LABKIT_HOME"):
        _home = Path(os.environ["LABKIT_HOME"]).expanduser()
    else:
        import platformdirs

        _home = Path(platformdirs.user_data_dir("labkit", appauthor=False))
    os.environ["LABKIT_REAL_MODELS_DIR"] = str(_home / "real_models")

os.environ.setdefault("LABKIT_HOME", tempfile.mkdtemp(prefix="labkit-test-home-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
