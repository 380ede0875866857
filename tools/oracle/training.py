#!/usr/bin/env python3
"""Oracle fixtures for LLM workloads: what real tools report for training (forward + backward),
activation recomputation, and prefill / decode with a KV cache.  Seeded; nothing downloaded.

Same environment and tool runners as tools/oracle/make_fixtures.py and the tiny Hugging Face
models of tools/oracle/hf_models.py (their builders are reused).  From the repository root:

    timeout 1200 /tmp/h1-venv/bin/python tools/oracle/training.py [--only part,part]
        [--ds-python /tmp/ds-venv/bin/python]

parts (each writes tests/fixtures/profilers/training/<file>.json):

* layers      -> layers.json: nn.Linear (bias or not, input requiring grad or not, 2-D / 3-D
                 input), a two-layer MLP whose first layer has no input gradient, nn.Conv2d,
                 nn.Embedding; FlopCounterMode around forward + backward of loss = out.sum().
* attention   -> attention.json: nn.MultiheadAttention (need_weights True / False),
                 F.scaled_dot_product_attention (default CPU backend and SDPBackend.MATH, causal
                 or not, grouped-query), an eager attention module; plus the figures FlopCounterMode
                 gives when the CPU flash kernels are mapped to its CUDA formulas (custom_mapping).
* training    -> hf_training_<model>_<attn>.json: tiny GPT-2 / Llama (GQA) / Mixtral, train mode,
                 one training step model(ids, labels=ids).loss.backward() on ids (2, 8).
* checkpoint  -> checkpoint.json: torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False)
                 and Hugging Face gradient_checkpointing_enable() on the tiny models.
* decode      -> decode_<model>_<attn>.json: eval, no_grad: prefill model(ids (2, 8),
                 use_cache=True), then one decode step model(ids (2, 1), cache=<prefill cache>);
                 FlopCounterMode, fvcore, ptflops (both backends), with the cache handed to the tool
                 and with the cache closed over by a wrapper; KV cache shapes and bytes, fp32 and bf16.
* deepspeed   -> deepspeed.json: DeepSpeed's flops profiler (get_model_profile / FlopsProfiler) on
                 the tiny models, run in a separate venv (--ds-python) as a subprocess; skipped (the
                 file left as it is) when that python has no deepspeed.

How forward and backward are told apart: two FlopCounterMode instances, one (`total`) around
forward + backward and one (`fwd`) nested inside it around the forward alone; backward =
total - fwd, per module and per op (both see the same ops: nested dispatch modes each count every
op once).  A third plain TorchDispatchMode logs the aten ops the backward dispatches (with whether
FlopCounterMode has a formula for them).  Findings: docs/notes/training-oracle.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import warnings
from collections import Counter, OrderedDict
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, flop_registry, sdpa_backward_flop_count, sdpa_flop_count

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_models as hm
import make_fixtures as mf

OUT = os.path.join(mf.REPO, "tests", "fixtures", "profilers", "training")
SCRIPT = "tools/oracle/training.py"
DS_PYTHON = "/tmp/ds-venv/bin/python"
PARTS = ("layers", "attention", "training", "checkpoint", "decode", "deepspeed")
aten = torch.ops.aten

# The CPU kernels F.scaled_dot_product_attention dispatches to (torch 2.14.1, CPU): no formula in
# torch/utils/flop_counter.py's flop_registry; mapped here to the formulas FlopCounterMode applies to
# the CUDA kernels (_scaled_dot_product_{flash,efficient,cudnn}_attention[_backward]) to show what
# the same step counts on a GPU.  The argument order (grad_out, q, k, v, ...) matches.


def _cuda_sdpa_fwd(q_shape, k_shape, v_shape, *args, out_shape=None, **kwargs) -> int:
    """= torch.utils.flop_counter.sdpa_flop (registered for the CUDA forward kernels)."""
    return sdpa_flop_count(q_shape, k_shape, v_shape)


def _cuda_sdpa_bwd(grad_out_shape, q_shape, k_shape, v_shape, *args, out_shape=None, **kwargs) -> int:
    """= torch.utils.flop_counter.sdpa_backward_flop (registered for the CUDA backward kernels)."""
    return sdpa_backward_flop_count(grad_out_shape, q_shape, k_shape, v_shape)


CUDA_SDPA_MAPPING = {
    aten._scaled_dot_product_flash_attention_for_cpu: _cuda_sdpa_fwd,
    aten._scaled_dot_product_flash_attention_for_cpu_backward: _cuda_sdpa_bwd,
}
CUDA_MAPPING_NOTE = ("FlopCounterMode(custom_mapping={aten._scaled_dot_product_flash_attention_for_cpu: "
                     "sdpa_flop_count(q, k, v), aten._scaled_dot_product_flash_attention_for_cpu_backward: "
                     "sdpa_backward_flop_count(grad_out, q, k, v)}) (torch.utils.flop_counter's own functions): the CUDA kernels' formulas applied to the CPU "
                     "kernels' shapes (what the tool counts for the same step on a GPU with the flash / efficient / "
                     "cudnn backends); not the tool's CPU default")


# --------------------------------------------------------------------------
# Counting helpers
# --------------------------------------------------------------------------


def _counts(fc: FlopCounterMode) -> OrderedDict:
    raw = fc.get_flop_counts()
    return OrderedDict((k, OrderedDict(sorted(((str(op), int(v)) for op, v in raw[k].items() if v))))
                       for k in sorted(raw))


def _minus(a: OrderedDict, b: OrderedDict) -> OrderedDict:
    """a - b per module and op (b must be contained in a); zero entries dropped."""
    out: OrderedDict = OrderedDict()
    for k in sorted(set(a) | set(b)):
        ops = OrderedDict()
        for op in sorted(set(a.get(k, {})) | set(b.get(k, {}))):
            v = a.get(k, {}).get(op, 0) - b.get(k, {}).get(op, 0)
            if v < 0:
                raise SystemExit(f"negative backward count {k} {op}: {v}")
            if v:
                ops[op] = v
        if ops:
            out[k] = ops
    return out


def _total(c: OrderedDict) -> int:
    return sum(c.get("Global", {}).values())


def _self(c: OrderedDict) -> OrderedDict:
    """Per module key: its count minus its direct children's (FlopCounterMode counts a module's ops
    in every ancestor); 'Global' minus the root key(s) = ops outside every module."""
    keys = [k for k in c if k != "Global"]
    out: OrderedDict = OrderedDict()
    for k in keys + ["Global"]:
        if k == "Global":
            kids = [x for x in keys if "." not in x]
        else:
            kids = [x for x in keys if x.startswith(k + ".") and "." not in x[len(k) + 1:]]
        tot = sum(c.get(k, {}).values()) - sum(sum(c[x].values()) for x in kids)
        if tot:
            out[k] = tot
    return out


def _ratio(b: int, f: int) -> Any:
    if f == 0:
        return None if b == 0 else "inf"
    r = Fraction(b, f)
    return OrderedDict(exact=f"{r.numerator}/{r.denominator}", value=round(b / f, 6))


BWD_ATTRIBUTION_NOTE = (
    "backward by_module is FlopCounterMode's own attribution (torch/utils/module_tracker.py:128-148): a module is "
    "entered when the gradient of its outputs arrives and left only when the gradients of ALL its inputs that "
    "require grad are complete (register_multi_grad_hook), so sibling modules fed one tensor (q/k/v projections, "
    "gate/up projections) are each credited with the others' backward ops (Llama: v_proj 8x its forward, k_proj 6x, "
    "up_proj 4x), and a module whose input needs no grad is never left; per-module backward figures are therefore "
    "not additive (self_by_module can be negative) and modules_where_backward_is_not_2x_forward lists such artefacts "
    "too; 'Global' (the totals and by_op) counts each op once and is exact")


class OpLog(TorchDispatchMode):
    """Counts the aten ops dispatched (by op), with the shapes of the mm-family / attention ops."""

    SHAPED = ("mm", "addmm", "bmm", "baddbmm", "convolution", "convolution_backward", "embedding_dense_backward")

    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter = Counter()
        self.shaped: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func)
        self.ops[name] += 1
        base = str(func._overloadpacket).replace("aten.", "")
        if base in self.SHAPED or base.startswith("_scaled_dot_product"):
            shapes = [list(a.shape) if isinstance(a, torch.Tensor) else None
                      for a in args if isinstance(a, torch.Tensor) or a is None]
            self.shaped[f"{name} {json.dumps(shapes)}"] += 1
        return func(*args, **(kwargs or {}))

    def record(self, registry: dict) -> OrderedDict:
        pk = {str(k) for k in registry}
        return OrderedDict(
            ops=OrderedDict((k, OrderedDict(calls=v, has_formula=k.rsplit(".", 1)[0] in pk))
                            for k, v in sorted(self.ops.items())),
            shaped_calls=OrderedDict(sorted(self.shaped.items())))


def measure(forward: Callable[[], torch.Tensor], custom_mapping: dict | None = None,
            log: bool = True, backward: bool = True) -> OrderedDict:
    """FlopCounterMode around forward (+ backward of the returned scalar)."""
    kw: dict = {"display": False}
    if custom_mapping:
        kw["custom_mapping"] = custom_mapping
    reg = {**flop_registry, **(custom_mapping or {})}
    total, fwd = FlopCounterMode(**kw), FlopCounterMode(**kw)
    flog, blog = OpLog(), OpLog()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with total:
            with fwd, (flog if log else contextlib.nullcontext()):
                loss = forward()
            if backward:
                with blog if log else contextlib.nullcontext():
                    loss.backward()
    fc, tc = _counts(fwd), _counts(total)
    bc = _minus(tc, fc)
    F_, B_ = _total(fc), _total(bc)
    res = OrderedDict(
        forward=OrderedDict(total=F_, by_op=fc.get("Global", {}), by_module=fc, self_by_module=_self(fc)))
    if backward:
        res["backward"] = OrderedDict(total=B_, by_op=bc.get("Global", {}), by_module_note=BWD_ATTRIBUTION_NOTE,
                                      by_module=bc, self_by_module=_self(bc))
        res["forward_plus_backward"] = _total(tc)
        res["backward_over_forward"] = _ratio(B_, F_)
        sf, sb = res["forward"]["self_by_module"], res["backward"]["self_by_module"]
        res["modules_where_backward_is_not_2x_forward"] = OrderedDict(
            (k, OrderedDict(forward=sf.get(k, 0), backward=sb.get(k, 0), ratio=_ratio(sb.get(k, 0), sf.get(k, 0))))
            for k in sorted(set(sf) | set(sb)) if sb.get(k, 0) != 2 * sf.get(k, 0))
    if log:
        res["aten_ops_forward"] = flog.record(reg)
        if backward:
            res["aten_ops_backward"] = blog.record(reg)
    return res


def versions() -> OrderedDict:
    v = OrderedDict(python=sys.version.split()[0], torch=torch.__version__,
                    transformers=mf._pkg_version("transformers"), fvcore=mf._pkg_version("fvcore"),
                    ptflops=mf._pkg_version("ptflops"))
    return v


def header(what: str) -> OrderedDict:
    return OrderedDict(
        generator=SCRIPT, versions=versions(), what=what,
        method=("two FlopCounterMode(display=False) instances: `total` around forward + loss.backward(), `fwd` nested "
                "inside it around the forward alone; backward = total - fwd per module key and per op (by_module "
                "keys are FlopCounterMode's own: root class name + dotted path; a module's count includes its "
                "children's; self_by_module = own count minus direct children's, 'Global' = outside every module); "
                "aten_ops_*: a plain TorchDispatchMode's log of every aten op dispatched (has_formula: the op is in "
                "torch/utils/flop_counter.py flop_registry; ops without one may still be counted through a "
                "decomposition, none does here); run on CPU, torch.set_num_threads(1), torch.manual_seed(0) before "
                "each build and input"))


def seeded(*shapes: tuple[int, ...], grad: bool | list[bool] = False) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(mf.SEED)
    grads = grad if isinstance(grad, list) else [grad] * len(shapes)
    return [torch.randn(*s, generator=g).requires_grad_(r) for s, r in zip(shapes, grads)]


# --------------------------------------------------------------------------
# (1) Small modules
# --------------------------------------------------------------------------


class EagerSelfAttention(nn.Module):
    """Hugging Face style eager attention: fused qkv Linear, q @ k^T * scale (+ causal additive
    mask), softmax, p @ v, output Linear."""

    def __init__(self, d: int = 64, h: int = 4, causal: bool = True) -> None:
        super().__init__()
        self.h, self.causal = h, causal
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x):
        n, t, d = x.shape
        q, k, v = self.qkv(x).view(n, t, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        s = torch.matmul(q, k.transpose(-1, -2)) * (d // self.h) ** -0.5
        if self.causal:
            s = s + torch.full((t, t), float("-inf")).triu(1)
        p = torch.softmax(s, dim=-1)
        o = torch.matmul(p, v).transpose(1, 2).reshape(n, t, d)
        return self.out(o)


class SDPA(nn.Module):
    def __init__(self, **kw) -> None:
        super().__init__()
        self.kw = kw

    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v, **self.kw)


class MHA(nn.Module):
    """nn.MultiheadAttention self-attention returning the attention output only."""

    def __init__(self, d: int, h: int, need_weights: bool) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(d, h, batch_first=True)
        self.need_weights = need_weights

    def forward(self, x):
        return self.attn(x, x, x, need_weights=self.need_weights)[0]


def _module_case(cid: str, ctor: str, factory: Callable[[], nn.Module], shapes: list[tuple[int, ...]],
                 grads: list[bool], note: str, ints: bool = False, backend: Any = None,
                 mappings: bool = False) -> OrderedDict:
    torch.manual_seed(mf.SEED)
    m = factory().train()
    if ints:
        g = torch.Generator().manual_seed(mf.SEED)
        inputs = [torch.randint(0, 1000, s, generator=g) for s in shapes]
    else:
        inputs = seeded(*shapes, grad=grads)

    def fwd():
        return m(*inputs).sum()

    ctx = (lambda: torch.nn.attention.sdpa_kernel(backend)) if backend is not None else contextlib.nullcontext
    with ctx():
        r = measure(fwd)
        alt = measure(fwd, CUDA_SDPA_MAPPING, log=False) if mappings else None
    e = OrderedDict(id=cid, module=ctor, params=sum(p.numel() for p in m.parameters()),
                    inputs=[OrderedDict(shape=list(s), dtype="int64" if ints else "float32",
                                        requires_grad=False if ints else gr) for s, gr in zip(shapes, grads)],
                    mode="train()", loss="model(*inputs).sum()",
                    sdpa_backend=None if backend is None else str(backend),
                    call=("with FlopCounterMode(display=False) as total: [with FlopCounterMode(display=False) as fwd: "
                          "loss = model(*inputs).sum()]; loss.backward()"),
                    note=note)
    e.update(r)
    if alt is not None:
        e["with_cuda_sdpa_formulas"] = OrderedDict(
            note=CUDA_MAPPING_NOTE, forward_total=alt["forward"]["total"], backward_total=alt["backward"]["total"],
            forward_by_op=alt["forward"]["by_op"], backward_by_op=alt["backward"]["by_op"],
            backward_over_forward=alt["backward_over_forward"])
    return e


def make_layers() -> OrderedDict:
    cases = []
    for bias in (True, False):
        for xg in (False, True):
            cases.append(_module_case(
                f"linear_{'bias' if bias else 'nobias'}_x{'grad' if xg else 'nograd'}",
                f"nn.Linear(64, 32, bias={bias})", lambda b=bias: nn.Linear(64, 32, bias=b), [(4, 64)], [xg],
                "x (4, 64): M=4, K=64, N=32; forward 2*M*K*N = 16384"))
    cases.append(_module_case("linear_bias_3d_xgrad", "nn.Linear(64, 32)", lambda: nn.Linear(64, 32),
                              [(2, 8, 64)], [True], "3-D input (batch 2, seq 8): aten.linear -> view + addmm"))
    cases.append(_module_case(
        "mlp_first_layer_no_input_grad", "nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 64))",
        lambda: nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 64)), [(2, 8, 64)], [False],
        "x does not require grad: layer 0 gets a weight gradient only, layer 2 weight + input gradients"))
    for bias in (True, False):
        for xg in (False, True):
            cases.append(_module_case(
                f"conv2d_{'bias' if bias else 'nobias'}_x{'grad' if xg else 'nograd'}",
                f"nn.Conv2d(3, 8, 3, padding=1, bias={bias})",
                lambda b=bias: nn.Conv2d(3, 8, 3, padding=1, bias=b), [(2, 3, 16, 16)], [xg],
                "forward 2*N*Cout*H*W*Cin*k*k = 2*2*8*16*16*3*9 = 221184"))
    cases.append(_module_case("conv2d_stack_first_no_input_grad",
                              "nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))",
                              lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                                    nn.Conv2d(8, 8, 3, padding=1)),
                              [(2, 3, 16, 16)], [False], "first conv: weight gradient only"))
    cases.append(_module_case("embedding", "nn.Embedding(1000, 64)", lambda: nn.Embedding(1000, 64),
                              [(2, 8)], [False], "int64 ids (2, 8): forward aten.embedding, backward "
                              "aten.embedding_dense_backward: neither has a formula", ints=True))
    doc = header("FlopCounterMode, training: forward and backward FLOPs of single layers")
    doc["cases"] = cases
    return doc


def make_attention() -> OrderedDict:
    from torch.nn.attention import SDPBackend

    cases = []
    for nw in (True, False):
        for xg in (False, True):
            cases.append(_module_case(
                f"mha_need_weights_{str(nw).lower()}_x{'grad' if xg else 'nograd'}",
                f"nn.MultiheadAttention(64, 4, batch_first=True); attn(x, x, x, need_weights={nw})[0]",
                lambda nw=nw: MHA(64, 4, nw), [(2, 8, 64)], [xg],
                "need_weights=True: explicit bmm / baddbmm path; False: F.scaled_dot_product_attention "
                "(torch/nn/functional.py multi_head_attention_forward)", mappings=not nw))
    q4, kv4, kv2 = (2, 4, 8, 16), (2, 4, 8, 16), (2, 2, 8, 16)
    for be in (None, SDPBackend.MATH):
        for causal in (False, True):
            for gqa in (False, True):
                kvs = kv2 if gqa else kv4
                kw = dict(is_causal=causal, **({"enable_gqa": True} if gqa else {}))
                cases.append(_module_case(
                    f"sdpa_{'math' if be is not None else 'default'}_{'causal' if causal else 'full'}"
                    f"{'_gqa' if gqa else ''}",
                    "F.scaled_dot_product_attention(q, k, v, " + ", ".join(f"{k}={v}" for k, v in kw.items()) + ")",
                    lambda kw=kw: SDPA(**kw), [q4, kvs, kvs], [True, True, True],
                    ("q (2, 4, 8, 16), k/v " + str(kvs) + "; forward formula (sdpa_flop_count) 2 bmm = "
                     "2 * 2*B*Hq*Sq*Sk*D; default backend on CPU = aten._scaled_dot_product_flash_attention_for_cpu"),
                    backend=be, mappings=be is None))
    for causal in (False, True):
        cases.append(_module_case(
            f"eager_attention_{'causal' if causal else 'full'}_xgrad",
            f"tools/oracle/training.py:EagerSelfAttention(64, 4, causal={causal})",
            lambda c=causal: EagerSelfAttention(64, 4, c), [(2, 8, 64)], [True],
            "qkv Linear 64->192, matmul q k^T, softmax, matmul p v, out Linear 64->64"))
    cases.append(_module_case(
        "eager_attention_causal_xnograd", "tools/oracle/training.py:EagerSelfAttention(64, 4, causal=True)",
        lambda: EagerSelfAttention(64, 4, True), [(2, 8, 64)], [False],
        "as the first layer of a network: the qkv Linear gets no input gradient"))
    doc = header("FlopCounterMode, training: attention modules and F.scaled_dot_product_attention")
    doc["cases"] = cases
    return doc


# --------------------------------------------------------------------------
# (1b) Tiny Hugging Face models, one training step
# --------------------------------------------------------------------------

TRAIN_MODELS = ("gpt2", "llama", "mixtral")
CONV_NOTE = ("transformers 5.24.0 accepts `cache=` (it warns that `past_key_values` is deprecated); model outputs "
             "still expose .past_key_values")


def hf_model(name: str, attn: str, use_cache: bool, train: bool, dtype: torch.dtype | None = None,
             checkpointing: bool = False) -> nn.Module:
    cfg_cls, model_cls, cfg, kw = hm.TINY[name]
    extra = OrderedDict(attn_implementation=attn, use_cache=use_cache)
    if name == "mixtral":
        extra["experts_implementation"] = hm.EXPERTS_IMPL
    torch.manual_seed(mf.SEED)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        m = model_cls(cfg_cls(**cfg, **extra), **kw)
    if dtype is not None:
        m = m.to(dtype)
    if checkpointing:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # transformers 5.24 calls it deprecated (activation_checkpointing_enable)
            m.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return m.train(train)


def _model_desc(name: str, attn: str, use_cache: bool) -> OrderedDict:
    cfg_cls, model_cls, cfg, _kw = hm.TINY[name]
    extra = OrderedDict(attn_implementation=attn, use_cache=use_cache)
    if name == "mixtral":
        extra["experts_implementation"] = hm.EXPERTS_IMPL
    return OrderedDict(model_class=f"transformers.{model_cls.__name__}", config=cfg, config_extra=extra,
                       constructor=(f"torch.manual_seed(0); transformers.{model_cls.__name__}(transformers."
                                    f"{cfg_cls.__name__}(**config, **config_extra))  (tools/oracle/hf_models.py TINY)"))


def _ids(shape: tuple[int, ...]) -> torch.Tensor:
    return hm.token_ids([shape])[0]


def _linear_shapes(m: nn.Module) -> OrderedDict:
    out = OrderedDict()
    for n, mod in m.named_modules():
        if isinstance(mod, nn.Linear):
            out[n] = [mod.in_features, mod.out_features, mod.bias is not None]
        elif type(mod).__name__ == "Conv1D":
            out[n] = [mod.weight.shape[0], mod.nf, True]
    return out


def make_hf_training(name: str, attn: str) -> OrderedDict:
    m = hf_model(name, attn, use_cache=False, train=True)
    ids = _ids((hm.BATCH, hm.SEQ))

    def step():
        torch.manual_seed(mf.SEED)  # dropout masks
        return m(ids, labels=ids).loss

    r = measure(step)
    m2 = hf_model(name, attn, use_cache=False, train=True)

    def step2():
        torch.manual_seed(mf.SEED)
        return m2(ids, labels=ids).loss

    alt = measure(step2, CUDA_SDPA_MAPPING, log=False) if attn == "sdpa" else None
    e = OrderedDict(id=f"{name}_{attn}", **_model_desc(name, attn, False))
    e.update(
        params=sum(p.numel() for p in m.parameters()),
        linear_layers_in_out_bias=_linear_shapes(m),
        input=OrderedDict(shape=[hm.BATCH, hm.SEQ], dtype="int64", ids=ids.tolist(),
                          how="torch.randint(0, 1000, (2, 8), generator=torch.Generator().manual_seed(0))"),
        mode="train() (dropout on; torch.manual_seed(0) before the step)",
        call=("with FlopCounterMode(display=False) as total: [with FlopCounterMode(display=False) as fwd: "
              "loss = model(ids, labels=ids).loss]; loss.backward()"),
        versions=versions(), generator=SCRIPT)
    e.update(r)
    if alt is not None:
        e["with_cuda_sdpa_formulas"] = OrderedDict(
            note=CUDA_MAPPING_NOTE, forward_total=alt["forward"]["total"], backward_total=alt["backward"]["total"],
            forward_by_op=alt["forward"]["by_op"], backward_by_op=alt["backward"]["by_op"],
            backward_over_forward=alt["backward_over_forward"],
            modules_where_backward_is_not_2x_forward=alt["modules_where_backward_is_not_2x_forward"])
    return e


# --------------------------------------------------------------------------
# (2) Activation recomputation
# --------------------------------------------------------------------------


def _sac_policy(ctx, func, *args, **kwargs):
    """Selective checkpointing: keep the outputs of the Linear matmuls, recompute the rest
    (attention core, activations): Megatron-LM's 'selective' recomputation in spirit."""
    from torch.utils.checkpoint import CheckpointPolicy

    if func in (aten.mm.default, aten.addmm.default):
        return CheckpointPolicy.MUST_SAVE
    return CheckpointPolicy.PREFER_RECOMPUTE


