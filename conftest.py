"""Settings for every pytest run, the notebooks under nbval included.

The Jupyter kernels that nbval starts inherit this process's environment, so the
variables set here reach them too: no test or notebook writes into the learner's real
labkit folder, and nothing tries to reach the Hugging Face hub.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("LABKIT_HOME", tempfile.mkdtemp(prefix="labkit-test-home-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
