"""Exercises for chapter 4 (Training): Jaccard similarity of shingles (near-duplicates),
cross-entropy, perplexity, one Adam step, BERT masking, the warm-up + cosine learning rate.

Taught in chapter 4.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .cases import Case, Diagnosis, mistakes, seeded
from .core import register
from .exercise import Exercise

# --------------------------------------------------------------------------- jaccard


def jaccard_similarity(a: str, b: str, n: int = 3) -> float:
    """Jaccard similarity |A ∩ B| / |A ∪ B| of the sets of word n-grams ("shingles") of two texts.

    Words are ``text.split()``; a text with fewer than ``n`` words (but at least one) is a
    single shingle made of all its words; two texts without any words are identical (1.0).
    Taught in chapter 4 (near-duplicate removal).
    """

    def grams(text: str) -> set[tuple[str, ...]]:
        words = text.split()
        if len(words) < n:
            return {tuple(words)} if words else set()
        return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}

    A, B = grams(a), grams(b)
    if not A and not B:
        return 1.0
    return len(A & B) / len(A | B)


def _jaccard(a: str, b: str, n: int, *, mistake: str) -> float:
    """jaccard_similarity with one known ``mistake`` (the names in its diagnoses)."""

    def grams(text: str) -> set:
        words = list(text) if mistake == "chars" else text.split()
        if mistake == "short_empty" and len(words) < n:
            return set()
        if len(words) < n:
            return {tuple(words)} if words else set()
        stop = len(words) - n + (0 if mistake == "off_by_one" else 1)
        return {tuple(words[i : i + n]) for i in range(max(stop, 0))}

    A, B = grams(a), grams(b)
    if not A and not B:
        return 1.0
    if mistake == "sum":
        return len(A & B) / (len(A) + len(B))
    if mistake == "min":
        return len(A & B) / min(len(A), len(B)) if A and B else 0.0
    return len(A & B) / len(A | B)


_NEAR_A = "Tom had a red ball . He gave it to Kim in the park at noon ."
_NEAR_B = "Tom had a blue ball . He gave it to Kim in the park at noon ."


def _jac_cases() -> list[Case]:
    return [
        Case((_NEAR_A, _NEAR_B), label="two sentences that differ in one word"),
        Case((_NEAR_A, _NEAR_A), label="identical texts (similarity 1)"),
        Case(
            ("the cat sat on the mat", "a dog ran in the park"),
            label="nothing in common (similarity 0)",
        ),
        Case(
            ("a b c a b c a b c", "a b c d"),
            label="a text that repeats itself: count each shingle once (a set)",
        ),
        Case((_NEAR_A, _NEAR_B), {"n": 1}, label="n=1: sets of single words"),
        Case(("one two three four five", "one two three four six"), {"n": 2}, label="n=2"),
        Case(
            ("hello world", "hello world"),
            label="texts shorter than n words: one shingle each (equal)",
        ),
        Case(
            ("hello world", "hello there"),
            label="texts shorter than n words: one shingle each (different)",
        ),
        Case(("", "   "), label="two texts without words (similarity 1: nothing differs)"),
        Case(("", "a b c d"), label="one empty text"),
    ]


register(
    Exercise(
        id="training.jaccard",
        chapter=4,
        title="Near-duplicates: Jaccard similarity of shingles",
        signature="(a: str, b: str, n: int = 3) -> float",
        task="Split each text into words with str.split(); its shingles are the SET of its "
        "n-grams of consecutive "
        "words (a text with fewer than n words, but at least one, is one shingle of all its "
        "words). Return "
        "|A ∩ B| / |A ∪ B|, and 1.0 when neither text has any words.",
        reference=jaccard_similarity,
        cases=_jac_cases,
        atol=1e-9,
        rtol=1e-9,
        diagnoses=[
            *mistakes(
                jaccard_similarity,
                _jaccard,
                {
                    "sum": "Divide by the size of the union |A ∪ B|, not by |A| + |B| (shared "
                    "shingles would count twice).",
                    "min": "Divide by the size of the union |A ∪ B|, not by the smaller set (that "
                    "is the overlap coefficient: a short text inside a long one would score 1).",
                    "chars": "Shingles are n-grams of *words* (text.split()), not of characters.",
                    "off_by_one": "You miss the last n-gram: a text of k words has k − n + 1 of "
                    "them, so use range(len(words) - n + 1).",
                    "short_empty": "A text shorter than n words is not empty: it is one shingle "
                    "made of all its words (only a text with no words has no shingles).",
                },
            ),
            Diagnosis(
                "Two texts without any words have no shingles at all: |A ∪ B| = 0, so return 1.0 "
                "for that "
                "case instead of dividing by zero.",
                error=r"ZeroDivisionError",
            ),
        ],
        hints=[
            "Two steps: turn each text into a set of shingles, then compare the sets. Python "
            "sets have & "
            "(intersection) and | (union).",
            "words = text.split(); shingles = {tuple(words[i:i+n]) for i in range(len(words) - n "
            "+ 1)}; a text "
            "with 0 < len(words) < n gives {tuple(words)}. Then len(A & B) / len(A | B), or 1.0 "
            "if both are empty.",
            "`def grams(t): w = t.split(); return {tuple(w)} if 0 < len(w) < n else "
            "{tuple(w[i:i+n]) for i in range(len(w) - n + 1)}`; `A, B = grams(a), grams(b)`; "
            "`return len(A & B) / len(A | B) if A | B else 1.0`",
        ],
    )
)

# --------------------------------------------------------------------------- cross_entropy


def cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean negative log-likelihood of targets under softmax(logits), stable for large logits.

    Taught in chapter 4.
    """
    # log-softmax via log-sum-exp: log p_j = z_j - log sum_k exp(z_k), no overflow
    log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    # log p(target) for each row
    picked = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return -picked.mean()


