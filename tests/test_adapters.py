"""attnbook.adapters: every family's sublayers, recomputed, equal transformers' own weights.

The reference is always transformers' ``outputs.attentions`` (eager
attention), independent of attnbook; every model is a tiny random one built
here or in tests/tiny_models.py (nothing is downloaded).
"""

from __future__ import annotations

import pytest
import torch
import transformers
from tiny_models import (
    DECODERS,
    SMALL,
    build,
    build_decoder,
    build_seq2seq,
    reference_attentions,
    wordpiece_vocab,
)
from torch import nn
from transformers.modeling_outputs import BaseModelOutput

import attnbook
from attnbook import adapters
from attnbook.adapters import (
    Adapter,
    Sublayer,
    adapter_for,
    capture,
    encode,
    recompute_call,
)
from attnbook.adapters.families import heads_of
from attnbook.errors import UnsupportedModelError

TEXT = "The dog chased the cat, it is unbelievably loud!"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("adapters")


@pytest.fixture(scope="module")
def gpt2_tokenizer(root):
    return transformers.AutoTokenizer.from_pretrained(build_decoder("gpt2", root))


def _save(model, tokenizer, directory):
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def recompute_attentions(model, text):
    return attnbook.recompute_attentions(model, text)  # through the model's adapter


def _recomputed(path):
    return recompute_attentions(str(path), TEXT)


@pytest.mark.parametrize("family", DECODERS)
def test_decoders_recompute_to_transformers(root, family):
    path = build_decoder(family, root)
    reference = reference_attentions(path, TEXT)
    mine = _recomputed(path)
    assert mine.shape == reference.shape
    assert (mine - reference).abs().max().item() <= 1e-6
    assert bool((torch.triu(mine, diagonal=1) == 0).all())


def _gpt2_vocab_size(tokenizer):
    return dict(vocab_size=len(tokenizer), max_position_embeddings=64)


def test_gpt_neo_local_layers_use_their_window(root, gpt2_tokenizer):
    torch.manual_seed(1)
    config = transformers.GPTNeoConfig(
        hidden_size=16,
        num_layers=2,
        num_heads=2,
        attention_types=[[["global", "local"], 1]],
        window_size=3,
        **_gpt2_vocab_size(gpt2_tokenizer),
    )
    path = _save(transformers.GPTNeoModel(config), gpt2_tokenizer, root / "tiny-gpt-neo")
    _, model = attnbook.load_model(str(path))
    windows = [s.window for s in adapter_for(model).attention_sublayers(model)]
    assert windows == [None, 3]
    reference = reference_attentions(path, TEXT)
    mine = _recomputed(path)
    assert (mine - reference).abs().max().item() <= 1e-6
    # The local layer gives nothing to keys 3 or more positions back; the global one does.
    far = torch.ones_like(mine[0, 0], dtype=torch.bool).tril(diagonal=-3)
    assert mine[1][:, far].abs().max().item() == 0
    assert mine[0][:, far].min().item() > 0


@pytest.mark.parametrize("family", ["mistral", "qwen3"])
def test_llama_relatives_sliding_window_and_per_head_norms(root, gpt2_tokenizer, family):
    torch.manual_seed(2)
    size = dict(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,  # multi-query: one key/value head for all four
        head_dim=4,
        **_gpt2_vocab_size(gpt2_tokenizer),
    )
    if family == "mistral":
        model = transformers.MistralModel(transformers.MistralConfig(sliding_window=4, **size))
    else:
        model = transformers.Qwen3Model(transformers.Qwen3Config(**size))
    path = _save(model, gpt2_tokenizer, root / f"tiny-{family}")
    _, loaded = attnbook.load_model(str(path))
    sub = adapter_for(loaded).attention_sublayers(loaded)[0]
    assert (sub.num_heads, sub.num_kv_heads, sub.rotary) == (4, 1, True)
    assert sub.window == (4 if family == "mistral" else None)
    reference = reference_attentions(path, TEXT)
    assert (_recomputed(path) - reference).abs().max().item() <= 1e-6


def test_albert_shares_one_module_across_layers(root):
    torch.manual_seed(3)
    tokenizer = transformers.BertTokenizer(vocab=wordpiece_vocab())
    config = transformers.AlbertConfig(
        vocab_size=len(tokenizer), embedding_size=8, **{**SMALL, "num_hidden_layers": 3}
    )
    path = _save(transformers.AlbertModel(config), tokenizer, root / "tiny-albert")
    _, model = attnbook.load_model(str(path))
    assert len(adapter_for(model).attention_sublayers(model)) == 1
    reference = reference_attentions(path, TEXT)
    mine = _recomputed(path)
    assert mine.shape[0] == 3  # one entry per call of the shared module
    assert (mine - reference).abs().max().item() <= 1e-6
    assert (mine[0] - mine[1]).abs().max().item() > 1e-4  # each layer's own input


class Padded:
    """A tokenizer that pads every text to ``length`` (as in a batch), on the right."""

    def __init__(self, tokenizer, length):
        self.tokenizer, self.length = tokenizer, length

    def __getattr__(self, name):
        return getattr(self.tokenizer, name)

    def __call__(self, *args, **kwargs):
        return self.tokenizer(*args, padding="max_length", max_length=self.length, **kwargs)