CKPT_VARIANTS = OrderedDict(
    plain="no checkpoint",
    full_early_stop=("torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False)  # early_stop=True, the "
                     "default (torch/utils/checkpoint.py:549-553: recomputation stops once every tensor the backward "
                     "needs is recomputed)"),
    full_no_early_stop=("with torch.utils.checkpoint.set_checkpoint_early_stop(False): "
                        "checkpoint(block, x, use_reentrant=False)"),
    selective=("checkpoint(block, x, use_reentrant=False, context_fn=functools.partial("
               "torch.utils.checkpoint.create_selective_checkpoint_contexts, policy)) with policy: aten.mm / aten.addmm "
               "-> MUST_SAVE, everything else -> PREFER_RECOMPUTE"),
)


class Net(nn.Module):
    """first Linear (input without grad), a block (optionally checkpointed), a head Linear."""

    def __init__(self, block: nn.Module, variant: str) -> None:
        super().__init__()
        self.first = nn.Linear(64, 64)
        self.block = block
        self.head = nn.Linear(64, 64)
        self.variant = variant

    def forward(self, x):
        import functools

        from torch.utils.checkpoint import checkpoint, create_selective_checkpoint_contexts, set_checkpoint_early_stop

        x = self.first(x)
        v = self.variant
        if v == "plain":
            x = self.block(x)
        elif v == "full_early_stop":
            x = checkpoint(self.block, x, use_reentrant=False)
        elif v == "full_no_early_stop":
            with set_checkpoint_early_stop(False):
                x = checkpoint(self.block, x, use_reentrant=False)
        else:
            x = checkpoint(self.block, x, use_reentrant=False,
                           context_fn=functools.partial(create_selective_checkpoint_contexts, _sac_policy))
        return self.head(x)


