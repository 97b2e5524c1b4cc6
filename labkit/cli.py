"""The ``train``, ``generate`` and ``export`` commands of ``python -m labkit``.

Taught in chapter 4 (training from the command line) and chapter 8 (generation, export)::

    python -m labkit train input.txt --out runs/mine              # character-level tiny GPT
    python -m labkit train corpus:en --out runs/en --time-budget 120 --json
    python -m labkit generate runs/mine --prompt "ROMEO:" --max-new-tokens 300
    python -m labkit export runs/mine --to hf runs/mine_hf        # a transformers directory

``TEXT_FILE`` can be a UTF-8 text file or ``corpus:en`` / ``corpus:zh`` (labkit's generated
corpora, see :func:`labkit.data.generate_corpus`). Each command is a function
``f(argv) -> exit code``; a mistake in the input prints one clear ``error:`` line and
returns 2.

The default recipe of ``train`` is tuned for a few minutes on a 2-core CPU: a character-level
GPT of 4 layers, 4 heads and width 64 (about 0.2 M parameters), batches of 32 windows of 64
characters, AdamW with peak learning rate 1e-2, betas (0.9, 0.95), weight decay 0.1, gradient
clipping at 1.0, 100 warm-up steps, then a cosine down to lr / 10. In a fixed time it learns
more than the classic nanoGPT CPU recipe (width 128, batch 12, lr 1e-3): the narrower model
reads about three times as much text. ``benchmarks/train_speed.py`` measures this.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from labkit import checkpoint, data, hf, models, tokenizers
from labkit.env import get_device, seed_everything, usable_cpus
from labkit.generate import generate_text
from labkit.train import CausalLMTask, TrainConfig, Trainer

__all__ = ["train_cli", "generate_cli", "export_cli", "read_text", "build_parser"]

# Errors a learner can cause with the inputs; they are reported in one line, not a traceback.
INPUT_ERRORS = (
    ValueError,
    TypeError,
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
)


def _fail(command: str, error: BaseException) -> int:
    print(f"labkit {command}: error: {error}", file=sys.stderr)
    return 2


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace | int:
    try:
        return parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error argparse already printed
        return int(exit_.code or 0)


# --------------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------------


#: ``train`` options that are TrainConfig fields of the same name, with TrainConfig's default;
#: they go into the config unchanged.
_CONFIG_OPTIONS = (
    "grad_accum",
    "weight_decay",
    "grad_clip",
    "eval_batches",
    "sample_every",
    "save_every",
    "seed",
)


def _add_config_option(
    p: argparse.ArgumentParser, field: str, help_text: str | None = None
) -> None:
    """``--field-name``, typed and defaulted like the TrainConfig field ``field``."""
    assert field in _CONFIG_OPTIONS, field
    default = getattr(TrainConfig, field)
    p.add_argument(
        "--" + field.replace("_", "-"), type=type(default), default=default, help=help_text
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``train`` command's options (nanoGPT-style names). Taught in chapter 4."""
    p = argparse.ArgumentParser(
        prog="python -m labkit train",
        description="Train a tiny GPT on a text file (character-level by default) "
        "and save it to --out.",
    )
    p.add_argument("text", metavar="TEXT_FILE", help="a UTF-8 text file, or corpus:en / corpus:zh")
    p.add_argument(
        "--out", required=True, help="checkpoint directory (created; replaced when saving)"
    )
    p.add_argument(
        "--tokenizer", choices=("char", "bpe"), default="char", help="characters (default) or BPE"
    )
    p.add_argument("--vocab-size", type=int, default=512, help="BPE vocabulary size (default 512)")
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument(
        "--n-embd",
        type=int,
        default=64,
        help="model width d_model (default 64: on a small CPU a narrower model that sees more text "
        "in the same time learns more; see benchmarks/README.md)",
    )
    p.add_argument("--block-size", type=int, default=64, help="context length in tokens")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument(
        "--activation",
        default="gelu",
        help="feed-forward activation: gelu (default; exact GELU, faster on CPUs than GPT-2's "
        "gelu_tanh), gelu_tanh, relu",
    )
    p.add_argument("--batch-size", type=int, help="sequences per step (default 32)")
    _add_config_option(p, "grad_accum")
    p.add_argument(
        "--max-steps",
        type=int,
        help="optimizer steps (default 2000; with --time-budget: an upper bound)",
    )
    p.add_argument("--lr", type=float, help="peak learning rate (default 1e-2)")
    p.add_argument("--min-lr", type=float, help="final learning rate (default lr/10)")
    p.add_argument("--warmup", type=int, default=100, help="warm-up steps")
    _add_config_option(p, "weight_decay")
    _add_config_option(p, "grad_clip")
    p.add_argument(
        "--eval-every",
        type=int,
        help="steps between evaluations (default 250; with --time-budget: only at the end)",
    )
    _add_config_option(p, "eval_batches")
    _add_config_option(p, "sample_every", "print a text sample every N steps")
    _add_config_option(p, "save_every", "also checkpoint every N steps")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--corpus-chars", type=int, default=1_000_000, help="size of a corpus:LANG text")
    _add_config_option(p, "seed")
    p.add_argument("--device", help="cpu, cuda, cuda:1, mps (default: the best one here)")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: all cores)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (slow start)")
    p.add_argument(
        "--time-budget",
        type=float,
        metavar="SECONDS",
        help="train as well as possible in this wall time: steps and schedule are fitted to it",
    )
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    p.add_argument(
        "--json", action="store_true", help="print one JSON line of metrics at the end (stdout)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def read_text(source: str, corpus_chars: int = 1_000_000) -> str:
    """The training text: a file's contents, or a generated corpus for ``corpus:en|zh``.

    Taught in chapter 4.
    """
    if source.startswith("corpus:"):
        lang = source.split(":", 1)[1]
        if lang not in ("en", "zh"):
            raise ValueError(
                f"unknown corpus {source!r}; use corpus:en or corpus:zh, or a text file"
            )
        return data.generate_corpus(lang, corpus_chars, seed=0).text
    return data.load_text(source)


def _check_sizes(n_tokens: int, n_train: int, n_val: int, block: int, source: str) -> None:
    need = block + 1
    if n_tokens < need:
        raise ValueError(
            f"{source} has only {n_tokens} tokens, shorter than one block: --block-size {block} "
            f"needs {need} tokens (inputs plus next-token targets). Use a longer text or a "
            "smaller --block-size"
        )
    for part, n in (("training", n_train), ("validation", n_val)):
        if n < need:
            raise ValueError(
                f"--block-size {block} is larger than the {part} part of {source} "
                f"({n} of {n_tokens} tokens; each part needs {need}). Use a smaller --block-size "
                f"(at most {max(1, min(n_train, n_val) - 1)}), a longer text, or another "
                "--val-fraction"
            )


def train_cli(argv: list[str]) -> int:
    """``python -m labkit train TEXT_FILE --out DIR [options]``. Taught in chapter 4.

    Trains on all usable cores unless ``--threads`` says otherwise (labkit's one-thread policy
    is for notebooks); the caller's torch thread count is restored afterwards.
    """
    args = _parse(build_parser(), argv)
    if isinstance(args, int):
        return args
    threads = torch.get_num_threads()
    try:
        return _train(args)
    except INPUT_ERRORS as error:
        return _fail("train", error)
    finally:
        torch.set_num_threads(threads)


def _train(args: argparse.Namespace) -> int:
    device = get_device(args.device)  # fail early on an unknown device
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json or args.quiet else print
    t0 = time.perf_counter()
    text = read_text(args.text, args.corpus_chars)
    if not 0 < args.val_fraction < 1:
        raise ValueError(f"--val-fraction must be between 0 and 1, got {args.val_fraction}")
    if args.block_size < 1:
        raise ValueError(f"--block-size must be a positive integer, got {args.block_size}")
    resume = args.resume and checkpoint.find_checkpoint(args.out) is not None
    if args.resume and not resume:
        log(f"note: no checkpoint in {args.out} yet; starting a new run")
    tok = _tokenizer(args, text, resume)
    ids = torch.tensor(tok.encode(text), dtype=torch.long)
    n_val = int(len(ids) * args.val_fraction)
    _check_sizes(len(ids), len(ids) - n_val, n_val, args.block_size, args.text)
    seed_everything(args.seed)
    model = _model(args, len(tok), resume)
    config = _config(args, device)
    task = CausalLMTask(ids[: len(ids) - n_val], ids[len(ids) - n_val :], args.block_size)
    trainer = Trainer(model, task, config, tokenizer=tok)
    if resume:
        trainer.load(args.out)
        if args.max_steps and args.max_steps != trainer.max_steps:
            ends = f"step {args.max_steps} instead of {trainer.max_steps}"
            log(f"note: the schedule now ends at {ends}")
            trainer.max_steps = args.max_steps
        log(f"resuming {args.out} at step {trainer.step} of {trainer.max_steps}")
    setup = time.perf_counter() - t0
    log(
        f"{args.text}: {len(text):,} characters → {len(ids):,} tokens ({args.tokenizer}, "
        f"vocabulary {len(tok)}); model {model.num_parameters():,} parameters on {device}; "
        f"set-up {setup:.1f}s"
    )
    summary = trainer.fit().summary()
    log(
        f"done: {summary['steps']} steps in {summary['seconds']:.1f}s, "
        f"{summary['tokens_per_s']:,.0f} tokens/s, train loss {_fmt(summary['train_loss'])}, "
        f"val loss {_fmt(summary['val_loss'])}; saved to {args.out}"
    )
    if args.json:
        extra: dict[str, Any] = {
            "setup_seconds": round(setup, 3),
            "device": str(device),
            "parameters": model.num_parameters(),
            "tokenizer": args.tokenizer,
            "vocab_size": len(tok),
            "batch_size": config.batch_size,
            "block_size": args.block_size,
            "lr": config.lr,
            "out": args.out,
        }
        print(json.dumps({**summary, **extra}), flush=True)
    return 0


def _tokenizer(args: argparse.Namespace, text: str, resume: bool) -> Any:
    if resume:
        return tokenizers.load_tokenizer(args.out)
    if args.tokenizer == "char":
        return tokenizers.train_char_tokenizer(text)
    return tokenizers.train_bpe_tokenizer(text, vocab_size=args.vocab_size)


def _model(args: argparse.Namespace, vocab_size: int, resume: bool) -> models.TinyGPT:
    if resume:
        model = models.load(args.out)
        if model.config.block_size != args.block_size:
            raise ValueError(
                f"the run in {args.out} has block size {model.config.block_size}; "
                f"resume it with --block-size {model.config.block_size}"
            )
        return model
    shape = {"n_layer": args.n_layer, "n_head": args.n_head, "d_model": args.n_embd}
    return models.TinyGPT(
        models.GPTConfig(
            vocab_size=vocab_size,
            block_size=args.block_size,
            dropout=args.dropout,
            activation=args.activation,
            **shape,
        )
    )


def _config(args: argparse.Namespace, device: torch.device) -> TrainConfig:
    """The CLI's recipe (see the module docstring); a time budget also sets the defaults of
    ``max_steps`` (an upper bound) and ``eval_every`` (only at the end)."""
    budget = args.time_budget
    return TrainConfig(
        max_steps=args.max_steps or (10**9 if budget else 2000),
        batch_size=args.batch_size or 32,
        lr=args.lr or 1e-2,
        min_lr=args.min_lr,
        warmup_steps=args.warmup,
        eval_every=args.eval_every if args.eval_every is not None else (0 if budget else 250),
        device=str(device),
        time_budget=budget,
        out_dir=args.out,
        progress=not args.quiet,
        num_threads=args.threads or usable_cpus(),
        compile=args.compile,
        **{name: getattr(args, name) for name in _CONFIG_OPTIONS},
    )


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


# --------------------------------------------------------------------------------------------
# generate
# --------------------------------------------------------------------------------------------


def generate_cli(argv: list[str]) -> int:
    """``python -m labkit generate DIR --prompt TEXT [options]``: sample from a checkpoint.

    Taught in chapter 8.
    """
    p = argparse.ArgumentParser(
        prog="python -m labkit generate", description="Sample text from a trained checkpoint."
    )
    p.add_argument("dir", metavar="DIR", help="a checkpoint directory written by `labkit train`")
    p.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    p.add_argument("--max-new-tokens", type=int, default=200)
    p.add_argument("--temperature", type=float, default=0.8, help="0 = greedy")
    p.add_argument("--top-k", type=int)
    p.add_argument("--top-p", type=float)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--device")
    args = _parse(p, argv)
    if isinstance(args, int):
        return args
    try:
        device = get_device(args.device)
        model = models.load(args.dir, device=device)
        tok = tokenizers.load_tokenizer(args.dir)
        unknown = tokenizers.find_unknown(tok, args.prompt)
        if unknown:
            raise ValueError(
                f"the prompt contains {unknown[:5]}, which the model never saw in training; "
                "use characters from the training text"
            )
        text = generate_text(
            model,
            tok,
            args.prompt,
            args.max_new_tokens,
            temperature=args.temperature,
            top_k=args.top_k,
            top_p=args.top_p,
            seed=args.seed,
        )
    except INPUT_ERRORS as error:
        return _fail("generate", error)
    print(text)
    return 0


# --------------------------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------------------------


def export_cli(argv: list[str]) -> int:
    """``python -m labkit export DIR --to hf OUT``: a Hugging Face ``transformers`` directory.

    Taught in chapter 8 (``transformers.pipeline`` on our own model).
    """
    p = argparse.ArgumentParser(prog="python -m labkit export", description="Export a checkpoint.")
    p.add_argument("dir", metavar="DIR", help="a checkpoint directory written by `labkit train`")
    p.add_argument("--to", choices=("hf",), required=True, help="target format: hf (transformers)")
    p.add_argument("out", metavar="OUT", help="the directory to write")
    args = _parse(p, argv)
    if isinstance(args, int):
        return args
    try:
        if Path(args.out).resolve() == Path(args.dir).resolve():
            raise ValueError("OUT must differ from DIR (the export would overwrite the checkpoint)")
        model = models.load(args.dir)
        tok = tokenizers.load_tokenizer(args.dir)
        out = hf.save_hf(model, tok, args.out)
    except INPUT_ERRORS as error:
        return _fail("export", error)
    task = "text-generation" if isinstance(model, models.TinyGPT) else "fill-mask"
    print(f"exported {args.dir} to {out}; try: transformers.pipeline({task!r}, model={str(out)!r})")
    return 0