def test_padded_decoder_input(root):
    path = build_decoder("llama", root)
    tokenizer, model = attnbook.load_model(str(path))
    tokenizer.pad_token = tokenizer.eos_token
    n = len(tokenizer(TEXT)["input_ids"])
    mine = recompute_attentions((Padded(tokenizer, n + 3), model), TEXT)
    enc = tokenizer(TEXT, padding="max_length", max_length=n + 3, return_tensors="pt")
    with torch.no_grad():
        reference = torch.cat(model(**enc, output_attentions=True).attentions)
    real = slice(0, n)  # padded queries' rows are whatever the mask leaves; compare real ones
    assert (mine[:, :, real] - reference[:, :, real]).abs().max().item() <= 1e-6
    assert mine[:, :, real, n:].abs().max().item() == 0  # no real query sees padding


# ----- encoder-decoders: the sublayers attend_seq2seq reads -------------------------------


def _seq2seq_reference(model, calls, outputs):
    by_kind = {"self": [], "causal": [], "cross": []}
    for call in calls:
        by_kind[call.sublayer.kind].append(recompute_call(call)[None])
    names = {
        "self": "encoder_attentions",
        "causal": "decoder_attentions",
        "cross": "cross_attentions",
    }
    return {
        kind: (torch.cat(ws), torch.cat(getattr(outputs, names[kind])))
        for kind, ws in by_kind.items()
    }


@pytest.mark.parametrize("family", ["bart", "marian", "mbart"])
def test_bart_family_names_encoder_self_decoder_causal_and_cross(root, family):
    path = build_seq2seq(family, root)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModel.from_pretrained(path, attn_implementation="eager")
    adapter = adapter_for(model)
    assert adapter.name == "bart" and adapter.encoder_decoder
    sublayers = adapter.attention_sublayers(model)
    c = model.config
    encoder = [("encoder", "self", c.encoder_attention_heads)] * c.encoder_layers
    decoder = [("decoder", kind, c.decoder_attention_heads) for kind in ("causal", "cross")]
    assert [
        (s.stack, s.kind, s.num_heads) for s in sublayers
    ] == encoder + decoder * c.decoder_layers
    source = tokenizer("The dog chased the cat.", return_tensors="pt")
    target = tokenizer("A cat ran.", return_tensors="pt")["input_ids"]
    inputs = {**source, "decoder_input_ids": target}
    captured = capture(model, inputs, sublayers=sublayers)
    cross = [c for c in captured.calls if c.sublayer.kind == "cross"][0]
    assert cross.memory is not None and cross.memory.shape[0] == source["input_ids"].shape[1]
    for kind, (mine, theirs) in _seq2seq_reference(model, captured.calls, captured.outputs).items():
        assert mine.shape == theirs.shape, kind
        assert (mine - theirs).abs().max().item() <= 1e-6, kind
    cross_shape = captured.weights("cross_attentions").shape[-2:]
    assert cross_shape == (target.shape[1], cross.memory.shape[0])


def test_t5_sublayers_and_why_its_self_attention_is_not_recomputed():
    torch.manual_seed(4)
    config = transformers.T5Config(
        vocab_size=32,
        d_model=16,
        d_kv=4,
        d_ff=32,
        num_layers=2,
        num_decoder_layers=1,
        num_heads=4,
        attn_implementation="eager",
    )
    model = transformers.T5Model(config).eval()
    sublayers = adapter_for(model).attention_sublayers(model)
    assert [(s.stack, s.kind) for s in sublayers] == [
        ("encoder", "self"),
        ("encoder", "self"),
        ("decoder", "causal"),
        ("decoder", "cross"),
    ]
    ids = torch.tensor([[5, 6, 7, 8, 1]])
    captured = capture(
        model, {"input_ids": ids, "decoder_input_ids": ids[:, :3]}, sublayers=sublayers
    )
    with pytest.raises(UnsupportedModelError, match="relative position bias"):
        recompute_call(captured.calls[0])
    cross = [c for c in captured.calls if c.sublayer.kind == "cross"][0]
    theirs = captured.weights("cross_attentions")[0]
    assert (recompute_call(cross) - theirs).abs().max().item() <= 1e-6


# ----- a new family in one place --------------------------------------------------------


class ToyConfig(transformers.PretrainedConfig):
    model_type = "attnbook-test-toy"

    def __init__(self, width=8, heads=2, layers=2, vocab_size=32, **kwargs):
        super().__init__(**kwargs)
        self.width, self.heads, self.layers, self.vocab_size = width, heads, layers, vocab_size
        self.max_position_embeddings = 64


class ToyAttention(nn.Module):
    """Causal attention whose projections have names no built-in adapter knows."""

    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.wq, self.wk, self.wv, self.wo = (nn.Linear(width, width) for _ in range(4))

    def forward(self, x):  # x [1, T, E]
        t = x.shape[1]
        q, k, v = (
            w(x).view(1, t, self.heads, -1).transpose(1, 2) for w in (self.wq, self.wk, self.wv)
        )
        scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
        scores = scores.masked_fill(~torch.ones(t, t, dtype=torch.bool).tril(), float("-inf"))
        weights = scores.softmax(-1)
        return self.wo((weights @ v).transpose(1, 2).reshape(1, t, -1)), weights


class ToyModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.width)
        self.blocks = nn.ModuleList(
            ToyAttention(config.width, config.heads) for _ in range(config.layers)
        )

    def forward(self, input_ids, attention_mask=None, output_attentions=False):
        x, attentions = self.embed(input_ids), []
        for block in self.blocks:
            out, weights = block(x)
            x = x + out
            attentions.append(weights)
        return BaseModelOutput(last_hidden_state=x, attentions=tuple(attentions))


def toy_sublayers(model):
    return [
        Sublayer(
            name=name,
            module=m,
            kind="causal",
            stack="decoder",
            num_heads=m.heads,
            num_kv_heads=m.heads,
            head_dim=m.wq.out_features // m.heads,
            query=heads_of(m.wq, m.heads),
            key=heads_of(m.wk, m.heads),
            value=heads_of(m.wv, m.heads),
            output=m.wo,
        )
        for name, m in model.named_modules()
        if isinstance(m, ToyAttention)
    ]


@pytest.fixture
def toy():
    torch.manual_seed(5)
    tokenizer = transformers.BertTokenizer(vocab=wordpiece_vocab())
    model = ToyModel(ToyConfig(vocab_size=len(tokenizer))).eval()
    yield tokenizer, model


def test_a_new_family_is_one_adapter(toy):
    tokenizer, model = toy
    with pytest.raises(UnsupportedModelError, match="register_adapter"):
        recompute_attentions((tokenizer, model), TEXT)
    assert not attnbook.attend(TEXT, (tokenizer, model)).causal  # nothing says it is causal

    adapter = adapters.register_adapter(Adapter("toy", ("attnbook-test-toy",), toy_sublayers))
    try:
        assert adapter_for(model) is adapter
        maps = attnbook.attend(TEXT, (tokenizer, model))
        assert maps.causal  # from the adapter's sublayer kind
        mine = recompute_attentions((tokenizer, model), TEXT)
        assert mine.shape == maps.attentions.shape == (2, 2, maps.num_tokens, maps.num_tokens)
        assert (mine - maps.attentions).abs().max().item() <= 1e-6
        torch.testing.assert_close(
            attnbook.recompute_attention((tokenizer, model), TEXT, 1), mine[1]
        )
    finally:
        adapters.unregister_adapter(adapter)
    assert adapters.find_adapter(model) is None


def test_registry_errors(toy):
    with pytest.raises(UnsupportedModelError, match="Adapter"):
        adapters.register_adapter(toy_sublayers)
    with pytest.raises(UnsupportedModelError, match="known families: bert, distilbert, gpt2"):
        adapter_for(toy[1])
    empty = Adapter("empty", ("attnbook-test-toy",), lambda model: [])
    with pytest.raises(UnsupportedModelError, match="no attention sublayers"):
        empty.attention_sublayers(toy[1])


# ----- the encode and capture steps -----------------------------------------------------


@pytest.mark.parametrize("family, takes_segments", [("bert", True), ("distilbert", False)])
def test_encode_passes_token_type_ids_only_to_models_that_take_them(root, family, takes_segments):
    tokenizer, model = attnbook.load_model(str(build(family, root)))
    encoded = encode(tokenizer, model, "The dog barks.", "It is loud.")
    assert ("token_type_ids" in encoded.inputs) is takes_segments
    assert encoded.tokens == tokenizer.convert_ids_to_tokens(encoded.inputs["input_ids"][0])
    assert encoded.special == [t in ("[CLS]", "[SEP]") for t in encoded.tokens]
    assert encoded.segment_ids.count(1) == len(tokenizer.tokenize("It is loud.")) + 1
    if takes_segments:
        assert encoded.inputs["token_type_ids"][0].tolist() == encoded.segment_ids


def test_capture_runs_in_eval_mode_and_restores_training(root):
    tokenizer, model = attnbook.load_model(str(build("bert", root)))
    seen = []
    handle = model.register_forward_pre_hook(lambda m, args: seen.append(m.training))
    model.train()
    try:
        encoded = encode(tokenizer, model, "The dog barks.")
        first = capture(model, encoded.inputs).weights()
        again = capture(model, encoded.inputs).weights()
    finally:
        handle.remove()
        model.eval()
    assert seen == [False, False]  # dropout off: the same weights every time
    torch.testing.assert_close(first, again, atol=0, rtol=0)
    assert first.shape == (2, 2, encoded.num_tokens, encoded.num_tokens)


def test_a_sublayer_describes_itself():
    _, model = attnbook.load_model()
    sub = adapter_for(model).attention_sublayers(model)[0]
    assert (
        repr(sub)
        == "Sublayer('encoder.layer.0.attention.self', kind='self', heads=12, head_dim=32)"
    )
    assert sub.output is model.encoder.layer[0].attention.output.dense
