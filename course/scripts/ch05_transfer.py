"""Chapter 5, the transfer curve over five seeds: topic test accuracy after fine-tuning on
8...128 labelled sentences, from the pretrained TinyBERT and from random weights.

Run from the repository root: ``python course/scripts/ch05_transfer.py`` (a few minutes on a
2-core CPU). Stores the study ``ch05_transfer`` (``labkit/study_results/``, through
:mod:`labkit.studies`), which the notebook loads.
"""

from __future__ import annotations

from ch05_common import ft, run

SIZES = (8, 16, 32, 64, 128)


def measure(tok, bert, seed):  # type: ignore[no-untyped-def]
    out = {}
    for p in ft.transfer_curve(bert, tok, task="topic", sizes=SIZES, seeds=(seed,), steps=150):
        out[f"pretrained, {p.n_labels} labels"] = p.pretrained
        out[f"scratch, {p.n_labels} labels"] = p.scratch
    return out


if __name__ == "__main__":
    run("ch05_transfer", measure, task="topic", sizes=list(SIZES), steps=150, test_size=1000)