def _ce_pick(log_probs: Tensor, targets: Tensor) -> Tensor:
    return log_probs[torch.arange(len(targets)), targets]


def _ce_naive(logits: Tensor, targets: Tensor) -> Tensor:
    e = logits.exp()
    return -_ce_pick(torch.log(e / e.sum(-1, keepdim=True)), targets).mean()


def _ce_log_of_softmax(logits: Tensor, targets: Tensor) -> Tensor:
    return -_ce_pick(torch.log(torch.softmax(logits, dim=-1)), targets).mean()


def _ce_sum(logits: Tensor, targets: Tensor) -> Tensor:
    return cross_entropy(logits, targets) * len(targets)


def _ce_no_minus(logits: Tensor, targets: Tensor) -> Tensor:
    return -cross_entropy(logits, targets)


def _ce_wrong_dim(logits: Tensor, targets: Tensor) -> Tensor:
    return -_ce_pick(torch.log_softmax(logits, dim=0), targets).mean()


def _ce_per_example(logits: Tensor, targets: Tensor) -> Tensor:
    return -_ce_pick(torch.log_softmax(logits, dim=-1), targets)


def _ce_cases() -> list[Case]:
    g = seeded(6)
    return [
        Case(
            (torch.randn(4, 5, generator=g), torch.tensor([0, 3, 4, 1])),
            label="4 examples, 5 classes",
        ),
        Case((torch.randn(1, 3, generator=g), torch.tensor([2])), label="a single example"),
        Case(
            (torch.randn(6, 2, generator=g) * 3, torch.tensor([0, 1, 1, 0, 1, 0])),
            label="two classes",
        ),
        Case(
            (torch.tensor([[1000.0, 0.0, -1000.0], [500.0, 501.0, 499.0]]), torch.tensor([2, 0])),
            label="large logits (±1000)",
            note="This case has large logits: exp overflows, and log(softmax) of an unlikely "
            "class is "
            "log(0) = -inf; log-sum-exp avoids both — loss_i = logsumexp(logits_i) − "
            "logits_i[target_i].",
        ),
        Case(
            (torch.randn(8, 10, generator=g).double(), torch.arange(8) % 10), label="float64 logits"
        ),
    ]


