"""Chapter 9's measuring tools: cost, scaling, efficiency and risks of language models.

``course/09_challenges.ipynb`` ↔ ``labkit.chapters.challenges`` ↔
``labkit.exercises.challenges``. The notebook imports it as
``from labkit.chapters import challenges as E``. Everything runs on labkit's tiny models on a
laptop CPU:

* :mod:`.compute`: FLOPs, GPU-years, scaling runs and power-law fits (sections 1–2);
* :mod:`.compression`: distillation, magnitude pruning and forward-pass timing (section 3);
* :mod:`.risks`: canaries, bias probes, hallucination, typos and per-position losses
  (sections 4–7);
* :mod:`.interpret`: previous-token heads and head ablation (section 8);
* :mod:`.seeds`: the stored multi-seed table of ``course/scripts/ch09_scaling.py``, its spread and
  its plot (section 2).

What other chapters reuse lives in concept modules: int8 quantisation in
:mod:`labkit.quantize`, the loss on fixed batches or on a text in :mod:`labkit.evaluate`
(``evaluate_loss``, ``lm_loss``). Taught in chapter 9.
"""

from __future__ import annotations

from labkit.chapters.challenges.compression import (
    Distiller,
    distill,
    distillation_loss,
    forward_seconds,
    prune_magnitude,
    sparsity,
)
from labkit.chapters.challenges.compute import (
    SECONDS_PER_YEAR,
    FlopCount,
    PowerLaw,
    ScalingRun,
    count_training_flops,
    fit_power_law,
    gpu_years,
    scaling_runs,
    transformer_training_flops,
)
from labkit.chapters.challenges.interpret import ablate_head, previous_token_scores
from labkit.chapters.challenges.risks import (
    Answer,
    Canary,
    CanaryResult,
    add_typos,
    answer,
    canary_exposure,
    continuation_logprobs,
    insert_canaries,
    log_odds,
    make_canaries,
)
from labkit.chapters.challenges.seeds import scaling_figure
from labkit.evaluate import target_losses
from labkit.studies import load_study, seed_spread

__all__ = [
    "SECONDS_PER_YEAR",
    "Answer",
    "Canary",
    "CanaryResult",
    "Distiller",
    "FlopCount",
    "PowerLaw",
    "ScalingRun",
    "ablate_head",
    "add_typos",
    "answer",
    "canary_exposure",
    "continuation_logprobs",
    "count_training_flops",
    "distill",
    "distillation_loss",
    "fit_power_law",
    "forward_seconds",
    "gpu_years",
    "insert_canaries",
    "load_study",
    "log_odds",
    "make_canaries",
    "previous_token_scores",
    "prune_magnitude",
    "scaling_figure",
    "scaling_runs",
    "seed_spread",
    "sparsity",
    "target_losses",
    "transformer_training_flops",
]
