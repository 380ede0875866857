#!/usr/bin/env python3
"""Generate the profiler oracle fixtures for flopcalc.

This script is an *oracle*: it runs the real third-party tools (torch,
torchvision, thop, ultralytics-thop, fvcore, ptflops, torchinfo, calflops)
and writes their exact figures as JSON so that the flopcalc test-suite (which
never imports torch) can check its emulations against them.  Nothing here is a
runtime or test dependency of the package.

How to run
----------
Use a dedicated virtualenv OUTSIDE the repository::

    python3 -m venv /work/oracle-venv
    /work/oracle-venv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /work/oracle-venv/bin/pip install thop==0.1.1.post2209072238 fvcore==0.1.5.post20221221 \
        ptflops==0.7.5 torchinfo==1.8.0 calflops==0.3.2 transformers
    # ultralytics-thop installs a top-level package also called `thop`, which
    # would clobber thop 0.1.1; keep it in its own directory instead:
    /work/oracle-venv/bin/pip install --no-deps --target /work/oracle-venv/uthop ultralytics-thop==2.2.3

(calflops imports `transformers` at import time even for plain CNNs, hence
that extra install.)  Then, from the repository root::

    /work/oracle-venv/bin/python tools/oracle/make_fixtures.py            # everything
    /work/oracle-venv/bin/python tools/oracle/make_fixtures.py --only layers
    /work/oracle-venv/bin/python tools/oracle/make_fixtures.py --only models --models resnet50
    /work/oracle-venv/bin/python tools/oracle/make_fixtures.py --uthop-dir /path/to/uthop

Outputs
-------
* ``tests/fixtures/torchvision/<model>.json`` -- ground-truth shapes, params,
  buffers and conv/linear MACs per leaf module (computed from shapes).
* ``tests/fixtures/profilers/<tool>/<model>.json`` -- each tool's figures.
* ``tests/fixtures/profilers/layers.json`` -- every tool on single layers.

Everything is seeded (torch.manual_seed(0) before each model build and a
seeded generator for inputs); no figure depends on weight values anyway.  Every
tool gets a freshly built model, because several tools leave hooks, buffers or
attributes behind on the model they profile.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata as md
import io
import json
import math
import os
import sys
import traceback
import warnings
from collections import OrderedDict, defaultdict
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torch.overrides import TorchFunctionMode

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_UTHOP_DIR = os.path.join(os.path.dirname(os.path.dirname(sys.executable)), "uthop")

SEED = 0

# --------------------------------------------------------------------------
# JSON helpers
# --------------------------------------------------------------------------


def jsonable(x: Any) -> Any:
    """Convert numpy / torch scalars, tuples, Size, op packets into JSON types."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, torch.Size)):
        return [jsonable(v) for v in x]
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return x
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        if math.isfinite(x) and x == int(x) and abs(x) < 2**63:
            return x  # keep float type information visible to readers
        return x
    if isinstance(x, torch.Tensor):
        return jsonable(x.tolist())
    try:
        import numpy as np

        if isinstance(x, np.integer):
            return int(x)
        if isinstance(x, np.floating):
            return float(x)
    except ImportError:  # pragma: no cover
        pass
    return str(x)


def as_exact_int(v: Any) -> dict:
    """Record a numeric total as an int (truncated like int()) plus whether it was integral."""
    f = float(v)
    d = OrderedDict(value=int(v), non_integral=not f.is_integer())
    if not f.is_integer():
        d["raw"] = f
    return d


def write_json(path: str, obj: Any) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        json.dump(jsonable(obj), fh, indent=1, sort_keys=False)
        fh.write("\n")


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------


class MobileNetV1(nn.Module):
    """MobileNet V1 1.0 (Howard et al. 2017, Table 1), bias-free convolutions."""

    CFG = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
           (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Sequential(
            nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True))]
        cin = 32
        for cout, stride in self.CFG:
            layers.append(nn.Sequential(
                nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
                nn.BatchNorm2d(cin), nn.ReLU(inplace=True),
                nn.Conv2d(cin, cout, 1, 1, 0, bias=False),
                nn.BatchNorm2d(cout), nn.ReLU(inplace=True)))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


def resnet50_paper() -> nn.Module:
    """torchvision resnet50 with the stride of each downsampling bottleneck on conv1 (1x1), as in the paper."""
    m = torchvision.models.resnet50(weights=None)
    for layer in (m.layer2, m.layer3, m.layer4):
        blk = layer[0]
        blk.conv1.stride = (2, 2)
        blk.conv2.stride = (1, 1)
    return m


MODELS: "OrderedDict[str, tuple[Callable[[], nn.Module], tuple[int, ...], str]]" = OrderedDict([
    ("alexnet", (lambda: torchvision.models.alexnet(weights=None), (1, 3, 224, 224), "torchvision.models.alexnet(weights=None)")),
    ("vgg16", (lambda: torchvision.models.vgg16(weights=None), (1, 3, 224, 224), "torchvision.models.vgg16(weights=None)")),
    ("vgg16_bn", (lambda: torchvision.models.vgg16_bn(weights=None), (1, 3, 224, 224), "torchvision.models.vgg16_bn(weights=None)")),
    ("resnet18", (lambda: torchvision.models.resnet18(weights=None), (1, 3, 224, 224), "torchvision.models.resnet18(weights=None)")),
    ("resnet50", (lambda: torchvision.models.resnet50(weights=None), (1, 3, 224, 224), "torchvision.models.resnet50(weights=None)")),
    ("resnet50_paper", (resnet50_paper, (1, 3, 224, 224),
                        "torchvision.models.resnet50(weights=None) with layer{2,3,4}[0].conv1.stride=(2,2), conv2.stride=(1,1)")),
    ("mobilenet_v1", (MobileNetV1, (1, 3, 224, 224), "tools/oracle/make_fixtures.py:MobileNetV1()")),
    ("mobilenet_v2", (lambda: torchvision.models.mobilenet_v2(weights=None), (1, 3, 224, 224), "torchvision.models.mobilenet_v2(weights=None)")),
    ("mobilenet_v3_large", (lambda: torchvision.models.mobilenet_v3_large(weights=None), (1, 3, 224, 224), "torchvision.models.mobilenet_v3_large(weights=None)")),
    ("squeezenet1_0", (lambda: torchvision.models.squeezenet1_0(weights=None), (1, 3, 224, 224), "torchvision.models.squeezenet1_0(weights=None)")),
    ("shufflenet_v2_x1_0", (lambda: torchvision.models.shufflenet_v2_x1_0(weights=None), (1, 3, 224, 224), "torchvision.models.shufflenet_v2_x1_0(weights=None)")),
    ("googlenet", (lambda: torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False), (1, 3, 224, 224),
                   "torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False)")),
    ("densenet121", (lambda: torchvision.models.densenet121(weights=None), (1, 3, 224, 224), "torchvision.models.densenet121(weights=None)")),
    ("efficientnet_b0", (lambda: torchvision.models.efficientnet_b0(weights=None), (1, 3, 224, 224), "torchvision.models.efficientnet_b0(weights=None)")),
    ("inception_v3", (lambda: torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False), (1, 3, 299, 299),
                      "torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False)")),
    ("convnext_tiny", (lambda: torchvision.models.convnext_tiny(weights=None), (1, 3, 224, 224), "torchvision.models.convnext_tiny(weights=None)")),
    ("vit_b_16", (lambda: torchvision.models.vit_b_16(weights=None), (1, 3, 224, 224), "torchvision.models.vit_b_16(weights=None)")),
    ("swin_t", (lambda: torchvision.models.swin_t(weights=None), (1, 3, 224, 224), "torchvision.models.swin_t(weights=None)")),
])


