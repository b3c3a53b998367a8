"""Export the embedded default model for the browser: an ONNX graph that returns attention.

The playground runs the real model in the reader's browser with onnxruntime-web.
What it needs from the model is only the attention weights, so the exported
graph is a wrapper ``words [1, T, D] (float32) -> attentions [L, H, T, T]
(float32)`` around the eager model; ONNX export drops what the weights do not
depend on (the pooler, and the last layer's attention output and feed-forward
block).

The word-embedding table stays out of the graph (``<path>.words.f16``, the
table in float16, one row per token id): the page looks up the sentence's
rows itself and hands the graph their float32 values (``words``). That table
is half the model; kept out, the runtime neither receives nor copies it, and
the session starts about 0.5 s sooner under load (measured side by side).
The position and segment tables and everything after them stay in the graph.

Compression keeps the playground's bound of 0.01 per weight: every matrix
(``Linear`` weights, embedding tables) is published in float16 and widened to
float32 in the browser before the runtime sees it, so all arithmetic stays
float32 and nothing is cast per sentence; biases and LayerNorm stay float32
inside the graph (:func:`export_onnx`). What other choices cost can be
measured with :func:`compress` and :func:`fidelity` (README, contributor
section): int8 word embeddings, even with one scale per 8 values, move
weights by up to 0.0095 (one scale per row: 0.03); int8 dynamic quantisation
of the whole model by 0.46.

Nothing is downloaded: the weights come from :func:`attnbook.models.load_model`.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from attnbook.errors import AttnbookError

if TYPE_CHECKING:
    from transformers import PreTrainedModel

__all__ = [
    "ExportError",
    "AttentionGraph",
    "compress",
    "export_onnx",
    "fidelity",
    "round_to_float16",
    "run_onnx",
    "widen",
    "word_table",
    "words_for",
]

OPSET = 17


class ExportError(AttnbookError, RuntimeError):
    """The model could not be exported for the browser (or the export is not faithful)."""


class _HalfLinear(nn.Module):
    """``nn.Linear`` with its weight stored in float16 and used in float32."""

    weight16: torch.Tensor  # a buffer [out, in]

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.register_buffer("weight16", linear.weight.detach().to(torch.float16))
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [..., in] -> [..., out]
        return nn.functional.linear(x, self.weight16.to(torch.float32), self.bias)


class _Int8Embedding(nn.Module):
    """``nn.Embedding`` stored as int8 rows with one float32 scale per row."""

    table: torch.Tensor  # buffers: [V, D] int8 and [V, 1] float32
    scale: torch.Tensor

    def __init__(self, embedding: nn.Embedding) -> None:
        super().__init__()
        w = embedding.weight.detach().to(torch.float32)  # [V, D]
        scale = w.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127  # [V, 1]
        self.register_buffer("table", torch.round(w / scale).to(torch.int8))
        self.register_buffer("scale", scale)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:  # ids [B, T] -> [B, T, D]
        return self.table[ids].to(torch.float32) * self.scale[ids]


class _HalfEmbedding(nn.Module):
    """``nn.Embedding`` stored in float16, used in float32."""

    table: torch.Tensor  # a buffer [V, D] float16

    def __init__(self, embedding: nn.Embedding) -> None:
        super().__init__()
        self.register_buffer("table", embedding.weight.detach().to(torch.float16))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:  # ids [B, T] -> [B, T, D]
        return self.table[ids].to(torch.float32)


def compress(
    model: PreTrainedModel, *, linear: str = "float16", words: str = "float16"
) -> PreTrainedModel:
    """A copy of ``model`` whose weights are stored small and used in float32.

    ``linear``: ``"float16"`` or ``"float32"`` for every ``Linear`` weight.
    ``words``: ``"float16"``, ``"int8"`` (one scale per row) or ``"float32"``
    for the word-embedding table; the position and segment tables follow
    ``linear``. The choices other than the defaults exist to measure them.
    """
    import copy

    model = copy.deepcopy(model).eval()
    words_table = model.get_input_embeddings()
    if not isinstance(words_table, nn.Embedding):
        raise ExportError(f"expected an nn.Embedding word table, got {type(words_table).__name__}")
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear) and linear == "float16":
                setattr(parent, name, _HalfLinear(child))
            elif child is words_table:
                if words == "int8":
                    setattr(parent, name, _Int8Embedding(child))
                elif words == "float16":
                    setattr(parent, name, _HalfEmbedding(child))
            elif isinstance(child, nn.Embedding) and linear == "float16":
                setattr(parent, name, _HalfEmbedding(child))
    return model


class AttentionGraph(nn.Module):
    """``words [1, T, D] -> attentions [L, H, T, T]`` around an eager encoder.

    ``words`` are the rows of the word-embedding table for the sentence's
    token ids (the page looks them up); the encoder adds the position and
    segment embeddings itself, as it does for ``input_ids``. No attention
    mask: the page runs one sentence, unpadded, so every mask weight would
    be 1; left out, the graph has no mask to build and add (30 nodes fewer,
    the same weights).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, words: torch.Tensor) -> torch.Tensor:
        out = self.model(inputs_embeds=words, output_attentions=True)
        return torch.cat(out.attentions, dim=0)  # L x [1, H, T, T] -> [L, H, T, T]


