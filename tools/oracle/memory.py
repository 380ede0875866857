#!/usr/bin/env python3
"""Oracle fixture for calc.memory: the bytes PyTorch autograd saves for backward, measured with
torch.autograd.graph.saved_tensors_hooks during one training-mode forward pass, deduplicated by
storage (a tensor saved by several nodes, or a view of a saved tensor, counted once at its
storage's size); parameters and buffers (saved with their op: a conv's weight, a batch norm's
running statistics) are left out: they are the weights, not activations.

Models (seeded, random weights, nothing downloaded), each with the calc spec that describes it:
    conv_bn_relu  a conv-bn-relu stack with max pool, dropout and a linear head
    resnet18, mobilenet_v2, mobilenet_v3_large, efficientnet_b0, densenet121,
    shufflenet_v2_x1_0, squeezenet1_0, googlenet, vgg16_bn
                  torchvision.models.<name> at 1x3x64x64 (vgg16_bn 1x3x32x32) against the
                  library spec of the same name (specs/<name>.yaml at that input)
    gpt2_block_eager, gpt2_block_sdpa  one transformers GPT2Block (n_embd 64, 4 heads, GELU,
                  attn_pdrop 0, resid_pdrop 0.1) on hidden states (2, 16, 64), eager and sdpa
    tiny_llama    transformers' LlamaModel, 2 layers, sdpa, on ids (2, 16): RMSNorm as
                  transformers writes it and the rotary tables differ (listed in `explained`)
Dropout runs as torch.native_dropout (the CUDA path of F.dropout, which saves a bool mask; on
the CPU F.dropout multiplies by a float noise tensor instead).

Where calc's per-op sum differs, the case lists each difference (`explained`: bytes and why),
computed here from the sizes; tests/test_memory_oracle.py checks calc + explained == measured.

    cd /work/main && timeout 600 /tmp/h1-venv/bin/python tools/oracle/memory.py
writes tests/fixtures/memory/saved_tensors.json.
"""

from __future__ import annotations

import json
import os
import sys

import torch
from torch import nn

OUT = os.path.join("tests", "fixtures", "memory", "saved_tensors.json")


class NativeDropout(nn.Module):
    """F.dropout's CUDA path on any device: torch.native_dropout saves a bool mask."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        return torch.native_dropout(x, self.p, True)[0]


def measure(model: nn.Module, *inputs: torch.Tensor) -> dict:
    """Saved bytes of one forward pass, by storage; the saved tensors listed."""
    skip = {p.untyped_storage().data_ptr() for p in model.parameters()}
    skip |= {b.untyped_storage().data_ptr() for b in model.buffers()}
    seen: dict[int, tuple] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        key = s.data_ptr()
        if key not in skip and key not in seen:
            seen[key] = (list(t.shape), str(t.dtype).removeprefix("torch."), s.nbytes())
        return t

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(*inputs)
    out = out[0] if isinstance(out, tuple) else out
    out.float().sum().backward()  # the saved tensors were usable
    tensors = list(seen.values())
    by_dtype: dict[str, int] = {}
    for _shape, dt, nbytes in tensors:
        by_dtype[dt] = by_dtype.get(dt, 0) + nbytes
    return {"saved_bytes": sum(t[2] for t in tensors), "tensors": len(tensors), "bytes_by_dtype": by_dtype}


def native_dropouts(model: nn.Module) -> nn.Module:
    """Every nn.Dropout of `model` replaced by NativeDropout of the same p."""
    for name, child in model.named_children():
        if isinstance(child, nn.Dropout):
            setattr(model, name, NativeDropout(child.p))
        else:
            native_dropouts(child)
    return model


CONV_SPEC = """\
name: conv_bn_relu
input: [3, 16, 16]
layers:
  - {type: conv, name: conv1, K: 3, Cout: 8, padding: 1, bias: false}
  - {type: batchnorm, name: bn1}
  - {type: relu, name: relu1}
  - {type: conv, name: conv2, K: 3, Cout: 16, padding: 1, bias: false}
  - {type: batchnorm, name: bn2}
  - {type: relu, name: relu2}
  - {type: maxpool, name: pool, K: 2, stride: 2}
  - {type: flatten, name: flatten}
  - {type: dropout, name: drop, p: 0.25}
  - {type: linear, name: fc, Cout: 10}
