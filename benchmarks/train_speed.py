"""Training speed and quality: labkit against a plain-PyTorch char GPT, on the same text.

Run (about 10 minutes on a 2-core CPU; ``--steps 200`` for a 1-minute check)::

    python benchmarks/train_speed.py                     # labkit's generated English corpus
    python benchmarks/train_speed.py --text input.txt    # any UTF-8 text file
    python benchmarks/train_speed.py --steps 200 --budget-steps 200

Three measurements, in one process:

1. **Speed at the identical configuration.** A hand-written baseline (below: the char GPT a
   learner writes following nanoGPT's CPU recipe — 4 layers, 4 heads, width 128, block 64,
   batch 12, AdamW lr 1e-3, no dropout, attention written out with ``masked_fill`` + softmax,
   batches built with a Python list comprehension) and labkit's ``TinyGPT`` + ``Trainer`` with
   the same sizes, optimizer and learning rate. Both train ``--steps`` steps, *interleaved*
   in chunks of ``--chunk`` steps so that both see the same machine load; we print tokens/s of
   each, their ratio, and the validation loss of each after the same number of steps. Both
   get the same torch thread count (``--threads``, default: torch's choice): the baseline
   uses PyTorch's per-operation threads, labkit's trainer (by default, with 2+ threads) shares
   each batch between threads that run forward + backward side by side.
2. **Quality in the same wall time.** The baseline's wall time for ``--budget-steps`` steps
   becomes the ``--time-budget`` of ``python -m labkit train`` (run as a subprocess with its
   default recipe: model shape, batch, schedule, see ``labkit/cli.py``; the same thread
   count), and the resulting checkpoint is evaluated on the same validation batches as the
   baseline.
3. **Memory.** The peak resident memory (RSS) of that CLI run.

All validation losses come from :func:`estimate_loss` on the same ``--eval-batches`` fixed
windows of the last 10% of the text, in nats per character.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time

import torch
import torch.nn as nn
from torch.nn import functional as F

# --------------------------------------------------------------------------------------------
# The baseline: a plain-PyTorch char GPT, written the way a learner writes it (nanoGPT style)
# --------------------------------------------------------------------------------------------

N_LAYER, N_HEAD, N_EMBD, BLOCK_SIZE, BATCH_SIZE, LR = 4, 4, 128, 64, 12, 1e-3


class CausalSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = nn.Linear(N_EMBD, 3 * N_EMBD)  # query, key, value in one matrix
        self.c_proj = nn.Linear(N_EMBD, N_EMBD)
        self.register_buffer(
            "mask",
            torch.tril(torch.ones(BLOCK_SIZE, BLOCK_SIZE)).view(1, 1, BLOCK_SIZE, BLOCK_SIZE),
        )

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(N_EMBD, dim=2)
        q = q.view(B, T, N_HEAD, C // N_HEAD).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, N_HEAD, C // N_HEAD).transpose(1, 2)
        v = v.view(B, T, N_HEAD, C // N_HEAD).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = att @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_fc = nn.Linear(N_EMBD, 4 * N_EMBD)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * N_EMBD, N_EMBD)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(N_EMBD)
        self.attn = CausalSelfAttention()
        self.ln_2 = nn.LayerNorm(N_EMBD)
        self.mlp = MLP()

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class GPT(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, N_EMBD)
        self.wpe = nn.Embedding(BLOCK_SIZE, N_EMBD)
        self.h = nn.ModuleList([Block() for _ in range(N_LAYER)])
        self.ln_f = nn.LayerNorm(N_EMBD)
        self.lm_head = nn.Linear(N_EMBD, vocab_size, bias=False)
        self.wte.weight = self.lm_head.weight  # weight tying
        self.apply(self._init_weights)

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        B, T = idx.size()
        pos = torch.arange(0, T, dtype=torch.long)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss


def baseline_get_batch(data):
    ix = torch.randint(len(data) - BLOCK_SIZE, (BATCH_SIZE,))
    x = torch.stack([data[i : i + BLOCK_SIZE] for i in ix])
    y = torch.stack([data[i + 1 : i + 1 + BLOCK_SIZE] for i in ix])
    return x, y


class Baseline:
    """The baseline's training loop, runnable a chunk of steps at a time."""

    def __init__(self, train_data, vocab_size):
        self.data = train_data
        self.model = GPT(vocab_size)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=LR)
        self.step = 0

    def train(self, steps):
        for _ in range(steps):
            xb, yb = baseline_get_batch(self.data)
            logits, loss = self.model(xb, yb)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.step += 1
            if self.step % 100 == 0:
                print(f"  baseline step {self.step}: loss {loss.item():.4f}", flush=True)


