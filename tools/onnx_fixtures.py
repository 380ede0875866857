#!/usr/bin/env python3
"""Write the ONNX test files of tests/test_import_onnx.py (tests/fixtures/onnx/*.onnx).

Run from the repository root with torch, torchvision and onnx installed (torch 2.14.1 CPU,
torchvision 0.29.1, onnx 1.23.2 were used):

    /tmp/h1-venv/bin/python tools/onnx_fixtures.py

Every model is built with random weights (torch.manual_seed(0)), put in eval mode and exported
by torch's TorchScript exporter (`torch.onnx.export(..., dynamo=False)`, opset 17 for the CNNs,
20 for the transformer blocks so that GELU is one `Gelu` node), with
training=TrainingMode.EVAL.  Then the weights are stripped (`strip_weights`): every initializer
of 16 elements or more keeps its name, type and dims (its parameter count) but loses its data,
which becomes a reference to zero bytes of an external file that is never written.  The files
stay a few kB each, and a test proves that the importer reads shapes only: loading the external
data would fail.  Small initializers (shape constants for Reshape, scalars) keep their values.

    resnet18.onnx       torchvision.models.resnet18, batch axis symbolic ('batch'),
                        do_constant_folding=True (the exporter's default): batch norms FOLDED
                        into the convolutions, which gain a bias
    resnet18_bn.onnx    the same with do_constant_folding=False: the 20 BatchNormalization
                        nodes are kept, so the unfolded parameter count is read exactly
    resnet18_dynamo.onnx  the same model by the dynamo exporter (dynamo=True, opset 20, onnxscript
                        0.7.2's optimizer): batch norms FOLDED, the new biases named
                        '<conv weight>_bias', global pooling as ReduceMean
    mobilenet_v2.onnx   torchvision.models.mobilenet_v2, default folding: batch norms FOLDED
    encoder.onnx        a post-norm encoder layer as BERT's (transformers BertLayer): q, k, v
                        projections, softmax(q k^T / sqrt(h)) v, output projection, residual,
                        LayerNorm, 4x GELU feed-forward, residual, LayerNorm; d = 64, 4 heads;
                        input x (batch, sequence, 64) with both axes symbolic
    decoder_kv.onnx     a pre-norm decoder block (GPT-2 style) for one decode step with a KV
                        cache: inputs x (1, 1, 64), past_key and past_value (1, 4, 15, 16);
                        outputs y and the present key and value (1, 4, 16, 16)

The batch norms of the CNNs get random running statistics and affine parameters (seeded), as a
trained model has, so that folded biases differ from each other (the exporter shares equal
constants through Identity nodes).
"""

from __future__ import annotations

import contextlib
import io
import math
import sys
import warnings
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "onnx"
MIN_STRIPPED = 16
"""Initializers of at least this many elements lose their data (weights, biases, tables)."""


def strip_weights(model, keep: frozenset[str] = frozenset()) -> None:
    """Replace the data of every initializer of MIN_STRIPPED elements or more by a reference to
    zero bytes of external data ('stripped.weights', never written): dims and type are kept.
    Initializers named in `keep` keep their data (a tied head and its embedding table, which
    the importer tells tied by their values).  Nodes lose their doc strings and metadata (the
    dynamo exporter's stack traces)."""
    from onnx import TensorProto

    for node in model.graph.node:  # the dynamo exporter's stack traces and fx names: not needed
        del node.metadata_props[:]
        node.ClearField("doc_string")
    for tensor in model.graph.initializer:
        if math.prod(tensor.dims) < MIN_STRIPPED or tensor.name in keep:
            continue
        tensor.ClearField("raw_data")
        for field in ("float_data", "int32_data", "int64_data", "double_data"):
            tensor.ClearField(field)
        tensor.data_location = TensorProto.EXTERNAL
        del tensor.external_data[:]
        for key, value in (("location", "stripped.weights"), ("offset", "0"), ("length", "0")):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value


def randomise_batchnorms(model) -> None:
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            with torch.no_grad():
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)