def word_table(model: nn.Module) -> np.ndarray:
    """The word-embedding table ``[V, D]`` (float32) of a transformers model.

    Read by looking up every id, so a table :func:`compress` stored small
    gives the values the model uses.
    """
    table = model.get_input_embeddings()  # type: ignore[operator]
    config: Any = model.config  # a transformers config (nn.Module's attributes are untyped)
    vocab = int(config.vocab_size)
    with torch.no_grad():
        rows = table(torch.arange(vocab)[None])[0]  # [V, D]
    return rows.to(torch.float32).numpy()


def round_to_float16(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose matrices (every 2-D weight) hold float16 values in float32.

    The browser receives these matrices as float16 (half the bytes) and widens
    them to float32 before the runtime sees them, so all arithmetic is float32
    and no cast runs per sentence.
    """
    import copy

    model = copy.deepcopy(model).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim >= 2 and p.dtype == torch.float32:
                p.copy_(p.to(torch.float16).to(torch.float32))
    return model


def _optimized(proto: Any) -> Any:
    """The graph after onnxruntime's basic optimisations (constant folding, no redundant nodes).

    Done once here, so the browser creates its session with optimisation
    disabled: measured under load, that saves it 1.5-2 s at start and runs
    a sentence as fast. Basic optimisations only use standard ONNX operators,
    so onnxruntime-web runs the result.
    """
    import tempfile

    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.onnx", Path(tmp) / "out.onnx"
        source.write_bytes(proto.SerializeToString())
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(target)
        ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        optimized = onnx.load(str(target))
    # onnxruntime lists every operator domain it knows; keep the ones used.
    used = {node.domain for node in optimized.graph.node}
    kept = [o for o in optimized.opset_import if o.domain in used or o.domain == ""]
    del optimized.opset_import[:]
    optimized.opset_import.extend(kept)
    return optimized


def export_onnx(
    model: nn.Module, path: str | Path, *, float16: bool = True, optimize: bool = True
) -> Path:
    """Write ``model`` (eager attention) as an ONNX graph ``words -> attentions``.

    The word-embedding table goes to ``<path>.words.f16`` (float16, ``[V, D]``
    row-major) or, without ``float16``, ``<path>.words.f32``: the graph's input
    ``words`` is its rows for the sentence's ids (:func:`run_onnx` does that).

    With ``float16`` (the default) every 2-D float initialiser is moved out of
    the graph into ``<path>.f16``: the float16 values, one tensor after the
    other, in the order of the graph's initialisers. Each keeps an
    external-data reference (file ``weights.bin``, offset and length *in
    float32*): widening the ``.f16`` file to float32 gives exactly the
    ``weights.bin`` the graph reads (onnxruntime-web's ``externalData``
    option, or a file beside the graph for onnxruntime in Python).

    Args:
        model: a transformers BERT-family encoder loaded with eager attention
            (:func:`attnbook.models.load_model` does that).
        path: the ``.onnx`` file to write.
        float16: store the matrices as float16 (see above); False writes
            one plain float32 graph with everything inside.
        optimize: apply onnxruntime's basic graph optimisations now
            (:func:`_optimized`), so the browser need not.
    """
    import onnx
    from onnx import numpy_helper

    source = round_to_float16(model) if float16 else model
    graph = AttentionGraph(source).eval()
    table = word_table(source)  # [V, D]
    example = torch.from_numpy(table[[101, 1996, 3899, 13303, 1996, 4937, 1012, 102]][None])
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            (example,),
            buffer,  # type: ignore[arg-type]  # torch documents file-like objects; its annotation omits them
            input_names=["words"],
            output_names=["attentions"],
            dynamic_axes={"words": {1: "tokens"}, "attentions": {2: "tokens", 3: "tokens"}},
            opset_version=OPSET,
            dynamo=False,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    if optimize:
        proto = _optimized(proto)
    path = Path(path)
    if not float16:
        Path(f"{path}.words.f32").write_bytes(table.astype("<f4").tobytes())
        path.write_bytes(proto.SerializeToString())
        return path
    Path(f"{path}.words.f16").write_bytes(table.astype("<f2").tobytes())
    halves, offset = [], 0
    for init in proto.graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT or len(init.dims) < 2:
            continue
        values = numpy_helper.to_array(init)
        half = values.astype(np.float16)
        if not np.array_equal(half.astype(np.float32), values):
            # A matrix the exporter computed from the weights (not one of them):
            # not exact in float16, so it stays in the graph as float32.
            continue
        halves.append(half.tobytes())
        length = values.size * 4
        init.ClearField("raw_data")
        init.ClearField("float_data")
        init.data_location = onnx.TensorProto.EXTERNAL
        del init.external_data[:]
        for key, value in (("location", "weights.bin"), ("offset", offset), ("length", length)):
            entry = init.external_data.add()
            entry.key, entry.value = key, str(value)
        offset += length
    if not halves:
        raise ExportError("no float16 matrices in the export")
    path.write_bytes(proto.SerializeToString())
    Path(f"{path}.f16").write_bytes(b"".join(halves))
    return path


def widen(f16: bytes) -> bytes:
    """The float32 ``weights.bin`` for a ``.f16`` file (what the browser does in JS)."""
    return np.frombuffer(f16, dtype="<f2").astype("<f4").tobytes()


def words_for(path: str | Path, input_ids: list[int]) -> np.ndarray:
    """The graph's input ``words [1, T, D]`` (float32) for ``input_ids``, as the page builds it."""
    half, full = Path(f"{path}.words.f16"), Path(f"{path}.words.f32")
    if half.exists():
        table = np.frombuffer(half.read_bytes(), dtype="<f2")
    elif full.exists():
        table = np.frombuffer(full.read_bytes(), dtype="<f4")
    else:
        raise ExportError(f"no word table beside {path} (.words.f16 or .words.f32)")
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    dim = graph.input[0].type.tensor_type.shape.dim[2].dim_value  # D
    return table.reshape(-1, dim)[np.asarray(input_ids)].astype(np.float32)[None]


def run_onnx(path: str | Path, input_ids: list[int]) -> np.ndarray:
    """Attentions ``[L, H, T, T]`` from the exported graph, run by onnxruntime (Python).

    A float16 export needs its ``weights.bin`` beside it (see :func:`widen`).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(["attentions"], {"words": words_for(path, input_ids)})[0]


def fidelity(path: str | Path, texts: list[str], model: Any = None) -> float:
    """Largest difference of any weight between the ONNX graph and :func:`attnbook.attend`."""
    from attnbook.maps import attend
    from attnbook.models import load_model

    tokenizer, _ = load_model(model)
    f16 = Path(f"{path}.f16")
    if f16.exists():  # what the browser does: widen the float16 matrices
        Path(path).with_name("weights.bin").write_bytes(widen(f16.read_bytes()))
    worst = 0.0
    for text in texts:
        maps = attend(text, model)
        ids = tokenizer.convert_tokens_to_ids(maps.tokens)
        got = run_onnx(path, ids)
        worst = max(worst, float(np.abs(got - maps.attentions.numpy()).max()))
    return worst


def sha256(path: str | Path) -> str:
    """Hex sha256 of a file (the playground's manifest lists one per asset)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
