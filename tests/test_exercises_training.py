"""Chapter 4 exercises: the reference passes, known-wrong answers are named; other answers pass."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from labkit import exercises
from labkit.exercises import training as reference

# ----------------------------------------------------------------------------- cross_entropy

CE = exercises.get("training.cross_entropy")


def test_cross_entropy_reference_matches_pytorch() -> None:
    logits, targets = torch.randn(6, 9) * 50, torch.randint(9, (6,))
    assert torch.allclose(
        reference.cross_entropy(logits, targets), F.cross_entropy(logits, targets), atol=1e-4
    )


def test_cross_entropy_reference_and_alternatives_pass() -> None:
    def with_torch(logits, targets):
        return F.cross_entropy(logits, targets)

    def max_trick(logits, targets):
        m = logits.max(dim=1, keepdim=True).values
        lse = m.squeeze(1) + (logits - m).exp().sum(dim=1).log()
        return (lse - logits[torch.arange(len(targets)), targets]).mean()

    assert CE.check(reference.cross_entropy).passed
    assert CE.check(with_torch).passed
    assert CE.check(max_trick).passed


def test_cross_entropy_without_log_sum_exp_is_named() -> None:
    def naive(logits, targets):
        probs = logits.exp() / logits.exp().sum(dim=1, keepdim=True)
        return -probs[range(len(targets)), targets].log().mean()

    def log_of_stable_softmax(logits, targets):
        return -torch.log(F.softmax(logits, dim=1)[range(len(targets)), targets]).mean()

    assert "log-sum-exp" in CE.check(naive).headline
    assert "log(0) = -inf" in CE.check(log_of_stable_softmax).headline


def test_cross_entropy_sum_sign_and_per_example_are_named() -> None:
    def summed(logits, targets):
        return F.cross_entropy(logits, targets, reduction="sum")

    def no_minus(logits, targets):
        return F.log_softmax(logits, -1).gather(1, targets[:, None]).mean()

    def per_example(logits, targets):
        return F.cross_entropy(logits, targets, reduction="none")

    def as_float(logits, targets):
        return F.cross_entropy(logits, targets).item()

    assert "don't sum" in CE.check(summed).headline
    assert "minus sign" in CE.check(no_minus).headline
    assert "not the per-example losses" in CE.check(per_example).headline
    assert "keep the result a tensor" in CE.check(as_float).message


# ----------------------------------------------------------------------------- perplexity

PPL = exercises.get("training.perplexity")


def test_perplexity_reference_and_alternative_pass() -> None:
    def perplexity(token_logprobs):
        return math.exp(-float(token_logprobs.double().sum()) / token_logprobs.numel())

    def as_tensor(token_logprobs):
        return (-token_logprobs).mean().exp()  # a 0-d tensor is accepted for a float

    assert PPL.check(reference.perplexity).passed
    assert PPL.check(perplexity).passed
    assert PPL.check(as_tensor).passed


def test_perplexity_known_mistakes_are_named() -> None:
    def plus(lp):
        return math.exp(lp.mean().item())

    def base2(lp):
        return 2 ** -lp.mean().item()

    def summed(lp):
        return torch.exp(-lp.sum()).item()

    def mean_prob(lp):
        return (1 / lp.exp().mean()).item()

    assert "*negative* mean" in PPL.check(plus).headline
    assert "not 2^x" in PPL.check(base2).headline
    assert "don't sum" in PPL.check(summed).headline
    assert "not 1 / mean(p)" in PPL.check(mean_prob).headline


# ----------------------------------------------------------------------------- adam_step

ADAM = exercises.get("training.adam_step")


def test_adam_reference_matches_torch_optim_adam() -> None:
    g = torch.Generator().manual_seed(0)
    p = torch.randn(5, generator=g)
    torch_p = p.clone().requires_grad_(True)
    opt = torch.optim.Adam([torch_p], lr=0.01, betas=(0.8, 0.99), eps=1e-6)
    m, v = torch.zeros(5), torch.zeros(5)
    for t in range(1, 4):
        grad = torch.randn(5, generator=g)
        p, m, v = reference.adam_step(p, grad, m, v, t, lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6)
        torch_p.grad = grad.clone()
        opt.step()
    assert torch.allclose(p, torch_p.detach(), atol=1e-6)


def test_adam_reference_and_alternatives_pass() -> None:
    def with_torch_adam(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        p = param.clone().requires_grad_(True)
        opt = torch.optim.Adam([p], lr=lr, betas=(beta1, beta2), eps=eps, foreach=False)
        opt.state[p] = {
            "step": torch.tensor(float(t - 1)),
            "exp_avg": m.clone(),
            "exp_avg_sq": v.clone(),
        }
        p.grad = grad.clone()
        opt.step()
        state = opt.state[p]
        return p.detach(), state["exp_avg"], state["exp_avg_sq"]

    def with_lerp(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m = torch.lerp(m, grad, 1 - beta1)
        v = torch.lerp(v, grad * grad, 1 - beta2)
        step = lr / (1 - beta1**t)
        denom = (v / (1 - beta2**t)).sqrt().add(eps)
        return param.addcdiv(m, denom, value=-step), m, v

    assert ADAM.check(reference.adam_step).passed
    assert ADAM.check(with_torch_adam).passed
    assert ADAM.check(with_lerp).passed


def test_adam_without_bias_correction_is_named() -> None:
    def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        return param - lr * m / (v.sqrt() + eps), m, v

    assert ADAM.check(adam_step).headline.startswith("No bias correction in Adam")


def test_adam_eps_inside_and_unsquared_gradient_are_named() -> None:
    def eps_inside(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        return param - lr * (m / (1 - beta1**t)) / torch.sqrt(v / (1 - beta2**t) + eps), m, v

    def unsquared(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad
        return param - lr * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + eps), m, v

    assert "after the square root" in ADAM.check(eps_inside).headline
    assert "*squared* gradient" in ADAM.check(unsquared).headline


@pytest.mark.filterwarnings("ignore")
def test_adam_in_place_update_is_reported() -> None:
    def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m.mul_(beta1).add_((1 - beta1) * grad)
        v.mul_(beta2).add_((1 - beta2) * grad**2)
        param -= lr * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + eps)
        return param, m, v

    result = ADAM.check(adam_step)
    assert result.status == "incorrect"
    assert "changed its input `param`, `m`, `v` in place" in result.message


# ----------------------------------------------------------------------------- mlm_mask

MLM = exercises.get("training.mlm_mask")


def test_mlm_reference_and_alternative_pass() -> None:
    def bernoulli_masking(ids, mask_id, vocab_size, p=0.15, generator=None):
        selected = torch.bernoulli(torch.full(ids.shape, p), generator=generator).bool()
        labels = ids.masked_fill(~selected, -100)
        to_mask = torch.bernoulli(torch.full(ids.shape, 0.8), generator=generator).bool() & selected
        to_random = (
            torch.bernoulli(torch.full(ids.shape, 0.5), generator=generator).bool()
            & selected
            & ~to_mask
        )
        inputs = ids.masked_fill(to_mask, mask_id)
        random_ids = torch.randint(0, vocab_size, ids.shape, generator=generator)
        inputs = torch.where(to_random, random_ids, inputs)
        return inputs, labels

    assert MLM.check(reference.mlm_mask).passed
    assert MLM.check(bernoulli_masking).passed


def _masker(
    mask_frac: float = 0.8,
    random_frac: float = 0.1,
    unselected_label: int = -100,
    use_generator: bool = True,
    rand_hi: int | None = None,
):
    def mlm_mask(ids, mask_id, vocab_size, p=0.15, generator=None):
        gen = generator if use_generator else None
        selected = torch.rand(ids.shape, generator=gen) < p
        u = torch.rand(ids.shape, generator=gen)
        labels = torch.where(selected, ids, torch.full_like(ids, unselected_label))
        inputs = torch.where(selected & (u < mask_frac), torch.full_like(ids, mask_id), ids)
        rnd = torch.randint(rand_hi or vocab_size, ids.shape, generator=gen)
        random_here = selected & (u >= mask_frac) & (u < mask_frac + random_frac)
        return torch.where(random_here, rnd, inputs), labels

    return mlm_mask


def test_mlm_known_mistakes_are_named() -> None:
    assert "replace every selected token with mask_id" in MLM.check(_masker(mask_frac=1.0)).headline
    assert "-100" in MLM.check(_masker(unselected_label=0)).headline
    assert "80% / 10% / 10%" in MLM.check(_masker(mask_frac=0.8, random_frac=0.2)).headline
    assert "generator=generator" in MLM.check(_masker(use_generator=False)).headline
    assert "uniformly from [0, vocab_size)" in MLM.check(_masker(rand_hi=10)).headline


def test_mlm_labels_everywhere_inverted_and_in_place_are_named() -> None:
    def labels_everywhere(ids, mask_id, vocab_size, p=0.15, generator=None):
        inputs, _ = reference.mlm_mask(ids, mask_id, vocab_size, p, generator)
        return inputs, ids.clone()

    def inverted(ids, mask_id, vocab_size, p=0.15, generator=None):
        inputs, labels = reference.mlm_mask(ids, mask_id, vocab_size, p, generator)
        return inputs, torch.where(labels == -100, ids, torch.full_like(ids, -100))

    def in_place(ids, mask_id, vocab_size, p=0.15, generator=None):
        inputs, labels = reference.mlm_mask(ids, mask_id, vocab_size, p, generator)
        ids.copy_(inputs)
        return ids, labels

    assert "you set labels everywhere" in MLM.check(labels_everywhere).headline
    assert "labels look inverted" in MLM.check(inverted).headline
    assert "changed its input `ids` in place" in MLM.check(in_place).message


def test_mlm_ignoring_p_is_reported() -> None:
    def fixed_rate(ids, mask_id, vocab_size, p=0.15, generator=None):
        return reference.mlm_mask(ids, mask_id, vocab_size, 0.15, generator)

    result = MLM.check(fixed_rate)
    assert "with p=0.3 expect about 30.0%" in result.headline


# ----------------------------------------------------------------------------- jaccard

JAC = exercises.get("training.jaccard")


def test_jaccard_reference_agrees_with_labkit_data_on_plain_words() -> None:
    from labkit.data import jaccard, shingles

    a = "tom had a red ball and he gave it to kim in the park"
    b = "tom had a blue ball and he gave it to kim in the park"
    assert reference.jaccard_similarity(a, b) == pytest.approx(jaccard(shingles(a), shingles(b)))
    assert reference.jaccard_similarity(a, b) == pytest.approx(9 / 15)  # 12 shingles each, 9 shared


def test_jaccard_reference_and_alternatives_pass() -> None:
    def with_sets_of_strings(a, b, n=3):
        def grams(t):
            w = t.split()
            if not w:
                return set()
            if len(w) < n:
                return {" ".join(w)}
            return {" ".join(w[i : i + n]) for i in range(len(w) - n + 1)}

        A, B = grams(a), grams(b)
        union = A | B
        return len(A & B) / len(union) if union else 1.0

    assert JAC.check(reference.jaccard_similarity).passed
    assert JAC.check(with_sets_of_strings).passed


def test_jaccard_known_mistakes_are_named() -> None:
    def grams(t, n):
        w = t.split()
        return (
            {tuple(w)} if 0 < len(w) < n else {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}
        )

    def summed(a, b, n=3):
        A, B = grams(a, n), grams(b, n)
        return len(A & B) / (len(A) + len(B)) if A or B else 1.0

    def off_by_one(a, b, n=3):
        def g(t):
            w = t.split()
            return (
                {tuple(w)} if 0 < len(w) < n else {tuple(w[i : i + n]) for i in range(len(w) - n)}
            )

        A, B = g(a), g(b)
        return len(A & B) / len(A | B) if A | B else 1.0

    def characters(a, b, n=3):
        def g(t):
            return {t[i : i + n] for i in range(len(t) - n + 1)} or ({t} if t.strip() else set())

        A, B = g(a), g(b)
        return len(A & B) / len(A | B) if A | B else 1.0

    def divides_by_zero(a, b, n=3):
        A, B = grams(a, n), grams(b, n)
        return len(A & B) / len(A | B)

    assert "|A| + |B|" in JAC.check(summed).headline
    assert "last n-gram" in JAC.check(off_by_one).headline
    assert "not of characters" in JAC.check(characters).headline
    assert "return 1.0" in JAC.check(divides_by_zero).headline


def test_jaccard_counting_repeats_fails_on_the_repeating_case() -> None:
    def with_lists(a, b, n=3):
        def g(t):
            w = t.split()
            return (
                [tuple(w)]
                if 0 < len(w) < n
                else [tuple(w[i : i + n]) for i in range(len(w) - n + 1)]
            )

        A, B = g(a), g(b)
        if not A and not B:
            return 1.0
        shared = sum(x in B for x in A)
        return shared / (len(A) + len(B) - shared)

    result = JAC.check(with_lists)
    assert not result.passed
    assert "repeats itself" in result.message


# ----------------------------------------------------------------------------- lr_at

LR = exercises.get("training.lr_at")


def test_lr_at_reference_equals_the_trainers_schedule() -> None:
    from labkit.train import lr_at

    for max_steps in (20, 50, 100, 250):
        for warmup in (0, 5, 10, 100):
            for min_lr in (None, 0.0, 1e-4):
                for step in range(0, max_steps + 30, 3):
                    args = (step, 1e-2, max_steps, warmup, min_lr)
                    assert reference.lr_at(*args) == lr_at(*args)


def test_lr_at_reference_and_alternatives_pass() -> None:
    def with_torch_schedulers(step, lr, max_steps, warmup_steps=100, min_lr=None):
        # the same curve from PyTorch's own cosine formula (CosineAnnealingLR's closed form)
        low = lr / 10 if min_lr is None else min_lr
        w = min(warmup_steps, max_steps // 10)
        if step < w:
            return lr * (step + 1) / w
        t = min(step, max_steps) - w
        return low + (lr - low) * (1 + math.cos(math.pi * t / max(1, max_steps - w))) / 2

    def piecewise_with_numpy(step, lr, max_steps, warmup_steps=100, min_lr=None):
        import numpy as np

        low = lr / 10 if min_lr is None else min_lr
        w = min(warmup_steps, max_steps // 10)
        progress = float(np.clip((step - w) / max(1, max_steps - w), 0.0, 1.0))
        cosine = low + (lr - low) * 0.5 * (1.0 + np.cos(np.pi * progress))
        return float(lr * (step + 1) / w) if step < w else float(cosine)

    assert LR.check(reference.lr_at).passed
    assert LR.check(with_torch_schedulers).passed
    assert LR.check(piecewise_with_numpy).passed


def test_lr_at_known_mistakes_are_named() -> None:
    def no_warmup(step, lr, max_steps, warmup_steps=100, min_lr=None):
        low = lr / 10 if min_lr is None else min_lr
        p = min(step, max_steps) / max_steps
        return low + 0.5 * (1 + math.cos(math.pi * p)) * (lr - low)

    def warmup_from_zero(step, lr, max_steps, warmup_steps=100, min_lr=None):
        w = min(warmup_steps, max_steps // 10)
        if step < w:
            return lr * step / w
        return reference.lr_at(step, lr, max_steps, warmup_steps, min_lr)

    def to_zero(step, lr, max_steps, warmup_steps=100, min_lr=None):
        return reference.lr_at(step, lr, max_steps, warmup_steps, 0.0 if min_lr is None else min_lr)

    def no_cap(step, lr, max_steps, warmup_steps=100, min_lr=None):
        low = lr / 10 if min_lr is None else min_lr
        if step < warmup_steps:
            return lr * (step + 1) / warmup_steps
        if step >= max_steps:
            return low
        p = (step - warmup_steps) / max(1, max_steps - warmup_steps)
        return low + 0.5 * (1 + math.cos(math.pi * p)) * (lr - low)

    def no_clamp(step, lr, max_steps, warmup_steps=100, min_lr=None):
        low = lr / 10 if min_lr is None else min_lr
        w = min(warmup_steps, max_steps // 10)
        if step < w:
            return lr * (step + 1) / w
        p = (step - w) / max(1, max_steps - w)
        return low + 0.5 * (1 + math.cos(math.pi * p)) * (lr - low)

    assert "no warm-up" in LR.check(no_warmup).headline
    assert "Off by one" in LR.check(warmup_from_zero).headline
    assert "not at 0" in LR.check(to_zero).headline
    assert "max_steps // 10" in LR.check(no_cap).headline
    assert "must not rise again" in LR.check(no_clamp).headline
    for wrong in (no_warmup, warmup_from_zero, to_zero, no_cap, no_clamp):
        assert not LR.check(wrong).passed


def test_lr_at_cosine_over_the_whole_run_is_named() -> None:
    def span_all(step, lr, max_steps, warmup_steps=100, min_lr=None):
        low = lr / 10 if min_lr is None else min_lr
        w = min(warmup_steps, max_steps // 10)
        if step < w:
            return lr * (step + 1) / w
        if step >= max_steps:
            return low
        return low + 0.5 * (1 + math.cos(math.pi * (step - w) / max_steps)) * (lr - low)

    assert "reaches min_lr exactly at max_steps" in LR.check(span_all).headline