"""


def conv_case() -> dict:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.MaxPool2d(2, 2), nn.Flatten(), NativeDropout(0.25), nn.Linear(16 * 8 * 8, 10))
    x = torch.randn(2, 3, 16, 16)
    return {"name": "conv_bn_relu", "spec": CONV_SPEC, "library": None, "input": [2, 3, 16, 16],
            "dtype": "fp32", **measure(model, x), "explained": []}


LIBRARY = (
    # (torchvision builder = calc library spec, input (N, C, H, W), builder arguments)
    ("resnet18", [1, 3, 64, 64], {}),
    ("mobilenet_v2", [1, 3, 64, 64], {}),
    ("mobilenet_v3_large", [1, 3, 64, 64], {}),
    ("efficientnet_b0", [1, 3, 64, 64], {}),
    ("densenet121", [1, 3, 64, 64], {}),
    ("shufflenet_v2_x1_0", [1, 3, 64, 64], {}),
    ("squeezenet1_0", [1, 3, 64, 64], {}),
    ("googlenet", [1, 3, 64, 64], {"aux_logits": False, "init_weights": False}),
    ("vgg16_bn", [1, 3, 32, 32], {}),
)


def library_case(name: str, shape: list[int], kwargs: dict) -> dict:
    """A torchvision model (random weights) against the calc library spec of the same name."""
    import torchvision

    torch.manual_seed(0)
    model = native_dropouts(getattr(torchvision.models, name)(**kwargs))
    explained = []
    # MBConv calls its StochasticDepth only on the residual path (use_res_connect), p 0 is a no-op
    depth = [m for m in model.modules() if getattr(m, "use_res_connect", False)
             and getattr(getattr(m, "stochastic_depth", None), "p", 0) > 0]
    if depth:
        # torchvision.ops.stochastic_depth (mode 'row'): input * noise, noise (N, 1, 1, 1) fp32;
        # mul saves the noise.  calc's spec has no stochastic depth (an identity at inference).
        explained.append({"bytes": len(depth) * shape[0] * 4, "why": (
            f"{len(depth)} residual blocks' StochasticDepth each save a (N, 1, 1, 1) fp32 noise tensor "
            "(torchvision/ops/stochastic_depth.py); the spec has no stochastic depth")})
    return {"name": name, "spec": None, "library": name, "input": shape, "dtype": "fp32",
            **measure(model, torch.randn(*shape)), "explained": explained}


GPT2_SPEC = """\
name: gpt2_block_{impl}
input: {{T: 16, d: 64}}
layers:
  - type: residual
    name: attn_residual
    body:
      - {{type: layernorm, name: ln_1}}
      - {{type: attention, name: attn, heads: 4, qkv: packed, causal: true, projection: conv1d, fused: {impl}}}
      - {{type: dropout, name: resid_dropout, p: 0.1}}
  - type: residual
    name: mlp_residual
    body:
      - {{type: layernorm, name: ln_2}}
      - {{type: linear, name: c_fc, Cout: 256, form: conv1d}}
      - {{type: gelu, name: act}}
      - {{type: linear, name: c_proj, Cout: 64, form: conv1d}}
      - {{type: dropout, name: dropout, p: 0.1}}