def _extra(c: OrderedDict, p: OrderedDict) -> OrderedDict:
    return OrderedDict(forward=c["forward"]["total"] - p["forward"]["total"],
                       backward=c["backward"]["total"] - p["backward"]["total"],
                       backward_by_op=_diff_ops(c["backward"]["by_op"], p["backward"]["by_op"]))


def make_checkpoint() -> OrderedDict:
    from torch.utils.checkpoint import set_checkpoint_early_stop

    blocks = OrderedDict(
        mlp=("nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 64))",
             lambda: nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 64))),
        eager_attention=("tools/oracle/training.py:EagerSelfAttention(64, 4, causal=True)",
                         lambda: EagerSelfAttention(64, 4, True)))
    cases = []
    for bid, (desc, fac) in blocks.items():
        runs = OrderedDict()
        for v in CKPT_VARIANTS:
            torch.manual_seed(mf.SEED)
            net = Net(fac(), v).train()
            (x,) = seeded((2, 8, 64))
            runs[v] = measure(lambda net=net, x=x: net(x).sum())
        p = runs["plain"]
        blk_fwd = sum(p["forward"]["by_module"].get("Net.block", {}).values())
        cases.append(OrderedDict(
            id=f"checkpoint_{bid}",
            module=f"tools/oracle/training.py:Net(block={desc}): first Linear(64, 64) -> block -> head Linear(64, 64)",
            input=OrderedDict(shape=[2, 8, 64], requires_grad=False),
            variants=CKPT_VARIANTS, loss="net(x).sum()",
            block_forward=blk_fwd, block_forward_by_op=p["forward"]["by_module"].get("Net.block", {}),
            extra_over_plain=OrderedDict((v, _extra(runs[v], p)) for v in CKPT_VARIANTS if v != "plain"),
            runs=runs))
    hf_cases = []
    for name in ("gpt2", "llama"):
        runs = OrderedDict()
        for v in ("plain", "full_early_stop", "full_no_early_stop"):
            m = hf_model(name, "eager", use_cache=False, train=True, checkpointing=v != "plain")
            ids = _ids((hm.BATCH, hm.SEQ))

            def step(m=m, v=v, ids=ids):
                torch.manual_seed(mf.SEED)
                with set_checkpoint_early_stop(v != "full_no_early_stop"):
                    return m(ids, labels=ids).loss
            runs[v] = measure(step, log=False)
        p = runs["plain"]
        layers_key = {"gpt2": "GPT2LMHeadModel.transformer.h", "llama": "LlamaForCausalLM.model.layers"}[name]
        hf_cases.append(OrderedDict(
            id=f"hf_{name}_eager_gradient_checkpointing",
            **_model_desc(name, "eager", False),
            call=("model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={'use_reentrant': False}) "
                  "(each decoder layer checkpointed); model.train(); loss = model(ids (2, 8), labels=ids).loss; "
                  "loss.backward(); full_no_early_stop: the forward inside set_checkpoint_early_stop(False)"),
            decoder_layers_key=layers_key,
            decoder_layers_forward=sum(p["forward"]["by_module"].get(layers_key, {}).values()),
            decoder_layers_forward_by_op=p["forward"]["by_module"].get(layers_key, {}),
            extra_over_plain=OrderedDict((v, _extra(runs[v], p)) for v in runs if v != "plain"),
            runs=OrderedDict((v, _brief(r)) for v, r in runs.items())))
    doc = header("activation recomputation (torch.utils.checkpoint, use_reentrant=False) under FlopCounterMode")
    doc["cases"] = cases
    doc["hf_cases"] = hf_cases
    return doc