register(
    Exercise(
        id="training.cross_entropy",
        chapter=4,
        title="Cross-entropy loss, stable",
        signature="(logits: Tensor[N,C], targets: Tensor[N]) -> Tensor",
        task="Return the mean negative log-likelihood of the target classes under "
        "softmax(logits), as a 0-d "
        "tensor, without overflow for large logits.",
        reference=cross_entropy,
        cases=_ce_cases,
        atol=1e-4,
        diagnoses=[
            Diagnosis(
                "Your loss is inf/NaN for large logits: exp overflows. Use log-sum-exp: "
                "loss_i = logsumexp(logits_i) − logits_i[target_i] (torch.logsumexp).",
                variant=_ce_naive,
            ),
            Diagnosis(
                "log(softmax(…)) underflows: an unlikely target gets probability 0 and log(0) = "
                "-inf. "
                "Compute the log-softmax directly with log-sum-exp: logits − logsumexp(logits).",
                variant=_ce_log_of_softmax,
            ),
            Diagnosis("Average over the N examples (.mean()), don't sum.", variant=_ce_sum),
            Diagnosis(
                "Cross-entropy is the *negative* mean log-likelihood: you forgot the minus sign.",
                variant=_ce_no_minus,
            ),
            Diagnosis(
                "Normalise over the classes (dim=-1), not over the examples (dim=0).",
                variant=_ce_wrong_dim,
            ),
            Diagnosis(
                "Return one number, the mean over the examples, not the per-example losses.",
                variant=_ce_per_example,
            ),
        ],
        hints=[
            "Loss = −mean over examples of log p(target), with p = softmax(logits). Computing "
            "softmax then log "
            "breaks for large logits.",
            "log softmax(z)_j = z_j − log Σ_k exp(z_k) = z_j − logsumexp(z). torch.logsumexp is "
            "stable; pick "
            "each row's target with logits.gather or logits[torch.arange(N), targets].",
            "`lp = logits - torch.logsumexp(logits, -1, keepdim=True)`; "
            "`return -lp[torch.arange(len(targets)), targets].mean()`",
        ],
    )
)

# --------------------------------------------------------------------------- perplexity


def perplexity(token_logprobs: Tensor) -> float:
    """exp(−mean) of natural-log token probabilities. Taught in chapter 4."""
    return torch.exp(-token_logprobs.mean()).item()


def _ppl_plus(lp: Tensor) -> float:
    return math.exp(lp.mean().item())


def _ppl_base2(lp: Tensor) -> float:
    return 2 ** (-lp.mean().item())


def _ppl_base10(lp: Tensor) -> float:
    return 10 ** (-lp.mean().item())


def _ppl_sum(lp: Tensor) -> float:
    return math.exp(-lp.sum().item())


def _ppl_mean_prob(lp: Tensor) -> float:
    return 1 / lp.exp().mean().item()


def _ppl_cases() -> list[Case]:
    g = seeded(7)
    return [
        Case((torch.log(torch.tensor([0.5, 0.25, 0.125, 0.5])),), label="four tokens"),
        Case((-torch.rand(20, generator=g) * 3,), label="twenty tokens"),
        Case((torch.tensor([-1.5]),), label="a single token"),
        Case((torch.zeros(5),), label="every token had probability 1 (perplexity 1)"),
        Case((torch.full((7,), math.log(1 / 50)),), label="uniform over 50 tokens (perplexity 50)"),
        Case(
            (-torch.rand(3, 4, generator=g).double() * 2,),
            label="a (3, 4) batch in float64: mean over all",
        ),
    ]


register(
    Exercise(
        id="training.perplexity",
        chapter=4,
        title="Perplexity",
        signature="(token_logprobs: Tensor) -> float",
        task="Return exp(−mean) of the natural-log probabilities that a model gave the actual "
        "tokens, as a float.",
        reference=perplexity,
        cases=_ppl_cases,
        atol=1e-6,
        rtol=1e-5,
        diagnoses=[
            Diagnosis(
                "Perplexity is exp of the *negative* mean log-probability (yours is below 1).",
                variant=_ppl_plus,
            ),
            Diagnosis(
                "These are natural-log probabilities: use exp (e^x), not 2^x.", variant=_ppl_base2
            ),
            Diagnosis(
                "These are natural-log probabilities: use exp (e^x), not 10^x.", variant=_ppl_base10
            ),
            Diagnosis("Average the log-probabilities (mean), don't sum them.", variant=_ppl_sum),
            Diagnosis(
                "exp(−mean log p) is not 1 / mean(p): average the log-probabilities, not the "
                "probabilities.",
                variant=_ppl_mean_prob,
            ),
        ],
        hints=[
            "Perplexity is the 'effective number of choices': uniform guessing among 50 tokens "
            "gives 50.",
            "Average the log-probabilities over all tokens, negate, exponentiate; return a "
            "Python float (.item()).",
            "`return torch.exp(-token_logprobs.mean()).item()`",
        ],
    )
)

