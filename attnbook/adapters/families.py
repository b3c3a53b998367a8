"""The model families attnbook knows, one :class:`~attnbook.adapters.Adapter` each.

Each adapter walks ``model.named_modules()`` for the family's attention
modules and says, per module, how to compute its queries, keys and values
(``[heads, T, d]``) from its input ``[T, E]`` and which output projection
follows. The paths and attribute names are those of transformers 5:

=============  ==========================================  ==============================
family         attention module (per layer)                 projections
=============  ==========================================  ==============================
bert           ``...attention.self`` (ALBERT: ``attention``)  ``query key value``; ``attention.output.dense``
distilbert     ``transformer.layer.i.attention``             ``q_lin k_lin v_lin out_lin``
gpt2           ``h.i.attn`` (``crossattention``)             fused ``c_attn`` (Conv1D), ``c_proj``
gpt_neo        ``h.i.attn.attention``                        ``q_proj k_proj v_proj out_proj``; no 1/sqrt(d), local layers windowed
gpt_neox       ``layers.i.attention``                        fused ``query_key_value`` (per head), ``dense``; partial RoPE
llama          ``layers.i.self_attn``                        ``q_proj k_proj v_proj o_proj``; grouped K/V heads, RoPE
bart           ``encoder/decoder.layers.i.self_attn``, ``encoder_attn``  ``q_proj k_proj v_proj out_proj``
t5             ``...layer.0.SelfAttention``, ``layer.1.EncDecAttention``  ``q k v o``; relative position bias
=============  ==========================================  ==============================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from attnbook.adapters.base import Adapter, Kind, Project, Stack, Sublayer, register_adapter
from attnbook.errors import UnsupportedModelError

__all__ = ["BERT", "BART", "DISTILBERT", "GPT2", "GPT_NEO", "GPT_NEOX", "LLAMA", "T5"]


def split_heads(x: Tensor, heads: int) -> Tensor:
    """``[T, heads * d] -> [heads, T, d]``: consecutive blocks of ``d`` features are heads."""
    return x.view(x.shape[0], heads, -1).transpose(0, 1)


def heads_of(projection: Callable[[Tensor], Tensor], heads: int) -> Project:
    """``x [T, E] -> [heads, T, d]`` through ``projection`` (an ``nn.Linear``, say)."""
    return lambda x: split_heads(projection(x), heads)


def _linears(module: nn.Module, *names: str) -> bool:
    return all(isinstance(getattr(module, n, None), nn.Linear) for n in names)


def _stack_of(name: str) -> Stack:
    return "decoder" if "decoder" in name.split(".") else "encoder"


def _config(model: nn.Module, module: nn.Module) -> Any:
    return getattr(module, "config", None) or getattr(model, "config", None)


def _separate(
    name: str,
    module: nn.Module,
    *,
    kind: Kind,
    stack: Stack,
    heads: int,
    head_dim: int,
    qkv: tuple[nn.Module, nn.Module, nn.Module],
    output: nn.Module,
    **options: Any,
) -> Sublayer:
    """A sublayer with three separate query/key/value projections and one K/V head per query head.

    ``options``: the optional :class:`Sublayer` fields (``scale``, ``window``,
    ``not_recomputable``).
    """
    query, key, value = qkv
    return Sublayer(
        name=name,
        module=module,
        kind=kind,
        stack=stack,
        num_heads=heads,
        num_kv_heads=heads,
        head_dim=head_dim,
        query=heads_of(query, heads),
        key=heads_of(key, heads),
        value=heads_of(value, heads),
        output=output,
        **options,
    )


# ----- BERT-style encoders: BERT, RoBERTa, ELECTRA, MiniLM, ALBERT, ... -----------


def _bert_sublayers(model: nn.Module) -> list[Sublayer]:
    found = []
    for name, m in model.named_modules():
        if not _linears(m, "query", "key", "value"):
            continue
        heads, d = int(m.num_attention_heads), int(m.attention_head_size)
        output = getattr(m, "dense", None)  # ALBERT keeps the output projection in the module
        if not isinstance(output, nn.Linear):
            parent = model.get_submodule(name.rpartition(".")[0])
            output = getattr(getattr(parent, "output", None), "dense", None)
        if not isinstance(output, nn.Linear):
            raise UnsupportedModelError(
                f"{type(model).__name__} has query/key/value projections at {name!r} but no "
                "output projection at .dense or ../output.dense; register an adapter for it."
            )
        cross = "Cross" in type(m).__name__ or bool(getattr(m, "is_cross_attention", False))
        causal = getattr(m, "is_causal", False) is True
        kind: Kind = "cross" if cross else "causal" if causal else "self"
        relative = getattr(m, "position_embedding_type", "absolute") not in ("absolute", None)
        found.append(
            _separate(
                name,
                m,
                kind=kind,
                stack="encoder" if kind == "self" else "decoder",
                heads=heads,
                head_dim=d,
                qkv=(m.query, m.key, m.value),
                output=output,
                not_recomputable=(
                    "its scores include relative position embeddings" if relative else None
                ),
            )
        )
    return found


BERT = register_adapter(
    Adapter(
        name="bert",
        model_types=("bert", "roberta", "xlm-roberta", "camembert", "electra", "albert"),
        sublayers=_bert_sublayers,
        detect=lambda model: any(_linears(m, "query", "key", "value") for m in model.modules()),
    )
)


def _distilbert_sublayers(model: nn.Module) -> list[Sublayer]:
    found = []
    for name, m in model.named_modules():
        if not _linears(m, "q_lin", "k_lin", "v_lin", "out_lin"):
            continue
        heads = int(m.n_heads)
        found.append(
            _separate(
                name,
                m,
                kind="self",
                stack="encoder",
                heads=heads,
                head_dim=m.q_lin.out_features // heads,
                qkv=(m.q_lin, m.k_lin, m.v_lin),
                output=m.out_lin,
            )
        )
    return found


DISTILBERT = register_adapter(
    Adapter(
        name="distilbert",
        model_types=("distilbert",),
        sublayers=_distilbert_sublayers,
        detect=lambda model: any(_linears(m, "q_lin", "k_lin") for m in model.modules()),
    )
)


# ----- decoders ----------------------------------------------------------------


def _gpt2_sublayers(model: nn.Module) -> list[Sublayer]:
    found = []
    for name, m in model.named_modules():
        if not (hasattr(m, "c_attn") and hasattr(m, "c_proj") and hasattr(m, "split_size")):
            continue
        heads, e = int(m.num_heads), int(m.split_size)
        fused = m.c_attn  # Conv1D: x @ W + b with W [E, 3E]: [q | k | v] side by side

        def part(i: int, proj: nn.Module = fused, heads: int = heads, e: int = e) -> Project:
            return lambda x: split_heads(proj(x)[..., i * e : (i + 1) * e], heads)

        cross = bool(getattr(m, "is_cross_attention", False))
        found.append(
            Sublayer(
                name=name,
                module=m,
                kind="cross" if cross else "causal",
                stack="decoder",
                num_heads=heads,
                num_kv_heads=heads,
                head_dim=int(m.head_dim),
                # Cross-attention: q_attn makes the queries, c_attn [k | v] from the encoder.
                query=heads_of(m.q_attn, heads) if cross else part(0),
                key=part(0) if cross else part(1),
                value=part(1) if cross else part(2),
                output=m.c_proj,
                scale=float(m.scaling),
            )
        )
    return found


GPT2 = register_adapter(Adapter(name="gpt2", model_types=("gpt2",), sublayers=_gpt2_sublayers))


def _gpt_neo_sublayers(model: nn.Module) -> list[Sublayer]:
    found = []
    for name, m in model.named_modules():
        if not (_linears(m, "q_proj", "k_proj", "v_proj", "out_proj") and hasattr(m, "bias")):
            continue
        heads = int(m.num_heads)
        local = getattr(m, "attention_type", "global") == "local"
        found.append(
            _separate(
                name,
                m,
                kind="causal",
                stack="decoder",
                heads=heads,
                head_dim=int(m.head_dim),
                qkv=(m.q_proj, m.k_proj, m.v_proj),
                output=m.out_proj,
                scale=1.0,  # GPT-Neo does not divide the scores by sqrt(d)
                window=int(_config(model, m).window_size) if local else None,
            )
        )
    return found


GPT_NEO = register_adapter(
    Adapter(name="gpt_neo", model_types=("gpt_neo",), sublayers=_gpt_neo_sublayers)
)


def _gpt_neox_sublayers(model: nn.Module) -> list[Sublayer]:
    found = []
    for name, m in model.named_modules():
        if not _linears(m, "query_key_value", "dense"):
            continue
        d = int(m.head_size)
        heads = m.query_key_value.out_features // (3 * d)
        fused = m.query_key_value  # per head [q | k | v]: out features grouped head by head

        def part(i: int, proj: nn.Module = fused, d: int = d) -> Project:
            return lambda x: (
                proj(x).view(x.shape[0], -1, 3 * d).transpose(0, 1)[..., i * d : (i + 1) * d]
            )

        found.append(
            Sublayer(
                name=name,
                module=m,
                kind="causal",
                stack="decoder",
                num_heads=heads,
                num_kv_heads=heads,
                head_dim=d,
                query=part(0),
                key=part(1),
                value=part(2),
                output=m.dense,
                scale=float(m.scaling),
                rotary=True,
            )
        )
    return found


GPT_NEOX = register_adapter(
    Adapter(name="gpt_neox", model_types=("gpt_neox",), sublayers=_gpt_neox_sublayers)
)


def _normed_heads(proj: nn.Module, norm: nn.Module | None, d: int) -> Project:
    # Qwen3-style q_norm/k_norm act on each head's d features, before RoPE.
    def project(x: Tensor) -> Tensor:
        per_head = proj(x).view(x.shape[0], -1, d)  # [T, heads, d]
        if norm is not None:
            per_head = norm(per_head)
        return per_head.transpose(0, 1)

    return project


def _window(model: nn.Module, m: nn.Module) -> int | None:
    own = vars(m)
    if "sliding_window" in own:  # Qwen2-style: set per layer (None for full-attention layers)
        return own["sliding_window"] if isinstance(own["sliding_window"], int) else None
    config = _config(model, m)
    layer_types = getattr(config, "layer_types", None)
    if layer_types is not None and getattr(m, "layer_idx", None) is not None:
        return config.sliding_window if layer_types[m.layer_idx] == "sliding_attention" else None
    return getattr(config, "sliding_window", None)  # Mistral: every layer


def _llama_sublayers(model: nn.Module) -> list[Sublayer]:
    found = []
    for name, m in model.named_modules():
        if not (_linears(m, "q_proj", "k_proj", "v_proj", "o_proj") and hasattr(m, "head_dim")):
            continue
        d = int(m.head_dim)
        heads, kv_heads = m.q_proj.out_features // d, m.k_proj.out_features // d
        config = _config(model, m)
        capped = getattr(config, "attn_logit_softcapping", None)
        found.append(
            Sublayer(
                name=name,
                module=m,
                kind="causal" if getattr(m, "is_causal", True) else "self",
                stack="decoder",
                num_heads=heads,
                num_kv_heads=kv_heads,
                head_dim=d,
                query=_normed_heads(m.q_proj, getattr(m, "q_norm", None), d),
                key=_normed_heads(m.k_proj, getattr(m, "k_norm", None), d),
                value=_normed_heads(m.v_proj, None, d),
                output=m.o_proj,
                scale=float(m.scaling),
                rotary=True,
                window=_window(model, m),
                not_recomputable="its scores are soft-capped (tanh)" if capped else None,
            )
        )
    return found


LLAMA = register_adapter(
    Adapter(
        name="llama",
        model_types=("llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "olmo"),
        sublayers=_llama_sublayers,
        detect=lambda model: any(
            _linears(m, "q_proj", "k_proj", "v_proj", "o_proj")
            and hasattr(m, "num_key_value_groups")
            for m in model.modules()
        ),
    )
)


# ----- encoder-decoders: named for attend_seq2seq --------------------------------


def _seq2seq_place(name: str, cross_name: str) -> tuple[Stack, Kind]:
    """The stack and kind of an encoder-decoder's attention module ``name``.

    The module called ``cross_name`` (the last part of its path) is the
    decoder's cross-attention; the decoder's other one is causal, the encoder's self.
    """
    stack = _stack_of(name)
    if name.rpartition(".")[2] == cross_name:
        return stack, "cross"
    return stack, "causal" if stack == "decoder" else "self"


def _bart_sublayers(model: nn.Module) -> list[Sublayer]:
    found = []
    for name, m in model.named_modules():
        if not (_linears(m, "q_proj", "k_proj", "v_proj", "out_proj") and hasattr(m, "scaling")):
            continue
        stack, kind = _seq2seq_place(name, "encoder_attn")
        found.append(
            _separate(
                name,
                m,
                kind=kind,
                stack=stack,
                heads=int(m.num_heads),
                head_dim=int(m.head_dim),
                qkv=(m.q_proj, m.k_proj, m.v_proj),
                output=m.out_proj,
                scale=float(m.scaling),
            )
        )
    return found


BART = register_adapter(
    Adapter(
        name="bart",
        model_types=("bart", "mbart", "marian", "pegasus", "blenderbot", "blenderbot-small"),
        sublayers=_bart_sublayers,
        encoder_decoder=True,
    )
)


def _t5_sublayers(model: nn.Module) -> list[Sublayer]:
    found = []
    for name, m in model.named_modules():
        if not (_linears(m, "q", "k", "v", "o") and hasattr(m, "n_heads")):
            continue
        stack, kind = _seq2seq_place(name, "EncDecAttention")
        found.append(
            _separate(
                name,
                m,
                kind=kind,
                stack=stack,
                heads=int(m.n_heads),
                head_dim=int(m.key_value_proj_dim),
                qkv=(m.q, m.k, m.v),
                output=m.o,
                scale=1.0,  # T5 folds 1/sqrt(d) into its initialisation
                not_recomputable=(
                    None
                    if kind == "cross"
                    else "T5 adds a learned relative position bias to the scores"
                ),
            )
        )
    return found


T5 = register_adapter(
    Adapter(
        name="t5",
        model_types=("t5", "mt5", "umt5"),
        sublayers=_t5_sublayers,
        encoder_decoder=True,
    )
)
