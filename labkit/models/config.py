"""The settings of labkit's models: one shared base, and GPTConfig / BertConfig / EncDecConfig.

Taught in chapter 3 (choosing a model's size and architecture); the encoder–decoder's settings
in chapter 8. Every config is a validated dataclass: a bad value fails when the config is
made, with a message that says what to change.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit.nn import ACTIVATIONS

__all__ = ["POSITION_KINDS", "ModelConfig", "GPTConfig", "BertConfig", "EncDecConfig"]

#: How a model learns where each token sits: a learned table, the fixed sinusoids of
#: "Attention Is All You Need", or rotary embeddings inside attention.
POSITION_KINDS = ("learned", "sinusoidal", "rope")


@dataclass
class ModelConfig:
    """The settings every labkit model shares (size, positions, normalisation, kernels).

    Taught in chapter 3. Not used on its own: :class:`GPTConfig`, :class:`BertConfig` and
    :class:`EncDecConfig` build on it, each with its own defaults and extra fields.
    """

    vocab_size: int = 256
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    d_ff: int | None = None  # None = 4 * d_model
    dropout: float = 0.0
    activation: str = "gelu_tanh"
    pos: str = "learned"
    pre_ln: bool = True
    bias: bool = True
    tie_weights: bool = True
    fused: bool = True
    layer_norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        """Check the settings; raise ``ValueError`` naming the one to change."""
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "d_model"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.d_model % self.n_head != 0:
            raise ValueError(
                f"d_model={self.d_model} must be divisible by n_head={self.n_head} "
                "(each head gets d_model / n_head dimensions)"
            )
        if self.pos not in POSITION_KINDS:
            raise ValueError(f"pos must be one of {POSITION_KINDS}, got {self.pos!r}")
        if self.pos == "rope" and (self.d_model // self.n_head) % 2:
            raise ValueError("rotary positions need an even head width d_model / n_head")
        if self.pos == "sinusoidal" and self.d_model % 2:
            raise ValueError("sinusoidal positions need an even d_model")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


# Each config below lists ``rope_base`` last so that its fields (and config.json) keep the
# order they have always had; a redeclared field keeps its place in the base's order.


@dataclass
class GPTConfig(ModelConfig):
    """Settings of a :class:`~labkit.models.TinyGPT`. Taught in chapter 3.

    The defaults (learned positions, pre-LN, GELU-tanh, biases, tied weights) are GPT-2's
    architecture, so :func:`labkit.hf.to_hf` can export them; ``pos="rope"|"sinusoidal"`` and
    ``pre_ln=False`` are experiments with no GPT-2 equivalent. ``fused=True`` uses PyTorch's
    fast attention and LayerNorm kernels (same numbers as the from-scratch code; attention
    weights, when asked for, are computed the from-scratch way).
    """

    rope_base: float = 10000.0


@dataclass
class BertConfig(ModelConfig):
    """Settings of a :class:`~labkit.models.TinyBERT` and its classification variants.

    Taught in chapter 3. Defaults follow BERT (post-LN, exact GELU, learned positions, token
    types, LayerNorm eps 1e-12) so :func:`labkit.hf.to_hf` gives a ``BertForMaskedLM``.
    ``type_vocab_size=0`` drops the token-type (segment) embeddings. ``num_labels`` is used by
    the classification heads.
    """

    activation: str = "gelu"
    pre_ln: bool = False
    layer_norm_eps: float = 1e-12
    type_vocab_size: int = 2
    pad_token_id: int = 0
    num_labels: int = 2
    rope_base: float = 10000.0

    def __post_init__(self) -> None:
        """Check the shared settings, then the token types and the number of labels."""
        super().__post_init__()
        if self.type_vocab_size < 0 or self.num_labels < 1:
            raise ValueError("type_vocab_size must be >= 0 and num_labels >= 1")


@dataclass
class EncDecConfig(ModelConfig):
    """Settings of a :class:`~labkit.models.TinyEncoderDecoder`. Taught in chapter 8.

    One vocabulary is shared by source and target (train one tokenizer on both sides);
    ``n_layer`` is the depth of the encoder and of the decoder. Defaults follow
    "Attention Is All You Need" (ReLU, sinusoidal positions) except for pre-LN, which
    trains more easily.
    """

    n_layer: int = 2
    activation: str = "relu"
    pos: str = "sinusoidal"
    pad_token_id: int | None = 0
    bos_token_id: int = 2
    eos_token_id: int = 3
    rope_base: float = 10000.0