def export(model, args, name: str, *, opset: int, folding: bool = True, dynamo: bool = False,
           keep=lambda proto: frozenset(), **kwargs) -> None:
    import onnx
    import torch

    buffer = io.BytesIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        if dynamo:  # the TorchScript-only options (training, do_constant_folding) do not apply
            program = torch.onnx.export(model, args, dynamo=True, opset_version=opset, **kwargs)
            program.model_proto  # noqa: B018 (built)
            buffer.write(program.model_proto.SerializeToString())
        else:
            torch.onnx.export(model, args, buffer, dynamo=False, opset_version=opset,
                              training=torch.onnx.TrainingMode.EVAL, do_constant_folding=folding, **kwargs)
    proto = onnx.load_from_string(buffer.getvalue())
    strip_weights(proto, keep(proto))
    proto.producer_version = torch.__version__
    data = proto.SerializeToString(deterministic=True)
    (OUT / name).write_bytes(data)
    print(f"{name}: {len(data):,} bytes, {len(proto.graph.node)} nodes")


def cnns() -> None:
    import torch
    import torchvision

    x = torch.zeros(1, 3, 224, 224)
    for name, factory, folding in (("resnet18.onnx", torchvision.models.resnet18, True),
                                   ("resnet18_bn.onnx", torchvision.models.resnet18, False),
                                   ("mobilenet_v2.onnx", torchvision.models.mobilenet_v2, True)):
        torch.manual_seed(0)
        model = factory()
        randomise_batchnorms(model)
        model.eval()
        export(model, (x,), name, opset=17, folding=folding, input_names=["input"],
               output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    torch.manual_seed(0)
    model = torchvision.models.resnet18()
    randomise_batchnorms(model)
    model.eval()
    export(model, (x,), "resnet18_dynamo.onnx", opset=20, dynamo=True, input_names=["input"],
           output_names=["logits"])


def transformer_modules():
    import torch
    from torch import nn

    class SelfAttention(nn.Module):
        """Eager multi-head attention as transformers' BertSelfAttention + BertSelfOutput's dense."""

        def __init__(self, d: int, heads: int) -> None:
            super().__init__()
            self.heads, self.head_dim = heads, d // heads
            self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
            self.dense = nn.Linear(d, d)

        def split(self, t):
            n, s, _ = t.shape
            return t.reshape(n, s, self.heads, self.head_dim).transpose(1, 2)

        def forward(self, x, past_key=None, past_value=None):
            n, t, d = x.shape
            q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
            if past_key is not None:
                k = torch.cat([past_key, k], dim=2)
                v = torch.cat([past_value, v], dim=2)
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
            context = torch.matmul(scores.softmax(dim=-1), v)
            out = self.dense(context.transpose(1, 2).reshape(n, t, d))
            return out, k, v

    class EncoderLayer(nn.Module):
        """Post-norm, as BertLayer: LN(x + attn(x)), LN(a + W2 gelu(W1 a))."""

        def __init__(self, d: int = 64, heads: int = 4, ff: int = 256) -> None:
            super().__init__()
            self.attention = SelfAttention(d, heads)
            self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.intermediate, self.output = nn.Linear(d, ff), nn.Linear(ff, d)
            self.act = nn.GELU()

        def forward(self, x):
            a = self.norm1(x + self.attention(x)[0])
            return self.norm2(a + self.output(self.act(self.intermediate(a))))

    class DecoderBlock(nn.Module):
        """Pre-norm, as GPT-2's Block: x + attn(LN(x)), then x + mlp(LN(x)); one decode step."""

        def __init__(self, d: int = 64, heads: int = 4, ff: int = 256) -> None:
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.attn = SelfAttention(d, heads)
            self.fc, self.proj = nn.Linear(d, ff), nn.Linear(ff, d)
            self.act = nn.GELU()

        def forward(self, x, past_key, past_value):
            a, k, v = self.attn(self.ln_1(x), past_key, past_value)
            x = x + a
            return x + self.proj(self.act(self.fc(self.ln_2(x)))), k, v

    return EncoderLayer, DecoderBlock


def transformers() -> None:
    import torch

    EncoderLayer, DecoderBlock = transformer_modules()
    torch.manual_seed(0)
    export(EncoderLayer().eval(), (torch.zeros(2, 16, 64),), "encoder.onnx", opset=20,
           input_names=["x"], output_names=["y"],
           dynamic_axes={"x": {0: "batch", 1: "sequence"}, "y": {0: "batch", 1: "sequence"}})
    torch.manual_seed(0)
    past = torch.zeros(1, 4, 15, 16)
    export(DecoderBlock().eval(), (torch.zeros(1, 1, 64), past, past), "decoder_kv.onnx", opset=20,
           input_names=["x", "past_key", "past_value"], output_names=["y", "present_key", "present_value"])


BERT = {"vocab_size": 1000, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 256, "max_position_embeddings": 64, "type_vocab_size": 2}
HF_MODELS = {
    # name: (transformers class, config keys, attn_implementation, graph inputs, mask of ones inside)
    "bert.onnx": ("BertModel", BERT, "sdpa", ("input_ids",), True),
    "bert_eager.onnx": ("BertModel", BERT, "eager", ("input_ids",), False),
    "bert_inputs.onnx": ("BertModel", BERT, "sdpa", ("input_ids", "attention_mask", "token_type_ids"), False),
    "gpt2.onnx": ("GPT2LMHeadModel", {"vocab_size": 256, "n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 64,
                                      "bos_token_id": 0, "eos_token_id": 0}, "eager", ("input_ids", "attention_mask"),
                  False),
}
"""The Hugging Face models (transformers 5.24.0, random weights, torch.manual_seed(0)), exported by
the TorchScript exporter at opset 17, every input (batch, sequence):
    bert.onnx         BertModel, SDPA attention (transformers' default), input_ids only and an
                      attention_mask of ones made inside (torch.ones_like(input_ids)): the mask is
                      built from the ids' shape (Where, Expand) and added to the scores, softmax
                      guarded by Where(IsNaN(p), 0, p)
    bert_eager.onnx   BertModel, eager attention, input_ids only, no mask: no mask op
    bert_inputs.onnx  BertModel, SDPA, inputs input_ids, attention_mask, token_type_ids (as Optimum
                      exports it)
    gpt2.onnx         GPT2LMHeadModel (lm_head tied to transformer.wte), eager attention, inputs
                      input_ids and attention_mask: Conv1D as Reshape/Gemm/Reshape, c_attn split
                      into q, k, v, the causal mask added to the scores, gelu_new as eight
                      operators.  GPT-2 needs an attention_mask under the TorchScript exporter:
                      without one, transformers 5.24 looks for packed sequences with torch.diff
                      (masking_utils.py:757), which it cannot export.  Vocabulary 256 so that the
                      tied head's weight and wte keep their data (2 x 64 kB): the importer tells
                      the tie from the values.
Their parameter counts (sum of p.numel() over model.parameters(), tied weights once) and the configs
are written to hf_models.json for the tests."""


def hf_models() -> None:
    import json

    import torch
    import transformers

    results = {}
    for name, (cls_name, keys, attention, inputs, ones) in HF_MODELS.items():
        base = getattr(transformers, cls_name)
        config_cls = transformers.BertConfig if cls_name == "BertModel" else transformers.GPT2Config
        config = config_cls(**keys, attn_implementation=attention)

        class Exported(base):  # positional inputs only: the exporter's args
            def forward(self, input_ids, attention_mask=None, token_type_ids=None, _ones=ones, _cls=cls_name):
                if _ones:
                    attention_mask = torch.ones_like(input_ids)
                if _cls == "BertModel":
                    out = super().forward(input_ids=input_ids, attention_mask=attention_mask,
                                          token_type_ids=token_type_ids)
                    return out.last_hidden_state, out.pooler_output
                return super().forward(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits

        torch.manual_seed(0)
        model = Exported(config).eval()
        outputs = ["last_hidden_state", "pooler_output"] if cls_name == "BertModel" else ["logits"]

        def tied(proto):
            head = next((n for n in proto.graph.node if n.name == "/lm_head/MatMul"), None)
            return frozenset() if head is None else frozenset({head.input[1], "transformer.wte.weight"})

        ids = torch.zeros(1, 16, dtype=torch.long)
        args = tuple(torch.ones_like(ids) if i == "attention_mask" else ids for i in inputs)
        export(model, args, name, opset=17, keep=tied, input_names=list(inputs), output_names=outputs,
               dynamic_axes={i: {0: "batch", 1: "sequence"} for i in inputs})
        results[name] = {"class": cls_name, "config": keys, "attn_implementation": attention,
                         "inputs": list(inputs), "mask_of_ones_inside": ones,
                         "params": sum(p.numel() for p in model.parameters()), "tied": cls_name != "BertModel"}
    text = json.dumps({"transformers": transformers.__version__, "torch": torch.__version__,
                       "models": results}, indent=2) + "\n"
    (OUT / "hf_models.json").write_text(text)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    if sys.argv[1:] != ["hf"]:
        cnns()
        transformers()
    hf_models()
    return 0


if __name__ == "__main__":
    sys.exit(main())