"""


def gpt2_case(impl: str) -> dict:
    from transformers import GPT2Config
    from transformers.models.gpt2.modeling_gpt2 import GPT2Block

    torch.manual_seed(0)
    config = GPT2Config(n_embd=64, n_head=4, n_layer=1, n_positions=32, activation_function="gelu",
                        attn_pdrop=0.0, resid_pdrop=0.1, embd_pdrop=0.0)
    config._attn_implementation = impl
    block = GPT2Block(config, layer_idx=0)
    block.attn.resid_dropout = NativeDropout(0.1)
    block.mlp.dropout = NativeDropout(0.1)
    N, T, d = 2, 16, 64
    x = torch.randn(N, T, d)
    # None so far: calc's per-op sum equals the measured bytes (the CPU flash kernel returns its
    # output laid out as (N, T, H, hd), so c_proj's reshape is a view of the kernel's output;
    # eager attention multiplies by a Python float, which saves nothing).
    explained: list[dict] = []
    return {"name": f"gpt2_block_{impl}", "spec": GPT2_SPEC.format(impl=impl), "library": None,
            "input": [N, T, d], "dtype": "fp32", **measure(block, x), "explained": explained}


LLAMA_SPEC = """\
name: tiny_llama
input: {T: 16}
blocks:
  decoder_layer:
    params: {d: 64, heads: 4, ffn: 128}
    layers:
      - type: residual
        name: attn_residual
        body:
          - {type: rmsnorm, name: input_layernorm}
          - {type: attention, name: self_attn, heads: heads, qkv_bias: false, out_bias: false,
             causal: true, rotary: true}
      - type: residual
        name: mlp_residual
        body:
          - {type: rmsnorm, name: post_attention_layernorm}
          - type: sequential
            name: mlp
            layers:
              - type: parallel
                merge: mul
                branches:
                  gate_proj: {type: linear, Cout: ffn, bias: false, act: silu}
                  up_proj: {type: linear, Cout: ffn, bias: false}
              - {type: linear, name: down_proj, Cout: d, bias: false}
layers:
  - {type: embedding, name: embed_tokens, num_embeddings: 128, embedding_dim: 64}
  - {type: block, name: layers, block: decoder_layer, repeat: 2}
  - {type: rmsnorm, name: norm}
"""


class LastHidden(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=ids).last_hidden_state


def llama_case() -> dict:
    """transformers' LlamaModel, 2 layers (d 64, 4 heads, no GQA, SwiGLU 128), sdpa, ids (2, 16)."""
    from transformers import LlamaConfig, LlamaModel

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64)
    config._attn_implementation = "sdpa"
    model = LlamaModel(config)
    N, T, d, hd = 2, 16, 64, 16
    norms = [m for m in model.modules() if type(m).__name__ == "LlamaRMSNorm"]
    explained = [
        {"bytes": len(norms) * N * T * d * 4, "why": (
            f"transformers' LlamaRMSNorm is written in tensor operations: weight * (x * rsqrt(...)) "
            f"saves the normalised x as well, one (N, T, d) fp32 tensor more for each of the "
            f"{len(norms)} norms than the fused nn.RMSNorm (_fused_rms_norm) calc's rule follows")},
        {"bytes": 2 * T * hd * 4, "why": (
            "rotary embedding: q * cos + rotate_half(q) * sin saves cos and sin, (1, T, head_dim) "
            "fp32 each, shared by every layer; calc does not count them")},
    ]
    return {"name": "tiny_llama", "spec": LLAMA_SPEC, "library": None, "input": [N, T],
            "dtype": "fp32", **measure(LastHidden(model), torch.randint(0, 128, (N, T))),
            "explained": explained}