# --------------------------------------------------------------------------------------------
# Shared evaluation
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def estimate_loss(model, val_ids, batches, seed=0):
    """Mean next-token loss (nats) on ``batches`` fixed random windows of ``val_ids``."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    offsets = torch.arange(BLOCK_SIZE + 1)
    losses = []
    for _ in range(batches):
        rows = val_ids[
            torch.randint(len(val_ids) - BLOCK_SIZE, (BATCH_SIZE, 1), generator=gen) + offsets
        ]
        x, y = rows[:, :-1].contiguous(), rows[:, 1:].contiguous()
        losses.append(model(x, y)[1].item())
    model.train()
    return sum(losses) / len(losses)


class ShareCounter:
    """A training callback that sees how many threads share each batch (public behaviour only:
    labkit names its sharing threads ``labkit-share``), so the script runs on any labkit tree."""

    def __init__(self):
        self.most = 1

    def _count(self, m):
        names = [t.name for t in threading.enumerate() if t.name.startswith("labkit-share")]
        self.most = max(self.most, 1 + len(names))

    on_step = on_end = _count


def machine():
    name = platform.processor() or "unknown CPU"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cpus, threads = os.cpu_count(), torch.get_num_threads()
    return f"{name}, {cpus} logical CPUs, torch {torch.__version__}, {threads} threads"


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--text", default="corpus:en", help="a text file, or corpus:en / corpus:zh (default)"
    )
    p.add_argument(
        "--steps", type=int, default=2000, help="steps of each trainer at the identical config"
    )
    p.add_argument("--chunk", type=int, default=50, help="steps per interleaved chunk")
    p.add_argument(
        "--budget-steps",
        type=int,
        default=2000,
        help="the labkit CLI gets the baseline's wall time for this many steps",
    )
    p.add_argument("--skip-budget", action="store_true", help="only measure speed")
    p.add_argument("--eval-batches", type=int, default=100)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads for both trainers and the CLI (default: torch's choice)",
    )
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = p.parse_args(argv)
    threads_before = torch.get_num_threads()

    import labkit
    from labkit.cli import read_text
    from labkit.models import GPTConfig, TinyGPT
    from labkit.tokenizers import train_char_tokenizer
    from labkit.train import CausalLMTask, TrainConfig, Trainer

    # after the imports: a labkit that pins one thread when imported must not change the count
    torch.set_num_threads(args.threads or threads_before)

    print(f"machine: {machine()}")
    print(f"load average before: {os.getloadavg()}")
    text = read_text(args.text)
    n_val = int(len(text) * 0.1)  # the same split as `python -m labkit train`
    # baseline tokenisation (nanoGPT's stoi) and labkit's char tokenizer: both one id per character
    chars = sorted(set(text))
    stoi = {ch: i for i, ch in enumerate(chars)}
    base_ids = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    tok = train_char_tokenizer(text)
    lab_ids = torch.tensor(tok.encode(text), dtype=torch.long)
    print(
        f"text: {args.text}, {len(text):,} characters, {len(chars)} distinct; val = last {n_val:,}"
    )

    torch.manual_seed(args.seed)
    base = Baseline(base_ids[:-n_val], len(chars))
    torch.manual_seed(args.seed)
    model = TinyGPT(
        GPTConfig(
            vocab_size=len(tok),
            block_size=BLOCK_SIZE,
            n_layer=N_LAYER,
            n_head=N_HEAD,
            d_model=N_EMBD,
            dropout=0.0,
            activation="gelu",
        )
    )  # nn.GELU() is the exact GELU
    same = TrainConfig(
        max_steps=args.steps + 1,
        batch_size=BATCH_SIZE,
        lr=LR,
        min_lr=LR,
        warmup_steps=0,
        weight_decay=0.01,
        betas=(0.9, 0.999),
        grad_clip=0.0,
        eval_every=0,
        progress=False,
        log_every=100,
        seed=args.seed,
    )
    shares = ShareCounter()
    task = CausalLMTask(lab_ids[:-n_val], lab_ids[-n_val:], BLOCK_SIZE)
    trainer = Trainer(model, task, same, callbacks=[shares])
    threads = torch.get_num_threads()

    # warm up both (first steps allocate memory), then interleave timed chunks
    base.train(3)
    trainer.fit(stop_at=3)
    how = (
        f"labkit shares each batch between {shares.most} threads of "
        f"{max(1, threads // shares.most)} core(s)"
        if shares.most > 1
        else "labkit too"
    )
    print(f"threads: {threads} (baseline: PyTorch's per-operation threads; {how})")
    t_base = t_lab = 0.0
    done = 3
    print(
        f"1) identical configuration, {args.steps} steps each, "
        f"interleaved in chunks of {args.chunk}:"
    )
    while done < args.steps:
        n = min(args.chunk, args.steps - done)
        t = time.perf_counter()
        base.train(n)
        t_base += time.perf_counter() - t
        t = time.perf_counter()
        trainer.fit(stop_at=done + n)
        t_lab += time.perf_counter() - t
        done += n
        if done // 500 != (done - n) // 500 or done == args.steps:
            print(f"  {done} steps: baseline {t_base:.1f}s, labkit {t_lab:.1f}s", flush=True)
    timed = args.steps - 3
    tok_base = timed * BATCH_SIZE * BLOCK_SIZE / t_base
    tok_lab = timed * BATCH_SIZE * BLOCK_SIZE / t_lab
    val_base = estimate_loss(base.model, base_ids[-n_val:], args.eval_batches)
    val_lab = estimate_loss(model, lab_ids[-n_val:], args.eval_batches)
    results = {
        "machine": machine(),
        "text": args.text,
        "characters": len(text),
        "steps": args.steps,
        "threads": threads,
        "labkit_batch_shares": shares.most,
        "baseline_tokens_per_s": round(tok_base),
        "labkit_tokens_per_s": round(tok_lab),
        "speed_ratio": round(tok_lab / tok_base, 3),
        "baseline_ms_per_step": round(1000 * t_base / timed, 2),
        "labkit_ms_per_step": round(1000 * t_lab / timed, 2),
        "baseline_val_loss": round(val_base, 4),
        "labkit_val_loss_same_config": round(val_lab, 4),
    }
    print(
        f"  baseline: {tok_base:,.0f} tokens/s ({results['baseline_ms_per_step']} ms/step), "
        f"val loss {val_base:.4f}"
    )
    print(
        f"  labkit:   {tok_lab:,.0f} tokens/s ({results['labkit_ms_per_step']} ms/step), "
        f"val loss {val_lab:.4f}"
    )
    print(f"  speed ratio labkit / baseline: {tok_lab / tok_base:.2f}x")

    if not args.skip_budget:
        budget = t_base / timed * args.budget_steps  # the baseline's wall time for budget_steps
        print(
            f"2) labkit CLI with --time-budget {budget:.1f}s "
            f"(= baseline wall time for {args.budget_steps} steps):"
        )
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "run")
            # the CLI's own default recipe (model shape, batch, schedule); only the budget is ours
            cmd = [
                sys.executable,
                "-m",
                "labkit",
                "train",
                args.text,
                "--out",
                out,
                "--time-budget",
                f"{budget:.2f}",
                "--seed",
                str(args.seed),
                "--json",
                "--quiet",
                "--threads",
                str(torch.get_num_threads()),
            ]
            print("  $ " + " ".join(cmd[1:]), flush=True)
            # run the CLI from the labkit tree this script imported (PYTHONPATH=/old/tree works:
            # `python -m` puts the working directory first on sys.path)
            root = os.path.dirname(os.path.dirname(os.path.abspath(labkit.__file__)))
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=root)
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                raise SystemExit(f"the labkit CLI failed with exit code {proc.returncode}")
            cli = json.loads(proc.stdout.strip().splitlines()[-1])
            peak_rss_mib = (
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            )  # KiB on Linux
            from labkit.models import load

            cli_model = load(out)
            if cli_model.config.block_size < BLOCK_SIZE:
                raise SystemExit(
                    f"the CLI's model has block size {cli_model.config.block_size} < {BLOCK_SIZE}"
                )
            val_cli = estimate_loss(cli_model, lab_ids[-n_val:], args.eval_batches)
            shape = {
                k: getattr(cli_model.config, k)
                for k in ("n_layer", "n_head", "d_model", "block_size", "activation")
            }
        results.update(
            {
                "budget_seconds": round(budget, 2),
                "cli_steps": cli["steps"],
                "cli_seconds": cli["seconds"],
                "cli_batch_size": cli["batch_size"],
                "cli_lr": cli["lr"],
                "cli_tokens_per_s": cli["tokens_per_s"],
                "cli_val_loss": round(val_cli, 4),
                "cli_val_loss_gain": round(val_base - val_cli, 4),
                "cli_peak_rss_mib": round(peak_rss_mib, 1),
                "cli_model": shape,
                "cli_parameters": cli["parameters"],
            }
        )
        print(
            f"  CLI model: {shape}, {cli['parameters']:,} parameters, "
            f"batch {cli['batch_size']}, peak lr {cli['lr']}"
        )
        print(
            f"  labkit CLI: {cli['steps']} steps in {cli['seconds']:.1f}s "
            f"(+{cli['setup_seconds']:.1f}s set-up), "
            f"{cli['tokens_per_s']:,.0f} tokens/s, val loss {val_cli:.4f} "
            f"(baseline after {args.steps} steps: {val_base:.4f}; "
            f"better by {val_base - val_cli:.4f} nats)"
        )
        print(f"3) peak RSS of the CLI run: {peak_rss_mib:.0f} MiB")
    print(f"load average after: {os.getloadavg()}")
    print(json.dumps(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