def build(factory: Callable[[], nn.Module], train: bool = False) -> nn.Module:
    torch.manual_seed(SEED)
    m = factory()
    m.train(train)
    return m


def make_inputs(shapes: list[tuple[int, ...]]) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(SEED)
    return [torch.randn(*s, generator=g) for s in shapes]


# --------------------------------------------------------------------------
# Ground truth per model (shapes, params, buffers, conv/linear MACs)
# --------------------------------------------------------------------------


def is_leaf(m: nn.Module) -> bool:
    return len(list(m.children())) == 0


def shape_of(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return list(x.shape)
    if isinstance(x, (list, tuple)):
        return [shape_of(v) for v in x]
    return None


def conv_linear_macs(m: nn.Module, inputs: tuple, out: torch.Tensor) -> int | None:
    """Multiply-accumulates of a conv/linear layer, bias excluded, from shapes."""
    if isinstance(m, nn.modules.conv._ConvNd):
        k = math.prod(m.kernel_size)
        if m.transposed:
            return inputs[0].numel() * (m.out_channels // m.groups) * k
        return out.numel() * (m.in_channels // m.groups) * k
    if isinstance(m, nn.Linear):
        return out.numel() * m.in_features
    return None


_NAMES: dict[int, str] = {}


def _func_name(func: Any) -> str:
    if not _NAMES:
        for prefix, ns in (("torch.Tensor.", torch.Tensor), ("torch.", torch), ("torch.nn.functional.", F)):
            for n in dir(ns):
                if n.startswith("_") and not (n.startswith("__") and n.endswith("__")):
                    continue
                try:
                    obj = getattr(ns, n)
                except Exception:
                    continue
                if callable(obj) and not isinstance(obj, type):
                    _NAMES[id(obj)] = prefix + n
    if id(func) in _NAMES:
        return _NAMES[id(func)]
    return _func_name_fallback(func)


def _func_name_fallback(func: Any) -> str:
    qn = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)
    mod = getattr(func, "__module__", None)
    if qn.startswith("TensorBase.") or qn.startswith("_TensorBase."):
        return "Tensor." + qn.split(".", 1)[1]
    if qn.startswith("Tensor."):
        return qn
    if qn.startswith("_VariableFunctionsClass."):
        return "torch." + qn.split(".", 1)[1]
    if mod in (None, "torch._C._VariableFunctions", "torch._C._nn"):
        return ("torch." if mod is None or mod == "torch._C._VariableFunctions" else "torch._C._nn.") + qn
    return f"{mod}.{qn}"


def _is_tensor_result(out: Any) -> bool:
    if isinstance(out, torch.Tensor):
        return True
    if isinstance(out, (list, tuple)) and out and all(isinstance(o, torch.Tensor) for o in out):
        return True
    return False


class _FunctionalRecorder(TorchFunctionMode):
    """Record torch functions called directly by non-leaf modules (adds, cats, functional relus...)."""

    def __init__(self, stack: list[str], leaves: set[str], out: list) -> None:
        super().__init__()
        self.stack, self.leaves, self.out = stack, leaves, out

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        res = func(*args, **kwargs)
        cur = self.stack[-1] if self.stack else ""
        if cur not in self.leaves and _is_tensor_result(res):
            name = _func_name(func)
            if not name.endswith("__get__"):
                tensor_args = [shape_of(a) for a in args if isinstance(a, torch.Tensor)
                               or (isinstance(a, (list, tuple)) and a and isinstance(a[0], torch.Tensor))]
                self.out.append({"module": cur, "op": name, "input_shapes": tensor_args,
                                 "output_shape": shape_of(res)})
        return res


def ground_truth(name: str) -> dict:
    factory, shape, how = MODELS[name]
    model = build(factory)
    (x,) = make_inputs([shape])
    names = {m: n for n, m in model.named_modules()}
    leaves = {n for n, m in model.named_modules() if is_leaf(m)}
    calls: dict[str, list] = defaultdict(list)
    stack: list[str] = []
    handles = []

    def pre(mod, args):
        stack.append(names[mod])

    def post(mod, args, kwargs, out):
        stack.pop()
        n = names[mod]
        if n in leaves:
            rec = {"input_shapes": [shape_of(a) for a in args], "output_shape": shape_of(out)}
            if kwargs:
                rec["kwargs"] = sorted(kwargs)
            macs = conv_linear_macs(mod, args, out) if isinstance(out, torch.Tensor) else None
            if macs is not None:
                rec["macs"] = macs
            calls[n].append(rec)

    for n, m in model.named_modules():
        handles.append(m.register_forward_pre_hook(pre))
        handles.append(m.register_forward_hook(post, with_kwargs=True))
    functional: list = []
    with torch.no_grad(), _FunctionalRecorder(stack, leaves, functional):
        model(x)
    for h in handles:
        h.remove()

    per_leaf = OrderedDict()
    total_macs = 0
    by_class: dict[str, dict] = OrderedDict()
    for n, m in model.named_modules():
        if n not in leaves:
            continue
        own_params = sum(p.numel() for p in m.parameters(recurse=False))
        entry = OrderedDict(cls=type(m).__name__, params=own_params)
        cl = calls.get(n, [])
        entry["calls"] = len(cl)
        if len(cl) == 1:
            entry.update(cl[0])
        elif cl:
            entry["call_list"] = cl
        if isinstance(m, nn.modules.conv._ConvNd):
            entry["conv"] = OrderedDict(in_channels=m.in_channels, out_channels=m.out_channels,
                                        kernel_size=list(m.kernel_size), stride=list(m.stride),
                                        padding=list(m.padding) if not isinstance(m.padding, str) else m.padding,
                                        dilation=list(m.dilation), groups=m.groups, bias=m.bias is not None,
                                        transposed=m.transposed)
        elif isinstance(m, nn.Linear):
            entry["linear"] = OrderedDict(in_features=m.in_features, out_features=m.out_features,
                                          bias=m.bias is not None)
        else:
            attrs = OrderedDict()
            for a in ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "count_include_pad",
                      "output_size", "affine", "eps", "num_features", "inplace", "p", "mode", "scale_factor",
                      "dim", "negative_slope", "num_parameters"):
                if hasattr(m, a):
                    v = getattr(m, a)
                    if isinstance(v, (int, float, bool, str, tuple, list)) or v is None:
                        attrs[a] = list(v) if isinstance(v, tuple) else v
            if attrs:
                entry["attrs"] = attrs
        for c in cl:
            total_macs += c.get("macs", 0)
        bc = by_class.setdefault(type(m).__name__, OrderedDict(modules=0, calls=0, params=0,
                                                                input_elements=0, output_elements=0, macs=0))
        bc["modules"] += 1
        bc["params"] += own_params
        for c in cl:
            bc["calls"] += 1
            ins = c["input_shapes"]
            bc["input_elements"] += math.prod(ins[0]) if ins and isinstance(ins[0], list) and all(isinstance(v, int) for v in ins[0]) else 0
            o = c["output_shape"]
            bc["output_elements"] += math.prod(o) if isinstance(o, list) and all(isinstance(v, int) for v in o) else 0
            bc["macs"] += c.get("macs", 0)
        per_leaf[n] = entry

    running = sum(b.numel() for bn, b in model.named_buffers() if bn.endswith("running_mean") or bn.endswith("running_var"))
    nbt = sum(b.numel() for bn, b in model.named_buffers() if bn.endswith("num_batches_tracked"))
    other = sum(b.numel() for bn, b in model.named_buffers()) - running - nbt
    card = None
    try:
        W = torchvision.models.get_model_weights(name)
        card = OrderedDict((w.name, OrderedDict(GFLOPS=w.meta.get("_ops"), file_size_MB=w.meta.get("_file_size"),
                                               num_params=w.meta.get("num_params"))) for w in W)
    except Exception:
        pass
    return OrderedDict(
        model=name,
        source=OrderedDict(torch=torch.__version__, torchvision=torchvision.__version__,
                           constructor=how, mode="eval", seed=SEED,
                           generator="tools/oracle/make_fixtures.py"),
        input_shape=list(shape),
        total_params=sum(p.numel() for p in model.parameters()),
        buffers=OrderedDict(running_stats=running, num_batches_tracked=nbt, other=other),
        conv_linear_macs=total_macs,
        torchvision_model_card=card,
        by_class=by_class,
        leaves=per_leaf,
        functional_calls_note=(
            "torch functions called directly by a non-leaf module's forward (i.e. outside every leaf module), "
            "as TorchFunctionMode reports them: the operators x + y, x += y, x * y arrive as torch.Tensor.add, "
            "torch.Tensor.add_, torch.Tensor.mul (torch dispatches the dunder through the named method), so they "
            "cannot be told apart from explicit .add()/.mul() calls here; in these torchvision models they are all "
            "operators. Only calls returning tensors are listed; module is the innermost running module path."),
        functional_calls=functional,
    )


# --------------------------------------------------------------------------
# Tool runners.  Each takes (factory, input_shapes, train) and returns a dict.
# --------------------------------------------------------------------------


def _pkg_version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "not installed"


_THOP = {}


def thops_available(uthop_dir: str | None) -> list[str]:
    """The tools of TOOLS that can run: both thops when ultralytics-thop lies in `uthop_dir`,
    else thop 0.1.1 alone (and no ultralytics_thop)."""
    if uthop_dir and os.path.isdir(uthop_dir):
        load_thops(uthop_dir)
        return list(TOOLS)
    import thop  # noqa: F401
    import thop.profile  # noqa: F401

    _THOP["thop"] = (sys.modules["thop"], _pkg_version("thop"))
    return [t for t in TOOLS if t != "ultralytics_thop"]


def load_thops(uthop_dir: str) -> None:
    """Import thop 0.1.1 (site-packages) and ultralytics-thop (uthop_dir) side by side."""
    import thop as thop_old  # noqa: F401
    import thop.profile  # noqa: F401
    _THOP["thop"] = (sys.modules["thop"], _pkg_version("thop"))
    saved = {k: v for k, v in sys.modules.items() if k == "thop" or k.startswith("thop.")}
    for k in saved:
        del sys.modules[k]
    sys.path.insert(0, uthop_dir)
    try:
        uthop = importlib.import_module("thop")
        ver = getattr(uthop, "__version__", "?")
        dists = [d for d in md.distributions(path=[uthop_dir]) if d.metadata["Name"] == "ultralytics-thop"]
        if dists:
            ver = dists[0].version
        _THOP["ultralytics_thop"] = (uthop, ver)
        _THOP["ultralytics_thop_path"] = os.path.dirname(uthop.__file__)
    finally:
        sys.path.remove(uthop_dir)
        for k in [k for k in sys.modules if k == "thop" or k.startswith("thop.")]:
            del sys.modules[k]
        sys.modules.update(saved)


def _flatten_thop_tree(tree: dict, prefix: str = "") -> dict:
    out = OrderedDict()
    for n, (ops, params, sub) in tree.items():
        path = f"{prefix}.{n}" if prefix else n
        out[path] = (ops, params, bool(sub))
        out.update(_flatten_thop_tree(sub, path))
    return out


def run_thop(key: str, factory, shapes, train=False, with_layers=True) -> dict:
    mod, ver = _THOP[key]
    model = build(factory, train)
    inputs = tuple(make_inputs(shapes))
    leaves = {n for n, m in model.named_modules() if is_leaf(m)}
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ops, params, tree = mod.profile(model, inputs=inputs, verbose=False, ret_layer_info=True)
    flat = _flatten_thop_tree(tree)
    per = OrderedDict()
    for path, (o, p, _has_sub) in flat.items():
        if path in leaves:
            per[path] = {"ops": as_exact_int(o)["value"], "non_integral": not float(o).is_integer()}
            if not float(o).is_integer():
                per[path]["raw"] = float(o)
    res = OrderedDict(
        tool=key, version=ver,
        call=f"{'thop' if key == 'thop' else 'thop (ultralytics-thop)'}.profile(model, inputs=(x,...), verbose=False, ret_layer_info=True)",
        total_ops=as_exact_int(ops), total_params=as_exact_int(params),
    )
    if with_layers:
        res["per_leaf_total_ops"] = per
    return res


def run_fvcore(factory, shapes, train=False, with_layers=True) -> dict:
    from fvcore.nn import FlopCountAnalysis

    model = build(factory, train)
    inputs = tuple(make_inputs(shapes))
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        fca = FlopCountAnalysis(model, inputs if len(inputs) > 1 else inputs[0])
        fca.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        total = fca.total()
        res = OrderedDict(
            tool="fvcore", version=_pkg_version("fvcore"),
            call="FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False); .total(), .by_operator(), .by_module(), .unsupported_ops(), .uncalled_modules()",
            total=total,
            by_operator=dict(fca.by_operator()),
            unsupported_ops=dict(fca.unsupported_ops()),
            uncalled_modules=sorted(fca.uncalled_modules()),
        )
        if with_layers:
            res["by_module"] = OrderedDict((k, v) for k, v in fca.by_module().items())
            bmo = fca.by_module_and_operator()
            leaves = [n for n, m in model.named_modules() if is_leaf(m) and n]
            res["leaf_by_operator"] = OrderedDict((n, dict(bmo.get(n, {}))) for n in leaves if bmo.get(n))
            res["leaf_unsupported_ops"] = OrderedDict(
                (n, dict(fca.unsupported_ops(n))) for n in leaves if fca.unsupported_ops(n))
    return res


def run_ptflops(backend: str, factory, shapes, train=False, with_layers=True) -> dict:
    import ptflops
    import ptflops.aten_engine as ae
    import ptflops.pytorch_engine as pe

    model = build(factory, train)
    names = {m: n for n, m in model.named_modules()}
    captured: dict = {}
    # Which module is running when a patched functional fires: our own hooks keep a stack of
    # module paths, and the collector ptflops appends to is wrapped so that each count is also
    # recorded against the innermost running module (the tool's figures are unchanged).
    stack: list[str] = []
    by_module: dict[str, Any] = defaultdict(int)

    def enter(mod, args) -> None:
        stack.append(names[mod])

    def leave(mod, args, out) -> None:  # returns None: the output stays as it is
        stack.pop()

    own_hooks = [h for m in model.modules()
                 for h in (m.register_forward_pre_hook(enter), m.register_forward_hook(leave))]
    if len(shapes) == 1:
        input_res = tuple(shapes[0][1:])
        ctor = None
        call_res = f"input_res={input_res}"
        batch = shapes[0][0]
        if batch != 1:
            ctor = lambda _res: make_inputs(shapes)[0]  # noqa: E731
            call_res = f"input_res={input_res}, input_constructor=lambda r: x (batch {batch})"
    else:
        params = list(__import__("inspect").signature(model.forward).parameters)
        input_res = tuple(shapes[0][1:])

        def ctor(_res):
            return dict(zip(params, make_inputs(shapes)))
        call_res = f"input_res={input_res}, input_constructor=lambda r: dict({', '.join(params)})"

    orig_print, orig_pf, orig_pt, orig_mode = (pe.print_model_with_flops, pe.patch_functional,
                                                pe.patch_tensor_ops, ae.FlopCounterMode)

    def fake_print(m, total_flops, total_params, **kw):
        per = OrderedDict()
        for mm in m.modules():
            if pe.is_supported_instance(mm) and hasattr(mm, "__flops__"):
                per[names[mm]] = int(mm.__flops__)
        captured["per_module"] = per
        captured["batch_counter"] = m.__batch_counter__

    class _Attributing:
        """Appends to ptflops' own list, and adds the count to the running module's sum."""

        def __init__(self, collector: list) -> None:
            self.collector = collector

        def append(self, value: Any) -> None:
            self.collector.append(value)
            by_module[stack[-1] if stack else ""] += value

    def pf(collector):
        captured["functional"] = collector
        return orig_pf(_Attributing(collector))

    def pt(collector):
        captured["tensor_ops"] = collector
        return orig_pt(collector)

    class Rec(orig_mode):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            captured["mode"] = self

    pe.print_model_with_flops, pe.patch_functional, pe.patch_tensor_ops, ae.FlopCounterMode = fake_print, pf, pt, Rec
    out = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            macs, params = ptflops.get_model_complexity_info(
                model, input_res, input_constructor=ctor, as_strings=False, print_per_layer_stat=True,
                ost=out, verbose=False, backend=backend)
    finally:
        pe.print_model_with_flops, pe.patch_functional, pe.patch_tensor_ops, ae.FlopCounterMode = orig_print, orig_pf, orig_pt, orig_mode
        for h in own_hooks:
            h.remove()
    res = OrderedDict(
        tool=f"ptflops_{backend}", version=_pkg_version("ptflops"),
        call=f"ptflops.get_model_complexity_info(model, {call_res}, as_strings=False, print_per_layer_stat=True, backend='{backend}')",
        macs=macs, params=params,
    )
    if macs is None:
        res["error"] = out.getvalue()[-2000:]
        return res
    if backend == "pytorch":
        fun = [int(v) for v in captured.get("functional", [])]
        ten = [int(v) for v in captured.get("tensor_ops", [])]
        per = captured.get("per_module", {})
        res["module_hook_flops"] = sum(v for n, v in per.items() if _top_supported(n, per))
        res["functional_flops"] = sum(fun)
        res["functional_calls"] = len(fun)
        res["tensor_op_flops"] = sum(ten)
        res["tensor_op_calls"] = len(ten)
        res["batch_counter"] = captured.get("batch_counter")
        if with_layers:
            res["per_module_flops"] = per
            # patched-functional counts by the innermost module running at the call ("" = root);
            # not divided by the batch (ptflops adds them to the total as they are)
            res["functional_by_module"] = OrderedDict(
                (n, int(v) if float(v).is_integer() else float(v)) for n, v in by_module.items())
    else:
        mode = captured.get("mode")
        fc = {k: {str(op): int(v) for op, v in sorted(d.items(), key=lambda kv: str(kv[0]))}
              for k, d in mode.flop_counts.items()}
        res["by_operator"] = fc.get("Global", {})
        if with_layers:
            res["flop_counts"] = fc
    return res


def _top_supported(name: str, per: dict) -> bool:
    """True if no ancestor of `name` is itself a supported (hooked) module."""
    parts = name.split(".") if name else []
    for i in range(len(parts)):
        anc = ".".join(parts[:i])
        if anc in per and anc != name:
            return False
    return True


def run_torchinfo(factory, shapes, train=False, with_layers=True) -> dict:
    from torchinfo import summary

    model = build(factory, train)
    inputs = make_inputs(shapes)
    names = {id(m): n for n, m in model.named_modules()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        st = summary(model, input_data=inputs, verbose=0, depth=100,
                     col_names=("input_size", "output_size", "num_params", "mult_adds"))
    per: dict = OrderedDict()
    for li in st.summary_list:
        if not li.is_leaf_layer:
            continue
        n = names.get(li.layer_id, li.var_name)
        e = per.setdefault(n, OrderedDict(cls=li.class_name, macs=0, calls=0))
        e["macs"] += int(li.macs)
        e["calls"] += 1
    res = OrderedDict(
        tool="torchinfo", version=_pkg_version("torchinfo"),
        call="torchinfo.summary(model, input_data=[x,...], verbose=0, depth=100, col_names=('input_size','output_size','num_params','mult_adds'))  # mode defaults to eval",
        total_mult_adds=int(st.total_mult_adds), total_params=int(st.total_params),
    )
    if with_layers:
        res["per_leaf_macs"] = per
    return res


def run_torch(factory, shapes, train=False, with_layers=True) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    model = build(factory, train)
    inputs = make_inputs(shapes)
    with FlopCounterMode(display=False) as fc:
        with torch.no_grad():
            model(*inputs)
    # FlopCounterMode fills its dict while iterating a set of parent names: sort for a stable file
    raw = fc.get_flop_counts()
    counts = {k: {str(op): int(v) for op, v in sorted(raw[k].items(), key=lambda kv: str(kv[0]))}
              for k in sorted(raw)}
    res = OrderedDict(
        tool="torch_flop_counter", version=torch.__version__,
        call="with torch.utils.flop_counter.FlopCounterMode(display=False) as fc, torch.no_grad(): model(x); fc.get_total_flops(), fc.get_flop_counts()",
        total_flops=int(fc.get_total_flops()),
        by_operator=counts.get("Global", {}),
    )
    if with_layers:
        res["flop_counts"] = counts
    return res


class _ParamHolder(nn.Module):
    """calflops 0.3.2 calls next(model.parameters()) and so raises StopIteration on a model
    without parameters; this wrapper adds one unused parameter and forwards to the layer."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))
        self.layer = layer

    def forward(self, *a):
        return self.layer(*a)


def run_calflops(factory, shapes, train=False, with_layers=True) -> dict:
    model = build(factory, train)
    if next(model.parameters(), None) is None:
        snap = _snapshot_torch()
        try:
            r = _run_calflops(factory, shapes, train, with_layers)
        except Exception as e:
            err = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            # calflops patched torch.nn.functional before failing and never unpatched it
            _restore_torch(snap)
        else:
            return r
        r = _run_calflops(lambda: _ParamHolder(factory()), shapes, train, with_layers)
        r["note"] = ("direct call raised " + err + " (calflops needs at least one parameter); figures are for "
                     "the layer wrapped in a module holding one unused parameter")
        return r
    return _run_calflops(factory, shapes, train, with_layers)


def _run_calflops(factory, shapes, train=False, with_layers=True) -> dict:
    import calflops
    from calflops.calculate_pipline import CalFlopsPipline

    model = build(factory, train)
    names = {m: n for n, m in model.named_modules()}
    captured: dict = {}
    orig_end = CalFlopsPipline.end_flops_calculate

    def end(self):
        own = OrderedDict()
        for m in self.model.modules():
            f, mc = getattr(m, "__flops__", 0), getattr(m, "__macs__", 0)
            if f or mc:
                own[names[m]] = {"flops": int(f), "macs": int(mc)}
        captured["own"] = own
        return orig_end(self)

    CalFlopsPipline.end_flops_calculate = end
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            if len(shapes) == 1:
                flops, macs, params = calflops.calculate_flops(
                    model=model, input_shape=tuple(shapes[0]), output_as_string=False,
                    print_results=False, print_detailed=False)
                call = f"calflops.calculate_flops(model=model, input_shape={tuple(shapes[0])}, output_as_string=False, print_results=False, print_detailed=False)"
            else:
                flops, macs, params = calflops.calculate_flops(
                    model=model, args=make_inputs(shapes), output_as_string=False,
                    print_results=False, print_detailed=False)
                call = "calflops.calculate_flops(model=model, args=[x, y], output_as_string=False, print_results=False, print_detailed=False)"
    finally:
        CalFlopsPipline.end_flops_calculate = orig_end
    res = OrderedDict(tool="calflops", version=_pkg_version("calflops"), call=call,
                      flops=int(flops), macs=int(macs), params=int(params))
    if with_layers:
        res["per_module_own"] = captured.get("own", {})
    return res


TOOLS: "OrderedDict[str, Callable]" = OrderedDict([
    ("thop", lambda *a, **k: run_thop("thop", *a, **k)),
    ("ultralytics_thop", lambda *a, **k: run_thop("ultralytics_thop", *a, **k)),
    ("fvcore", run_fvcore),
    ("ptflops_pytorch", lambda *a, **k: run_ptflops("pytorch", *a, **k)),
    ("ptflops_aten", lambda *a, **k: run_ptflops("aten", *a, **k)),
    ("torchinfo", run_torchinfo),
    ("torch_flop_counter", run_torch),
    ("calflops", run_calflops),
])


_TORCH_ATTRS = ["matmul", "mm", "bmm", "addmm", "baddbmm", "mul", "add", "einsum"]
_TENSOR_ATTRS = ["matmul", "mm", "bmm", "addmm", "mul", "add"]


def _snapshot_torch() -> tuple:
    """ptflops and calflops monkey-patch torch.nn.functional / torch / torch.Tensor; on an
    exception inside a tool they may leave the patches in place, so we restore them ourselves."""
    return (dict(vars(F)), {a: getattr(torch, a) for a in _TORCH_ATTRS},
            {a: torch.Tensor.__dict__.get(a, None) for a in _TENSOR_ATTRS})


def _restore_torch(snap: tuple) -> None:
    fdict, tdict, tensdict = snap
    for k, v in fdict.items():
        if vars(F).get(k) is not v:
            setattr(F, k, v)
    for k, v in tdict.items():
        if getattr(torch, k) is not v:
            setattr(torch, k, v)
    for k, v in tensdict.items():
        cur = torch.Tensor.__dict__.get(k, None)
        if cur is not v:
            if v is None:
                delattr(torch.Tensor, k)
            else:
                setattr(torch.Tensor, k, v)
    try:
        import calflops.calculate_pipline as cp

        cp.module_flop_count.clear()
        cp.module_mac_count.clear()
    except ImportError:  # pragma: no cover
        pass


def safe(fn, *a, **k) -> dict:
    snap = _snapshot_torch()
    try:
        return fn(*a, **k)
    except Exception as e:  # record, never abort the whole run
        return {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-3000:]}
    finally:
        _restore_torch(snap)


# --------------------------------------------------------------------------
# Single-layer micro fixtures
# --------------------------------------------------------------------------


class Binary(nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, x, y):
        k = self.kind
        if k == "add":
            return x + y
        if k == "torch_add":
            return torch.add(x, y)
        if k == "iadd":
            x = x.clone()
            x += y
            return x
        if k == "mul":
            return x * y
        if k == "torch_mul":
            return torch.mul(x, y)
        if k == "cat":
            return torch.cat([x, y], dim=1)
        raise ValueError(k)


class ChannelShuffle(nn.Module):
    """torchvision.models.shufflenetv2.channel_shuffle idiom (view/transpose/contiguous/view)."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x):
        b, c, h, w = x.size()
        x = x.view(b, self.groups, c // self.groups, h, w)
        x = torch.transpose(x, 1, 2).contiguous()
        return x.view(b, -1, h, w)


class Functional(nn.Module):
    """Calls torch.nn.functional.<kind>(x, *args, **kw) the way torchvision models do."""

    def __init__(self, kind: str, *args, **kw) -> None:
        super().__init__()
        self.kind, self.args, self.kw = kind, args, kw

    def forward(self, x):
        return getattr(F, self.kind)(x, *self.args, **self.kw)


def _layer_cases() -> list[dict]:
    """(id, layer description, constructor, input shapes, mode)."""
    C = []

    def add(id_, desc, ctor, shapes, mode="eval"):
        C.append({"id": id_, "layer": desc, "ctor": ctor, "input_shapes": shapes, "mode": mode})

    def conv2d(id_, cin, cout, k, s=1, p=0, d=1, g=1, bias=True, shape=(1, 8, 14, 14)):
        add(id_, {"kind": "conv2d", "in_channels": cin, "out_channels": cout, "kernel_size": k, "stride": s,
                  "padding": p, "dilation": d, "groups": g, "bias": bias},
            lambda: nn.Conv2d(cin, cout, k, s, p, d, g, bias), [list(shape)])

    conv2d("conv2d_k3_p1_bias", 8, 16, 3, p=1)
    conv2d("conv2d_k3_p1_nobias", 8, 16, 3, p=1, bias=False)
    conv2d("conv2d_k3_p0_bias", 8, 16, 3)
    conv2d("conv2d_k1_nobias", 8, 16, 1, bias=False)
    conv2d("conv2d_k3_s2_p1_nobias", 8, 16, 3, s=2, p=1, bias=False)
    conv2d("conv2d_k3_s2_p1_bias_odd", 8, 16, 3, s=2, p=1, bias=True, shape=(1, 8, 15, 15))
    conv2d("conv2d_k3_d2_p2_nobias", 8, 16, 3, p=2, d=2, bias=False)
    conv2d("conv2d_k3_g2_p1_bias", 8, 16, 3, p=1, g=2, bias=True)
    conv2d("conv2d_k3_g2_p1_nobias", 8, 16, 3, p=1, g=2, bias=False)
    conv2d("conv2d_depthwise_k3_p1_nobias", 8, 8, 3, p=1, g=8, bias=False)
    conv2d("conv2d_depthwise_k3_s2_p1_bias", 8, 8, 3, s=2, p=1, g=8, bias=True)
    conv2d("conv2d_depthwise_mult2_k3_p1_nobias", 8, 16, 3, p=1, g=8, bias=False)
    conv2d("conv2d_k3_p1_bias_batch2", 8, 16, 3, p=1, shape=(2, 8, 14, 14))
    add("conv2d_k1x3_p0x1_bias", {"kind": "conv2d", "in_channels": 8, "out_channels": 16, "kernel_size": [1, 3],
                                 "stride": 1, "padding": [0, 1], "dilation": 1, "groups": 1, "bias": True},
        lambda: nn.Conv2d(8, 16, (1, 3), 1, (0, 1)), [[1, 8, 14, 14]])
    add("conv1d_k3_p1_bias", {"kind": "conv1d", "in_channels": 8, "out_channels": 16, "kernel_size": 3, "stride": 1,
                             "padding": 1, "dilation": 1, "groups": 1, "bias": True},
        lambda: nn.Conv1d(8, 16, 3, 1, 1), [[1, 8, 32]])
    add("conv1d_k3_s2_nobias", {"kind": "conv1d", "in_channels": 8, "out_channels": 16, "kernel_size": 3, "stride": 2,
                               "padding": 0, "dilation": 1, "groups": 1, "bias": False},
        lambda: nn.Conv1d(8, 16, 3, 2, 0, bias=False), [[1, 8, 32]])
    add("conv3d_k3_p1_bias", {"kind": "conv3d", "in_channels": 4, "out_channels": 8, "kernel_size": 3, "stride": 1,
                             "padding": 1, "dilation": 1, "groups": 1, "bias": True},
        lambda: nn.Conv3d(4, 8, 3, 1, 1), [[1, 4, 6, 6, 6]])
    add("conv3d_k3_s2_nobias", {"kind": "conv3d", "in_channels": 4, "out_channels": 8, "kernel_size": 3, "stride": 2,
                               "padding": 1, "dilation": 1, "groups": 1, "bias": False},
        lambda: nn.Conv3d(4, 8, 3, 2, 1, bias=False), [[1, 4, 6, 6, 6]])

    def convt(id_, cin, cout, k, s, p, op, g=1, bias=True, shape=(1, 16, 7, 7)):
        add(id_, {"kind": "conv_transpose2d", "in_channels": cin, "out_channels": cout, "kernel_size": k,
                  "stride": s, "padding": p, "output_padding": op, "groups": g, "bias": bias, "dilation": 1},
            lambda: nn.ConvTranspose2d(cin, cout, k, s, p, op, g, bias), [list(shape)])

    convt("convt2d_k3_s2_p1_op1_bias", 16, 8, 3, 2, 1, 1)
    convt("convt2d_k3_s2_p1_op1_nobias", 16, 8, 3, 2, 1, 1, bias=False)
    convt("convt2d_k4_s2_p1_op0_bias", 16, 8, 4, 2, 1, 0)
    convt("convt2d_k2_s2_p0_nobias", 16, 8, 2, 2, 0, 0, bias=False)
    convt("convt2d_k3_s2_p1_op1_g2_nobias", 16, 8, 3, 2, 1, 1, g=2, bias=False)

    def linear(id_, fin, fout, bias, shape):
        add(id_, {"kind": "linear", "in_features": fin, "out_features": fout, "bias": bias},
            lambda: nn.Linear(fin, fout, bias), [list(shape)])

    linear("linear_bias", 64, 32, True, (1, 64))
    linear("linear_nobias", 64, 32, False, (1, 64))
    linear("linear_bias_batch4", 64, 32, True, (4, 64))
    linear("linear_bias_3d_input", 64, 32, True, (1, 10, 64))
    linear("linear_nobias_3d_input", 64, 32, False, (1, 10, 64))

    add("batchnorm2d_affine", {"kind": "batchnorm2d", "num_features": 16, "affine": True},
        lambda: nn.BatchNorm2d(16), [[1, 16, 14, 14]])
    add("batchnorm2d_noaffine", {"kind": "batchnorm2d", "num_features": 16, "affine": False},
        lambda: nn.BatchNorm2d(16, affine=False), [[1, 16, 14, 14]])
    add("batchnorm2d_affine_trainmode", {"kind": "batchnorm2d", "num_features": 16, "affine": True},
        lambda: nn.BatchNorm2d(16), [[2, 16, 14, 14]], mode="train")
    add("batchnorm1d_affine", {"kind": "batchnorm1d", "num_features": 16, "affine": True},
        lambda: nn.BatchNorm1d(16), [[2, 16]])

    act_shape = [[1, 16, 14, 14]]
    for kind, ctor, extra in [
        ("relu", lambda: nn.ReLU(), {}),
        ("relu_inplace", lambda: nn.ReLU(inplace=True), {"inplace": True}),
        ("relu6", lambda: nn.ReLU6(), {}),
        ("relu6_inplace", lambda: nn.ReLU6(inplace=True), {"inplace": True}),
        ("leaky_relu", lambda: nn.LeakyReLU(0.1), {"negative_slope": 0.1}),
        ("prelu", lambda: nn.PReLU(), {"num_parameters": 1}),
        ("prelu_per_channel", lambda: nn.PReLU(16), {"num_parameters": 16}),
        ("elu", lambda: nn.ELU(), {}),
        ("sigmoid", lambda: nn.Sigmoid(), {}),
        ("tanh", lambda: nn.Tanh(), {}),
        ("hardswish", lambda: nn.Hardswish(), {}),
        ("hardsigmoid", lambda: nn.Hardsigmoid(), {}),
        ("silu", lambda: nn.SiLU(), {}),
        ("gelu", lambda: nn.GELU(), {}),
    ]:
        add(kind, dict({"kind": kind.replace("_inplace", "").replace("_per_channel", "")}, **extra), ctor, act_shape)
    add("softmax_dim1_4d", {"kind": "softmax", "dim": 1}, lambda: nn.Softmax(dim=1), [[1, 16, 14, 14]])
    add("softmax_dim1_2d", {"kind": "softmax", "dim": 1}, lambda: nn.Softmax(dim=1), [[2, 1000]])

    def pool(id_, desc, ctor, shape=(1, 16, 14, 14)):
        add(id_, desc, ctor, [list(shape)])

    pool("maxpool2d_k3_s2", {"kind": "maxpool2d", "kernel_size": 3, "stride": 2, "padding": 0, "ceil_mode": False},
         lambda: nn.MaxPool2d(3, 2))
    pool("maxpool2d_k3_s2_p1", {"kind": "maxpool2d", "kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": False},
         lambda: nn.MaxPool2d(3, 2, 1))
    pool("maxpool2d_k3_s2_ceil", {"kind": "maxpool2d", "kernel_size": 3, "stride": 2, "padding": 0, "ceil_mode": True},
         lambda: nn.MaxPool2d(3, 2, ceil_mode=True))
    pool("maxpool2d_k2_s2", {"kind": "maxpool2d", "kernel_size": 2, "stride": 2, "padding": 0, "ceil_mode": False},
         lambda: nn.MaxPool2d(2, 2))
    pool("maxpool2d_k3_s1_p1", {"kind": "maxpool2d", "kernel_size": 3, "stride": 1, "padding": 1, "ceil_mode": False},
         lambda: nn.MaxPool2d(3, 1, 1))
    pool("avgpool2d_k3_s2_p1", {"kind": "avgpool2d", "kernel_size": 3, "stride": 2, "padding": 1,
                                "ceil_mode": False, "count_include_pad": True}, lambda: nn.AvgPool2d(3, 2, 1))
    pool("avgpool2d_k3_s1_p1", {"kind": "avgpool2d", "kernel_size": 3, "stride": 1, "padding": 1,
                                "ceil_mode": False, "count_include_pad": True}, lambda: nn.AvgPool2d(3, 1, 1))
    pool("avgpool2d_k2_s2", {"kind": "avgpool2d", "kernel_size": 2, "stride": 2, "padding": 0,
                             "ceil_mode": False, "count_include_pad": True}, lambda: nn.AvgPool2d(2, 2))
    pool("avgpool2d_k3_s2_p1_exclpad", {"kind": "avgpool2d", "kernel_size": 3, "stride": 2, "padding": 1,
                                        "ceil_mode": False, "count_include_pad": False},
         lambda: nn.AvgPool2d(3, 2, 1, count_include_pad=False))
    for (oh, ow), hw in [((1, 1), 14), ((7, 7), 14), ((7, 7), 9), ((1, 1), 7), ((5, 5), 7)]:
        pool(f"adaptive_avgpool2d_{oh}x{ow}_from_{hw}", {"kind": "adaptive_avgpool2d", "output_size": [oh, ow]},
             (lambda o=(oh, ow): nn.AdaptiveAvgPool2d(o)), (1, 16, hw, hw))
    for (oh, ow), hw in [((1, 1), 14), ((7, 7), 9)]:
        pool(f"adaptive_maxpool2d_{oh}x{ow}_from_{hw}", {"kind": "adaptive_maxpool2d", "output_size": [oh, ow]},
             (lambda o=(oh, ow): nn.AdaptiveMaxPool2d(o)), (1, 16, hw, hw))
    add("upsample_nearest_x2", {"kind": "upsample", "mode": "nearest", "scale_factor": 2},
        lambda: nn.Upsample(scale_factor=2, mode="nearest"), [[1, 16, 7, 7]])
    add("upsample_bilinear_x2", {"kind": "upsample", "mode": "bilinear", "scale_factor": 2, "align_corners": False},
        lambda: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), [[1, 16, 7, 7]])
    add("flatten", {"kind": "flatten", "start_dim": 1}, lambda: nn.Flatten(), [[1, 16, 7, 7]])
    add("dropout", {"kind": "dropout", "p": 0.5}, lambda: nn.Dropout(0.5), [[1, 256]])
    add("dropout_inplace", {"kind": "dropout", "p": 0.2, "inplace": True}, lambda: nn.Dropout(0.2, inplace=True),
        [[1, 256]])
    add("identity", {"kind": "identity"}, lambda: nn.Identity(), [[1, 16, 7, 7]])
    s = [1, 16, 14, 14]
    add("add", {"kind": "add", "form": "x + y"}, lambda: Binary("add"), [s, s])
    add("torch_add", {"kind": "add", "form": "torch.add(x, y)"}, lambda: Binary("torch_add"), [s, s])
    add("iadd", {"kind": "add", "form": "x = x.clone(); x += y"}, lambda: Binary("iadd"), [s, s])
    add("mul", {"kind": "mul", "form": "x * y"}, lambda: Binary("mul"), [s, s])
    add("torch_mul", {"kind": "mul", "form": "torch.mul(x, y)"}, lambda: Binary("torch_mul"), [s, s])
    add("mul_broadcast_se", {"kind": "mul", "form": "x * y (y is [N,C,1,1])"}, lambda: Binary("mul"), [s, [1, 16, 1, 1]])
    add("cat_dim1", {"kind": "cat", "dim": 1}, lambda: Binary("cat"), [s, [1, 8, 14, 14]])
    add("channel_shuffle_g2", {"kind": "channel_shuffle", "groups": 2}, lambda: ChannelShuffle(2), [s])
    add("functional_relu", {"kind": "relu", "form": "F.relu(x)"}, lambda: Functional("relu"), [s])
    add("functional_relu_inplace", {"kind": "relu", "form": "F.relu(x, inplace=True)"},
        lambda: Functional("relu", inplace=True), [s])
    add("functional_max_pool2d_k3_s2", {"kind": "maxpool2d", "form": "F.max_pool2d(x, 3, 2)", "kernel_size": 3,
                                        "stride": 2, "padding": 0, "ceil_mode": False},
        lambda: Functional("max_pool2d", kernel_size=3, stride=2), [s])
    add("functional_avg_pool2d_k3_s1_p1", {"kind": "avgpool2d", "form": "F.avg_pool2d(x, 3, 1, 1)", "kernel_size": 3,
                                           "stride": 1, "padding": 1, "ceil_mode": False, "count_include_pad": True},
        lambda: Functional("avg_pool2d", kernel_size=3, stride=1, padding=1), [s])
    add("functional_adaptive_avg_pool2d_1x1", {"kind": "adaptive_avgpool2d", "form": "F.adaptive_avg_pool2d(x, (1, 1))",
                                               "output_size": [1, 1]},
        lambda: Functional("adaptive_avg_pool2d", (1, 1)), [s])
    return C


def make_layers(tools: list[str]) -> dict:
    out_cases = []
    for case in _layer_cases():
        shapes = [tuple(s) for s in case["input_shapes"]]
        train = case["mode"] == "train"
        m = build(case["ctor"], train)
        ins = make_inputs(list(shapes))
        with torch.no_grad():
            y = m(*ins)
        entry = OrderedDict(id=case["id"], layer=case["layer"], module=repr(m) if not isinstance(m, (Binary, Functional)) else
                            f"{type(m).__name__}({getattr(m, 'kind', '')})",
                            input_shapes=[list(s) for s in shapes], output_shape=list(y.shape), mode=case["mode"],
                            params=sum(p.numel() for p in m.parameters()))
        tres = OrderedDict()
        for t in tools:
            r = safe(TOOLS[t], case["ctor"], list(shapes), train=train, with_layers=False)
            tres[t] = _compact(t, r)
        entry["tools"] = tres
        out_cases.append(entry)
        print(f"  layer {case['id']}: " + ", ".join(f"{t}={_headline(t, tres[t])}" for t in tools), flush=True)
    return OrderedDict(
        schema="one entry per case: layer (constructor args, kind), input_shapes, output_shape, mode, params; "
               "tools.<tool> holds that tool's figures for the layer in isolation (see docs/profilers.md)",
        versions=tool_versions(),
        cases=out_cases,
    )


def _compact(tool: str, r: dict) -> dict:
    if "error" in r:
        return {"error": r["error"]}
    drop = {"tool", "version", "call"}
    return OrderedDict((k, v) for k, v in r.items() if k not in drop)


def _headline(tool: str, r: dict) -> Any:
    if "error" in r:
        return "ERR"
    for k in ("total_ops", "total", "total_flops", "flops", "macs", "total_mult_adds"):
        if k in r:
            v = r[k]
            return v["value"] if isinstance(v, dict) else v
    return "?"


def tool_versions() -> dict:
    return OrderedDict(
        python=sys.version.split()[0], torch=torch.__version__, torchvision=torchvision.__version__,
        thop=_THOP.get("thop", (None, "?"))[1], ultralytics_thop=_THOP.get("ultralytics_thop", (None, "?"))[1],
        fvcore=_pkg_version("fvcore"), ptflops=_pkg_version("ptflops"), torchinfo=_pkg_version("torchinfo"),
        calflops=_pkg_version("calflops"), transformers=_pkg_version("transformers"),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures"))
    ap.add_argument("--only", choices=["models", "layers", "truth"], default=None)
    ap.add_argument("--models", nargs="*", default=list(MODELS))
    ap.add_argument("--tools", nargs="*", default=list(TOOLS))
    ap.add_argument("--uthop-dir", default=DEFAULT_UTHOP_DIR)
    a = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    # Without ultralytics-thop's directory its fixtures would hold thop 0.1.1's figures: skip them.
    available = thops_available(a.uthop_dir)
    a.tools = [t for t in a.tools if t in available]
    print("versions:", json.dumps(tool_versions()), flush=True)

    if a.only in (None, "models", "truth"):
        for name in a.models:
            gt = ground_truth(name)
            write_json(os.path.join(a.out, "torchvision", f"{name}.json"), gt)
            print(f"{name}: params={gt['total_params']} conv_linear_macs={gt['conv_linear_macs']}", flush=True)
            if a.only == "truth":
                continue
            factory, shape, how = MODELS[name]
            for t in a.tools:
                r = safe(TOOLS[t], factory, [shape])
                r = OrderedDict([("model", name), ("constructor", how), ("input_shape", list(shape))] + list(r.items()))
                write_json(os.path.join(a.out, "profilers", t, f"{name}.json"), r)
                print(f"  {t}: {_headline(t, r)}", flush=True)
    if a.only in (None, "layers"):
        layers = make_layers(a.tools)
        write_json(os.path.join(a.out, "profilers", "layers.json"), layers)


if __name__ == "__main__":
    main()