def single_ops() -> list[dict]:
    """One operation after a 1x1 conv (or a linear, for a sequence), so that its input needs a
    gradient: the rules for kinds the models above do not reach."""
    import torch.nn.functional as F

    class Fn(nn.Module):
        def __init__(self, fn) -> None:
            super().__init__()
            self.fn = fn

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fn(x)

    image = [  # (name, calc layer, torch module) on (2, 4, 6, 6)
        ("tanh", "{type: tanh}", nn.Tanh()),
        ("softmax", "{type: softmax, dim: 1}", nn.Softmax(dim=1)),
        ("elu", "{type: elu}", nn.ELU()),
        ("leaky_relu", "{type: leaky_relu, negative_slope: 0.1}", nn.LeakyReLU(0.1)),
        ("prelu", "{type: prelu}", nn.PReLU()),
        ("groupnorm", "{type: groupnorm, groups: 2}", nn.GroupNorm(2, 4)),
        ("instancenorm", "{type: instancenorm}", nn.InstanceNorm2d(4)),
        ("upsample_nearest", "{type: upsample, scale_factor: 2, mode: nearest}", nn.Upsample(scale_factor=2)),
        ("upsample_bilinear", "{type: upsample, scale_factor: 2, mode: bilinear, align_corners: false}",
         nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)),
        ("deconv", "{type: deconv, K: 3, Cout: 4, stride: 2}", nn.ConvTranspose2d(4, 4, 3, stride=2)),
        ("avgpool", "{type: avgpool, K: 2, stride: 2}", nn.AvgPool2d(2)),
        ("adaptive_avgpool", "{type: adaptive_avgpool, output_size: 2}", nn.AdaptiveAvgPool2d(2)),
        ("adaptive_maxpool", "{type: adaptive_maxpool, output_size: 2}", nn.AdaptiveMaxPool2d(2)),
        ("global_avgpool", "{type: adaptive_avgpool, output_size: 1}", nn.AdaptiveAvgPool2d(1)),
    ]
    cases = []
    for name, layer, module in image:
        torch.manual_seed(0)
        spec = (f"name: op_{name}\ninput: [4, 6, 6]\nlayers:\n  - {{type: conv, K: 1, Cout: 4, bias: false}}\n"
                f"  - {layer}\n")
        model = nn.Sequential(nn.Conv2d(4, 4, 1, bias=False), module)
        cases.append({"name": f"op_{name}", "spec": spec, "library": None, "input": [2, 4, 6, 6],
                      "dtype": "fp32", **measure(model, torch.randn(2, 4, 6, 6)), "explained": []})
    sequence = [  # on (2, 6, 8) after a linear
        ("rmsnorm", "{type: rmsnorm}", nn.RMSNorm(8)),
        ("layernorm", "{type: layernorm}", nn.LayerNorm(8)),
        ("softmax_last", "{type: softmax, dim: -1}", Fn(lambda x: F.softmax(x, -1))),
    ]
    for name, layer, module in sequence:
        torch.manual_seed(0)
        spec = (f"name: op_{name}\ninput: {{T: 6, d: 8}}\nlayers:\n  - {{type: linear, Cout: 8}}\n"
                f"  - {layer}\n")
        model = nn.Sequential(nn.Linear(8, 8), module)
        explained = []
        if name == "rmsnorm":
            explained.append({"bytes": 2 * 6 * 8 * 4, "why": (
                "on the CPU torch.rms_norm runs as composite ops (pow, mean, rsqrt, mul), which save "
                "the normalised input too, one (N, T, d) fp32 tensor; calc's rule is the fused kernel "
                "aten::_fused_rms_norm (FusedRmsNormBackward0: input, weight, result1 = rstd)")})
        cases.append({"name": f"op_{name}", "spec": spec, "library": None, "input": [2, 6, 8],
                      "dtype": "fp32", **measure(model, torch.randn(2, 6, 8)), "explained": explained})
    return cases


def main() -> int:
    import torchvision
    import transformers

    torch.use_deterministic_algorithms(True)
    cases = [conv_case(), *(library_case(*c) for c in LIBRARY), gpt2_case("eager"), gpt2_case("sdpa"),
             llama_case(), *single_ops()]
    data = {
        "source": "tools/oracle/memory.py: torch.autograd.graph.saved_tensors_hooks, deduplicated by storage",
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "transformers": transformers.__version__, "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    for c in cases:
        print(c["name"], c["saved_bytes"], c["tensors"], file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