def _diff_ops(a: dict, b: dict) -> OrderedDict:
    return OrderedDict((k, a.get(k, 0) - b.get(k, 0)) for k in sorted(set(a) | set(b)) if a.get(k, 0) != b.get(k, 0))


def _brief(r: OrderedDict) -> OrderedDict:
    keep = ("forward", "backward", "forward_plus_backward", "backward_over_forward")
    out = OrderedDict((k, r[k]) for k in keep if k in r)
    return out


# --------------------------------------------------------------------------
# (3) Prefill and decode with a KV cache
# --------------------------------------------------------------------------

DECODE_MODELS = ("gpt2", "llama", "mixtral", "mistral")


class Phase(nn.Module):
    """The model plus, for decode, the cache its own prefill made (built in __init__, outside any
    tool); forward(ids) returns the logits only, so that tracing tools see a tensor in and out."""

    def __init__(self, name: str, attn: str, phase: str, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.model = hf_model(name, attn, use_cache=True, train=False, dtype=dtype)
        self.phase = phase
        self.cache = None
        if phase == "decode":
            with torch.no_grad():
                self.cache = self.model(_ids((hm.BATCH, hm.SEQ)), use_cache=True).past_key_values

    def forward(self, ids):
        if self.phase == "prefill":
            return self.model(ids, use_cache=True).logits
        return self.model(ids, cache=self.cache, use_cache=True).logits


class DecodeArgs(nn.Module):
    """forward(ids, cache): the cache handed to the tool as an input."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids, cache):
        return self.model(ids, cache=cache, use_cache=True).logits


def _kv(cache) -> OrderedDict:
    layers = []
    for i, l in enumerate(cache.layers):
        k, v = l.keys, l.values
        layers.append(OrderedDict(
            layer=i, cls=type(l).__name__, sliding_window=getattr(l, "sliding_window", None),
            keys_shape=list(k.shape), values_shape=list(v.shape), dtype=str(k.dtype).replace("torch.", ""),
            element_size=k.element_size(), bytes=k.numel() * k.element_size() + v.numel() * v.element_size()))
    return OrderedDict(layers=layers, total_bytes=sum(x["bytes"] for x in layers),
                       tokens_held=layers[0]["keys_shape"][2] if layers else 0)


def _flops_phase(model: nn.Module, ids: torch.Tensor, cache=None,
                 mapping: dict | None = None) -> tuple[OrderedDict, Any]:
    kw: dict = {"display": False}
    if mapping:
        kw["custom_mapping"] = mapping
    fc, log = FlopCounterMode(**kw), OpLog()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        with fc, log:
            if cache is None:
                out = model(ids, use_cache=True)
            else:
                out = model(ids, cache=cache, use_cache=True)
    c = _counts(fc)
    res = OrderedDict(total=_total(c), by_op=c.get("Global", {}), by_module=c, self_by_module=_self(c))
    if mapping is None:
        res["aten_ops"] = log.record(flop_registry)
    return res, out


def _tool_direct(tool: str, model: nn.Module, ids: torch.Tensor, cache) -> OrderedDict:
    """The cache handed to the tool itself."""
    snap = mf._snapshot_torch()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            if tool == "fvcore":
                from fvcore.nn import FlopCountAnalysis

                fca = FlopCountAnalysis(DecodeArgs(model), (ids, cache))
                fca.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
                return OrderedDict(call="FlopCountAnalysis(DecodeArgs(model), (ids, cache)).total()  # DecodeArgs."
                                        "forward(ids, cache) = model(ids, cache=cache, use_cache=True).logits",
                                   total=fca.total(), by_operator=dict(fca.by_operator()))
            import ptflops

            backend = tool.split("_", 1)[1]
            macs, params = ptflops.get_model_complexity_info(
                model, (1,), input_constructor=lambda _r: {"input_ids": ids, "cache": cache, "use_cache": True},
                as_strings=False, print_per_layer_stat=False, verbose=False, backend=backend)
            return OrderedDict(call=(f"ptflops.get_model_complexity_info(model, (1,), input_constructor=lambda r: "
                                     f"dict(input_ids=ids, cache=cache, use_cache=True), as_strings=False, "
                                     f"print_per_layer_stat=False, backend='{backend}')"),
                               macs=macs, params=params)
    except Exception as ex:  # noqa: BLE001  (any tool failure is recorded, not fatal)
        msg = f"{type(ex).__name__}: {ex}"
        return OrderedDict(error=hm._scrub(msg.split("\n")[0][:600]))
    finally:
        mf._restore_torch(snap)


def make_decode(name: str, attn: str) -> OrderedDict:
    ids = _ids((hm.BATCH, hm.SEQ))
    nxt = _ids((hm.BATCH, 1))
    e = OrderedDict(id=f"{name}_{attn}", **_model_desc(name, attn, True))
    e.update(
        input=OrderedDict(
            prefill=OrderedDict(shape=[hm.BATCH, hm.SEQ], ids=ids.tolist(),
                                how="torch.randint(0, 1000, (2, 8), generator=torch.Generator().manual_seed(0))"),
            decode=OrderedDict(shape=[hm.BATCH, 1], ids=nxt.tolist(),
                               how="torch.randint(0, 1000, (2, 1), generator=torch.Generator().manual_seed(0))")),
        mode="eval(), torch.no_grad()",
        calls=OrderedDict(prefill="out = model(ids, use_cache=True)",
                          decode="model(next_ids, cache=out.past_key_values, use_cache=True)", note=CONV_NOTE),
        versions=versions(), generator=SCRIPT)
    m = hf_model(name, attn, use_cache=True, train=False)
    cfg = m.config
    e["model_dims"] = OrderedDict(
        layers=cfg.num_hidden_layers, hidden=cfg.hidden_size, heads=cfg.num_attention_heads,
        kv_heads=getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads,
        head_dim=getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads,
        sliding_window=getattr(cfg, "sliding_window", None), vocab=cfg.vocab_size)
    pre, out = _flops_phase(m, ids)
    cache = out.past_key_values
    kv_pre = _kv(cache)
    dec, out2 = _flops_phase(m, nxt, cache)
    kv_dec = _kv(out2.past_key_values)
    fc = OrderedDict(tool="torch_flop_counter", call="with FlopCounterMode(display=False), torch.no_grad(): <call>",
                     prefill=pre, decode=dec)
    if attn == "sdpa":
        m2 = hf_model(name, attn, use_cache=True, train=False)
        p2, o2 = _flops_phase(m2, ids, mapping=CUDA_SDPA_MAPPING)
        d2, _ = _flops_phase(m2, nxt, o2.past_key_values, mapping=CUDA_SDPA_MAPPING)
        fc["with_cuda_sdpa_formulas"] = OrderedDict(
            note=CUDA_MAPPING_NOTE, prefill_total=p2["total"], prefill_by_op=p2["by_op"],
            decode_total=d2["total"], decode_by_op=d2["by_op"])
    e["flop_counter"] = fc
    # the same runs in bf16: cache bytes, and the counts (dtype-blind)
    mb = hf_model(name, attn, use_cache=True, train=False, dtype=torch.bfloat16)
    pb, ob = _flops_phase(mb, ids)
    kv_pre_bf16 = _kv(ob.past_key_values)
    db, ob2 = _flops_phase(mb, nxt, ob.past_key_values)
    dims = e["model_dims"]
    e["kv_cache"] = OrderedDict(
        formula=("per layer bytes = 2 (K and V) x batch x kv_heads x head_dim x tokens_held x element_size; "
                 "tokens_held = tokens so far, or sliding_window - 1 for a DynamicSlidingWindowLayer (it keeps "
                 "the last window-1 tokens between calls)"),
        fp32=OrderedDict(after_prefill=kv_pre, after_decode=kv_dec),
        bf16=OrderedDict(after_prefill=kv_pre_bf16, after_decode=_kv(ob2.past_key_values),
                         flop_counter_prefill_total=pb["total"], flop_counter_decode_total=db["total"]),
        formula_check=OrderedDict(
            (lbl, all(L["bytes"] == 2 * hm.BATCH * dims["kv_heads"] * dims["head_dim"] * L["keys_shape"][2]
                      * L["element_size"] for L in kv["layers"]))
            for lbl, kv in (("fp32_prefill", kv_pre), ("fp32_decode", kv_dec), ("bf16_prefill", kv_pre_bf16))))
    # other tools: through Phase (cache closed over) with make_fixtures' runners, and with the cache as input
    tools = OrderedDict()
    mf.make_inputs = lambda shapes: [_ids(tuple(s)) for s in shapes]
    for t in ("torch_flop_counter", "fvcore", "ptflops_pytorch", "ptflops_aten"):
        for ph, shape in (("prefill", (hm.BATCH, hm.SEQ)), ("decode", (hm.BATCH, 1))):
            r = mf.safe(mf.TOOLS[t], lambda ph=ph: Phase(name, attn, ph), [shape], with_layers=True)
            if "traceback" in r:
                r["traceback"] = hm._scrub(r["traceback"])
            r["through"] = (f"tools/oracle/training.py:Phase('{ph}'): forward(ids) -> model(ids"
                            + (", cache=<its own prefill cache>" if ph == "decode" else "")
                            + ", use_cache=True).logits; make_fixtures.py runner")
            tools[f"{t}/{ph}"] = r
        if t != "torch_flop_counter":
            md = hf_model(name, attn, use_cache=True, train=False)
            with torch.no_grad():
                cd = md(ids, use_cache=True).past_key_values
            tools[f"{t}/decode_cache_as_input"] = _tool_direct(t, md, nxt, cd)
    e["tools"] = tools
    e["headline"] = OrderedDict((k, mf._headline(k.split("/")[0], v)) for k, v in tools.items())
    return e


# --------------------------------------------------------------------------
# (4) DeepSpeed flops profiler (separate venv, subprocess)
# --------------------------------------------------------------------------

DS_MODELS = (("gpt2", "eager"), ("gpt2", "sdpa"), ("llama", "eager"), ("llama", "sdpa"), ("mixtral", "eager"))


def ds_worker(path: str) -> None:
    """Runs inside the DeepSpeed venv; writes its JSON to `path`."""
    import deepspeed
    from deepspeed.profiling.flops_profiler import FlopsProfiler, get_model_profile

    res = OrderedDict(deepspeed=deepspeed.__version__, models=[])
    ids, nxt = _ids((hm.BATCH, hm.SEQ)), _ids((hm.BATCH, 1))
    for name, attn in DS_MODELS:
        e = OrderedDict(id=f"{name}_{attn}", **_model_desc(name, attn, True))
        with contextlib.redirect_stdout(io.StringIO()):
            m = hf_model(name, attn, use_cache=True, train=False)
            flops, macs, params = get_model_profile(m, args=[ids], kwargs={"use_cache": False}, print_profile=False,
                                                    as_string=False, warm_up=1)
        e["get_model_profile_forward"] = OrderedDict(
            call=("get_model_profile(model, args=[ids], kwargs={'use_cache': False}, print_profile=False, "
                  "as_string=False, warm_up=1)  # eval() forced by get_model_profile"),
            flops=flops, macs=macs, params=params)
        # per module, forward in train mode (as in a training step), the profiler's own accumulators
        m = hf_model(name, attn, use_cache=False, train=True)
        prof = FlopsProfiler(m)
        prof.start_profile()
        torch.manual_seed(mf.SEED)
        loss = m(ids, labels=ids).loss
        per = OrderedDict()
        for n, mod in m.named_modules():
            if getattr(mod, "__flops__", 0) or getattr(mod, "__macs__", 0):
                per[n or "<root>"] = [int(mod.__flops__), int(mod.__macs__)]
        e["train_forward_with_labels"] = OrderedDict(
            call=("prof = FlopsProfiler(model); prof.start_profile(); loss = model(ids, labels=ids).loss; "
                  "prof.get_total_flops(), prof.get_total_macs(); module.__flops__ / __macs__ (own functionals only, "
                  "children excluded); model.train()"),
            flops=prof.get_total_flops(), macs=prof.get_total_macs(),
            own_flops_macs_by_module=per)
        prof.end_profile()
        loss.backward()
        e["train_forward_with_labels"]["backward_rule"] = (
            "not measured: print_model_profile prints bwd as bwd_factor * fwd flops with bwd_factor = 2 + "
            "recompute_fwd_factor, only with a DeepSpeed engine and wall_clock_breakdown "
            "(deepspeed/profiling/flops_profiler/profiler.py:378-388)")
        e["train_forward_with_labels"]["derived_backward"] = 2 * e["train_forward_with_labels"]["flops"]
        # prefill and decode
        with contextlib.redirect_stdout(io.StringIO()):
            m = hf_model(name, attn, use_cache=True, train=False)
            pf, pm, _ = get_model_profile(m, args=[ids], kwargs={"use_cache": True}, print_profile=False,
                                          as_string=False, warm_up=0)
            with torch.no_grad():
                cache = m(ids, use_cache=True).past_key_values
            df, dm, _ = get_model_profile(m, args=[nxt], kwargs={"cache": cache, "use_cache": True},
                                          print_profile=False, as_string=False, warm_up=0)
        e["prefill"] = OrderedDict(call="get_model_profile(model, args=[ids (2, 8)], kwargs={'use_cache': True}, "
                                        "print_profile=False, as_string=False, warm_up=0)", flops=pf, macs=pm)
        e["decode"] = OrderedDict(call=("get_model_profile(model, args=[next_ids (2, 1)], kwargs={'cache': <cache of "
                                        "model(ids, use_cache=True)>, 'use_cache': True}, print_profile=False, "
                                        "as_string=False, warm_up=0)"), flops=df, macs=dm)
        res["models"].append(e)
    mf.write_json(path, res)


def make_deepspeed(ds_python: str) -> OrderedDict | None:
    if not os.path.exists(ds_python):
        print(f"deepspeed: {ds_python} missing: skipped (deepspeed.json left as it is)", flush=True)
        return None
    with tempfile.TemporaryDirectory() as td:
        p = os.path.join(td, "ds.json")
        r = subprocess.run([ds_python, os.path.abspath(__file__), "--ds-worker", p], capture_output=True, text=True,
                           timeout=900, cwd=mf.REPO, check=False)
        if r.returncode != 0 or not os.path.exists(p):
            print(f"deepspeed: worker failed ({r.returncode}): {r.stderr[-2000:]}", flush=True)
            return None
        with open(p) as fh:
            ds = json.load(fh, object_pairs_hook=OrderedDict)
    doc = OrderedDict(
        generator=SCRIPT, versions=OrderedDict(versions(), deepspeed=ds["deepspeed"]),
        install=("python -m venv --system-site-packages /tmp/ds-venv (from /tmp/h1-venv's python); a .pth file adds "
                 "/tmp/h1-venv's site-packages (torch 2.14.1, transformers 5.24.0); pip install wheel setuptools; "
                 "DS_BUILD_OPS=0 pip install --no-build-isolation deepspeed (sdist, no op compiled: about 1 min; "
                 "without --no-build-isolation + wheel it fails with \"invalid command 'bdist_wheel'\")"),
        what=("DeepSpeed flops profiler (forward only: patched torch.nn.functional / torch / Tensor methods, "
              "deepspeed/profiling/flops_profiler/profiler.py) on the tiny models of tools/oracle/hf_models.py"),
        input=OrderedDict(prefill=_ids((hm.BATCH, hm.SEQ)).tolist(), decode=_ids((hm.BATCH, 1)).tolist()),
        models=ds["models"])
    return doc


# --------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts of {PARTS}")
    ap.add_argument("--ds-python", default=DS_PYTHON)
    ap.add_argument("--ds-worker", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    torch.set_num_threads(1)
    import transformers
    transformers.logging.set_verbosity_error()
    if a.ds_worker:
        ds_worker(a.ds_worker)
        return
    parts = [p for p in a.only.split(",") if p]
    for p in parts:
        if p not in PARTS:
            raise SystemExit(f"--only: unknown part {p!r} (expected one of {PARTS})")
    if "layers" in parts:
        d = make_layers()
        mf.write_json(os.path.join(OUT, "layers.json"), d)
        for c in d["cases"]:
            print(f"layers/{c['id']}: fwd={c['forward']['total']} bwd={c['backward']['total']} "
                  f"ratio={c['backward_over_forward']}", flush=True)
    if "attention" in parts:
        d = make_attention()
        mf.write_json(os.path.join(OUT, "attention.json"), d)
        for c in d["cases"]:
            alt = c.get("with_cuda_sdpa_formulas")
            print(f"attention/{c['id']}: fwd={c['forward']['total']} bwd={c['backward']['total']} "
                  f"ratio={c['backward_over_forward']}"
                  + (f" cuda: {alt['forward_total']}/{alt['backward_total']}" if alt else ""), flush=True)
    if "training" in parts:
        for name in TRAIN_MODELS:
            for attn in hm.ATTNS:
                e = make_hf_training(name, attn)
                mf.write_json(os.path.join(OUT, f"hf_training_{name}_{attn}.json"), e)
                alt = e.get("with_cuda_sdpa_formulas")
                print(f"training/{e['id']}: fwd={e['forward']['total']} bwd={e['backward']['total']} "
                      f"ratio={e['backward_over_forward']}"
                      + (f" cuda: {alt['forward_total']}/{alt['backward_total']}" if alt else ""), flush=True)
    if "checkpoint" in parts:
        d = make_checkpoint()
        mf.write_json(os.path.join(OUT, "checkpoint.json"), d)
        for c in d["cases"] + d["hf_cases"]:
            print(f"checkpoint/{c['id']}: " + json.dumps({v: x["backward"] for v, x in c["extra_over_plain"].items()}), flush=True)
    if "decode" in parts:
        for name in DECODE_MODELS:
            for attn in hm.ATTNS:
                e = make_decode(name, attn)
                mf.write_json(os.path.join(OUT, f"decode_{name}_{attn}.json"), e)
                fc = e["flop_counter"]
                print(f"decode/{e['id']}: prefill={fc['prefill']['total']} decode={fc['decode']['total']} "
                      f"kv={e['kv_cache']['fp32']['after_prefill']['total_bytes']} "
                      + json.dumps(e["headline"]), flush=True)
    if "deepspeed" in parts:
        d = make_deepspeed(a.ds_python)
        if d is not None:
            mf.write_json(os.path.join(OUT, "deepspeed.json"), d)
            for m in d["models"]:
                print(f"deepspeed/{m['id']}: fwd={m['get_model_profile_forward']['flops']} "
                      f"macs={m['get_model_profile_forward']['macs']} prefill={m['prefill']['flops']} "
                      f"decode={m['decode']['flops']}", flush=True)


if __name__ == "__main__":
    main()