# --------------------------------------------------------------------------- adam_step


def adam_step(
    param: Tensor,
    grad: Tensor,
    m: Tensor,
    v: Tensor,
    t: int,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> tuple[Tensor, Tensor, Tensor]:
    """One Adam step (t starts at 1); returns new tensors (param, m, v), the inputs unchanged.

    Taught in chapter 4.
    """
    m = beta1 * m + (1 - beta1) * grad  # running mean of gradients
    v = beta2 * v + (1 - beta2) * grad**2  # running mean of squared gradients
    m_hat = m / (1 - beta1**t)  # bias correction: m and v start at 0
    v_hat = v / (1 - beta2**t)
    param = param - lr * m_hat / (torch.sqrt(v_hat) + eps)
    return param, m, v


def _adam(
    param: Tensor, grad: Tensor, m: Tensor, v: Tensor, t: int, *hyper: float, mistake: str
) -> tuple[Tensor, Tensor, Tensor]:
    """adam_step with one known ``mistake`` (the names in its diagnoses)."""
    lr, beta1, beta2, eps = hyper
    m2 = beta1 * m + (1 - beta1) * grad
    v2 = beta2 * v + (1 - beta2) * (grad if mistake == "grad_not_squared" else grad**2)
    t += {"t_plus_one": 1, "t_minus_one": -1}.get(mistake, 0)
    if mistake == "no_bias_correction":
        m_hat, v_hat = m2, v2
    else:
        m_hat, v_hat = m2 / (1 - beta1**t), v2 / (1 - beta2**t)
    denom = torch.sqrt(v_hat + eps) if mistake == "eps_inside_sqrt" else torch.sqrt(v_hat) + eps
    sign = 1.0 if mistake == "wrong_sign" else -1.0
    new = param + sign * lr * m_hat / denom
    return (new, m, v) if mistake == "old_moments" else (new, m2, v2)


def _adam_cases() -> list[Case]:
    g = seeded(8)

    def r(*shape: int, scale: float = 1.0) -> Tensor:
        return torch.randn(*shape, generator=g) * scale

    z5 = torch.zeros(5)
    return [
        Case(
            (r(5), r(5), z5, z5, 1),
            label="the first step (t=1, m = v = 0), default hyper-parameters",
        ),
        Case(
            (r(5), r(5), r(5, scale=0.1), r(5).abs() * 0.01, 5),
            {"lr": 0.01},
            label="step t=5 with lr=0.01",
        ),
        Case(
            (r(3, 4), r(3, 4), r(3, 4, scale=0.1), r(3, 4).abs() * 0.01, 3),
            {"lr": 0.1, "beta1": 0.8, "beta2": 0.99, "eps": 1e-3},
            label="a matrix, custom beta1, beta2, eps",
        ),
        Case(
            (r(4), r(4, scale=1e-6), torch.zeros(4), torch.zeros(4), 1),
            label="tiny gradients (1e-6): where eps goes matters",
            note="This case has tiny gradients, so where eps goes matters: sqrt(v̂) + eps, "
            "outside the square root.",
        ),
        Case(
            (r(1), r(1), torch.zeros(1), torch.zeros(1), 1), {"lr": 0.5}, label="a single parameter"
        ),
        Case(
            (r(6), r(6), r(6, scale=0.1), r(6).abs() * 0.01, 1000),
            label="late in training (t=1000)",
        ),
    ]


register(
    Exercise(
        id="training.adam_step",
        chapter=4,
        title="One step of Adam",
        signature="(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8) -> (param, "
        "m, v)",
        task="Update the moments m and v, bias-correct them (t starts at 1), step the parameter, "
        "and return the "
        "NEW tensors (param, m, v) without changing the inputs.",
        reference=adam_step,
        cases=_adam_cases,
        atol=1e-6,
        rtol=1e-5,
        output_names=("param", "m", "v"),
        diagnoses=mistakes(
            adam_step,
            _adam,
            {
                "no_bias_correction": "No bias correction in Adam: divide m by (1 − beta1**t) and "
                "v by (1 − beta2**t) before the update — without it the first steps have the "
                "wrong size.",
                "eps_inside_sqrt": "Add eps after the square root: sqrt(v̂) + eps, not sqrt(v̂ + "
                "eps).",
                "grad_not_squared": "The second moment averages the *squared* gradient: v = "
                "beta2·v + (1 − beta2)·grad².",
                "t_plus_one": "t starts at 1: use beta**t with the t you are given in the bias "
                "correction (don't add 1).",
                "t_minus_one": "t starts at 1: use beta**t with the t you are given in the bias "
                "correction (don't subtract 1).",
                "wrong_sign": "Step *against* the gradient: param − lr · m̂ / (sqrt(v̂) + eps).",
                "old_moments": "Return the *updated* moments m and v (the new running averages), "
                "not the ones passed in.",
            },
        ),
        hints=[
            "Adam keeps running averages of the gradient (m) and of its square (v); since both "
            "start at 0 they "
            "are too small early on, which the bias correction fixes.",
            "m = b1·m + (1−b1)·g; v = b2·v + (1−b2)·g²; m̂ = m / (1 − b1**t); v̂ = v / (1 − "
            "b2**t); "
            "param − lr·m̂ / (√v̂ + eps). Write `m = …`, never `m *= …`: return new tensors.",
            "`m = beta1 * m + (1 - beta1) * grad`; `v = beta2 * v + (1 - beta2) * grad**2`; "
            "`param = param - lr * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + eps)`; "
            "`return param, m, v`",
        ],
    )
)

# --------------------------------------------------------------------------- mlm_mask


def mlm_mask(
    ids: Tensor,
    mask_id: int,
    vocab_size: int,
    p: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """BERT masking: select each position with probability p; of those, 80% -> mask_id,
    10% -> a random token, 10% unchanged. labels = the original id at selected positions,
    -100 elsewhere. Taught in chapter 4.
    """
    selected = torch.rand(ids.shape, generator=generator) < p
    labels = torch.where(selected, ids, torch.full_like(ids, -100))
    action = torch.rand(ids.shape, generator=generator)  # decides mask / random / keep
    random_tokens = torch.randint(vocab_size, ids.shape, generator=generator, dtype=ids.dtype)
    inputs = torch.where(selected & (action < 0.8), torch.full_like(ids, mask_id), ids)
    inputs = torch.where(selected & (action >= 0.8) & (action < 0.9), random_tokens, inputs)
    return inputs, labels


_MLM_VOCAB = 1000
_MLM_MASK_ID = 3


def _mlm_ids(shape: tuple[int, ...], seed: int) -> Tensor:
    # token ids in [5, vocab): the special ids 0..4 (including mask_id = 3) never occur in the input
    return torch.randint(5, _MLM_VOCAB, shape, generator=seeded(seed))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _mlm_validate(case: Case, got: object) -> str | None:
    """Check one masking result statistically (the cases are large: about 16,000 positions)."""
    ids, mask_id, vocab = case.args[0], case.args[1], case.args[2]
    p = case.kwargs.get("p", 0.15)
    if not (
        isinstance(got, (tuple, list)) and len(got) == 2 and all(isinstance(t, Tensor) for t in got)
    ):
        return "Return a pair of tensors: `return inputs, labels`."
    inputs, labels = got
    for name, t in (("inputs", inputs), ("labels", labels)):
        if t.shape != ids.shape:
            return (
                f"{name}: expected shape {tuple(ids.shape)} (the shape of ids), got "
                f"{tuple(t.shape)}"
            )
        if t.dtype.is_floating_point or t.dtype == torch.bool:
            return f"{name}: expected integer token ids (dtype {ids.dtype}), got {t.dtype}"
    selected = labels != -100
    bad_labels = labels[selected] != ids[selected]
    if bool(bad_labels.any()):
        values = labels[selected][bad_labels].unique()[:5].tolist()
        return (
            "labels must be -100 where a position was not selected and the original id where it "
            "was; "
            f"found other values such as {values}. Use -100 (cross_entropy's ignore_index), not 0."
        )
    n = ids.numel()
    rate = selected.float().mean().item()
    changed = int((inputs[~selected] != ids[~selected]).sum())
    if changed:
        if rate > 0.5 > p:
            return (
                "Your labels look inverted: keep the original id where a token was selected, "
                "-100 elsewhere."
            )
        return (
            f"{changed} positions were changed although their label is -100 (not selected): only "
            "selected "
            "positions may change — and every changed position needs its original id as label."
        )
    sigma = math.sqrt(max(p * (1 - p), 1e-12) / n)
    if abs(rate - p) > 6 * sigma + 1e-9:
        if rate > 0.99 and p < 0.9:
            return (
                "labels must be -100 at positions that were not selected (the loss ignores "
                "them); you set labels everywhere."
            )
        return (
            f"About {_pct(rate)} of positions were selected (labels ≠ -100); with p={p} "
            f"expect about {_pct(p)}."
        )
    n_sel = int(selected.sum())
    if n_sel == 0:
        return None
    sel_in, sel_ids = inputs[selected], ids[selected]
    masked = (sel_in == mask_id).float().mean().item()
    kept = (sel_in == sel_ids).float().mean().item()
    rand = 1 - masked - kept
    s = 6 * math.sqrt(0.25 / n_sel)
    if abs(masked - 0.8) > s or abs(kept - 0.1) > s or abs(rand - 0.1) > s:
        if masked > 0.97:
            return (
                "You replace every selected token with mask_id; BERT replaces 80% with mask_id, "
                "10% with a "
                f"random token and leaves 10% unchanged (yours: {_pct(masked)} / {_pct(rand)} / "
                f"{_pct(kept)})."
            )
        return (
            f"Of the selected positions, {_pct(masked)} became mask_id, {_pct(rand)} a random "
            "token and "
            f"{_pct(kept)} stayed unchanged; BERT uses 80% / 10% / 10%."
        )
    replaced = sel_in[(sel_in != mask_id) & (sel_in != sel_ids)]
    if replaced.numel() >= 50:
        lo, hi = int(replaced.min()), int(replaced.max())
        if lo < 0 or hi >= vocab:
            return (
                f"Random replacement tokens must lie in [0, vocab_size) = [0, {vocab}); "
                f"yours range over [{lo}, {hi}]."
            )
        mean = replaced.float().mean().item()
        spread = 6 * (vocab / math.sqrt(12)) / math.sqrt(replaced.numel())
        if abs(mean - (vocab - 1) / 2) > spread or hi < vocab * 0.8 or lo > vocab * 0.2:
            return (
                "Random replacement tokens should be drawn uniformly from [0, vocab_size) = [0, "
                f"{vocab}); "
                f"yours lie in [{lo}, {hi}] with mean {mean:.0f}."
            )
    return None


def _mlm_post_check(cases: list[Case], outputs: list[object]) -> str | None:
    """The two cases labelled 'same seed' must give identical results."""
    pair = [o for c, o in zip(cases, outputs) if c.label.startswith("same seed")]
    a, b = pair
    if not all(torch.equal(x, y) for x, y in zip(a, b)):  # type: ignore[call-overload]
        return (
            "Two calls with generators seeded the same way gave different results: pass "
            "`generator=generator` to every torch.rand / torch.randint / torch.bernoulli call."
        )
    return None


def _mlm_cases() -> list[Case]:
    big = _mlm_ids((64, 256), 9)
    return [
        Case(
            (big, _MLM_MASK_ID, _MLM_VOCAB),
            {"generator": seeded(0)},
            label="64 × 256 token ids, p=0.15",
        ),
        Case(
            (_mlm_ids((8000,), 10), _MLM_MASK_ID, _MLM_VOCAB),
            {"p": 0.3, "generator": seeded(1)},
            label="a 1-D sequence of 8000 ids, p=0.3",
        ),
        Case(
            (_mlm_ids((4, 50), 11), _MLM_MASK_ID, _MLM_VOCAB),
            {"p": 0.0, "generator": seeded(2)},
            label="p=0: nothing is selected",
        ),
        Case(
            (_mlm_ids((4, 50), 12), _MLM_MASK_ID, _MLM_VOCAB),
            {"p": 1.0, "generator": seeded(3)},
            label="p=1: everything is selected",
        ),
        Case((_mlm_ids((16, 128), 13), _MLM_MASK_ID, _MLM_VOCAB), label="no generator given"),
        Case(
            (_mlm_ids((16, 64), 14), _MLM_MASK_ID, _MLM_VOCAB),
            {"generator": seeded(42)},
            label="same seed (first call)",
        ),
        Case(
            (_mlm_ids((16, 64), 14), _MLM_MASK_ID, _MLM_VOCAB),
            {"generator": seeded(42)},
            label="same seed (second call)",
        ),
    ]


register(
    Exercise(
        id="training.mlm_mask",
        chapter=4,
        title="BERT-style masking for masked language modelling",
        signature="(ids, mask_id, vocab_size, p=0.15, generator=None) -> (inputs, labels)",
        task="Select each position with probability p; of the selected, 80% become mask_id, 10% "
        "a random token "
        "in [0, vocab_size), 10% stay unchanged. labels = the original id at selected positions, "
        "-100 elsewhere. "
        "Use `generator` for all randomness; don't change ids in place.",
        reference=mlm_mask,
        cases=_mlm_cases,
        validate=_mlm_validate,
        post_check=_mlm_post_check,
        hints=[
            "Two random decisions per position: is it selected (probability p)? If so: mask, "
            "random or keep "
            "(80/10/10). The loss is computed only where labels ≠ -100.",
            "selected = torch.rand(ids.shape, generator=generator) < p; a second uniform number "
            "u picks "
            "mask (u < 0.8), random (0.8 ≤ u < 0.9) or keep. Build new tensors with torch.where.",
            "`labels = torch.where(selected, ids, torch.full_like(ids, -100))`; "
            "`inputs = torch.where(selected & (u < 0.8), torch.full_like(ids, mask_id), ids)`; "
            "then put "
            "`torch.randint(vocab_size, ids.shape, generator=generator)` where `selected & (u >= "
            "0.8) & (u < 0.9)`.",
        ],
    )
)

# --------------------------------------------------------------------------- lr_at


def lr_at(
    step: int, lr: float, max_steps: int, warmup_steps: int = 100, min_lr: float | None = None
) -> float:
    """The learning rate of optimizer step ``step`` (0-based): linear warm-up, then a half
    cosine from ``lr`` down to ``min_lr`` (default ``lr / 10``) at ``max_steps``, then
    ``min_lr``. The warm-up is capped at ``max_steps // 10``. Taught in chapter 4 (the same
    schedule as ``labkit.train.lr_at``, which the chapter's written-out loop uses).
    """
    min_lr = lr / 10 if min_lr is None else min_lr
    warmup = min(warmup_steps, max_steps // 10)
    if step < warmup:
        return lr * (step + 1) / warmup
    if step >= max_steps:
        return min_lr
    progress = (step - warmup) / max(1, max_steps - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def _lr(
    step: int, lr: float, max_steps: int, warmup_steps: int, min_lr: float | None, *, mistake: str
) -> float:
    """lr_at with one known ``mistake`` (the names in its diagnoses)."""
    if min_lr is None:
        min_lr = 0.0 if mistake == "to_zero" else lr / 10
    warmup = warmup_steps if mistake == "no_cap" else min(warmup_steps, max_steps // 10)
    if mistake == "no_warmup":
        warmup = 0
    if step < warmup:
        return lr * (step if mistake == "warmup_from_zero" else step + 1) / warmup
    if step >= max_steps and mistake != "no_clamp":
        return min_lr
    span = max_steps if mistake == "span_all" else max(1, max_steps - warmup)
    progress = (step - warmup) / span
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def _lr_cases() -> list[Case]:
    run = {"warmup_steps": 10}  # lr 1e-2, 100 steps, 10 warm-up steps
    cases = [
        Case((0, 1e-2, 100), run, label="the first step (step 0) of a 100-step run, 10 warm-up"),
        Case((4, 1e-2, 100), run, label="step 4, in the middle of the warm-up"),
        Case((9, 1e-2, 100), run, label="step 9, the last warm-up step (the peak lr)"),
        Case((10, 1e-2, 100), run, label="step 10, the first cosine step"),
        Case((55, 1e-2, 100), run, label="step 55, half-way through the cosine"),
        Case((99, 1e-2, 100), run, label="step 99, the last step"),
        Case((100, 1e-2, 100), run, label="step 100 = max_steps: min_lr"),
        Case((130, 1e-2, 100), run, label="after max_steps (step 130): stays at min_lr"),
        Case(
            (60, 3e-3, 200),
            {"warmup_steps": 20, "min_lr": 0.0},
            label="min_lr=0 given: the cosine ends at 0",
        ),
        Case(
            (150, 3e-3, 200),
            {"warmup_steps": 20, "min_lr": 1e-4},
            label="min_lr=1e-4 given",
        ),
        Case(
            (30, 1e-3, 200),
            {"warmup_steps": 100},
            label="warmup_steps=100 in a 200-step run: capped at 200 // 10 = 20",
            note="The warm-up is capped at max_steps // 10 steps, so a short run is not all "
            "warm-up.",
        ),
        Case((7, 1e-3, 50), {"warmup_steps": 0}, label="no warm-up asked (warmup_steps=0)"),
    ]
    return cases


register(
    Exercise(
        id="training.lr_at",
        chapter=4,
        title="The learning-rate schedule: warm-up, then cosine",
        signature="(step, lr, max_steps, warmup_steps=100, min_lr=None) -> float",
        task="Return the learning rate of optimizer step `step` (0-based). Warm-up: "
        "warmup = min(warmup_steps, max_steps // 10); for step < warmup return "
        "lr · (step + 1) / warmup. Then a half cosine from lr at step = warmup down to min_lr "
        "(None means lr / 10) at step = max_steps; from max_steps on return min_lr.",
        reference=lr_at,
        cases=_lr_cases,
        atol=1e-12,
        rtol=1e-9,
        diagnoses=mistakes(
            lr_at,
            _lr,
            {
                "no_warmup": "There is no warm-up: the first warmup steps must rise linearly, "
                "lr · (step + 1) / warmup, before the cosine starts.",
                "warmup_from_zero": "Off by one in the warm-up: step 0 must already train, with "
                "lr · (step + 1) / warmup, not lr · step / warmup (a learning rate of 0).",
                "no_cap": "Cap the warm-up at max_steps // 10: warmup = min(warmup_steps, "
                "max_steps // 10).",
                "to_zero": "min_lr=None means lr / 10: the cosine ends at a tenth of the peak, "
                "not at 0.",
                "span_all": "The cosine runs over the steps after the warm-up: progress = "
                "(step − warmup) / (max_steps − warmup), so it reaches min_lr exactly at "
                "max_steps.",
                "no_clamp": "After max_steps the learning rate stays at min_lr; the cosine "
                "must not rise again.",
            },
        ),
        hints=[
            "Three regimes: warm-up (a straight line up to lr), cosine (from lr down to min_lr), "
            "and after the end (min_lr). Compute `warmup` and `min_lr` first.",
            "progress = (step − warmup) / (max_steps − warmup) goes from 0 to 1 over the cosine; "
            "lr_now = min_lr + ½ · (1 + cos(π · progress)) · (lr − min_lr).",
            "`min_lr = lr / 10 if min_lr is None else min_lr`; "
            "`warmup = min(warmup_steps, max_steps // 10)`; "
            "`if step < warmup: return lr * (step + 1) / warmup`; "
            "`if step >= max_steps: return min_lr`; then the cosine line above with "
            "`math.cos(math.pi * progress)`.",
        ],
    )
)
