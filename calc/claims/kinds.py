"""How a formula's letters become a layer record: the variables of each layer kind and the
construction that makes the library's value a function of them.

Seeds write costs in output sizes (Hout, Wout), the library's records take input sizes (H, W).
For each kind the record is built so that its output is exactly Hout x Wout:

    convolutions with a window (conv, depthwise, separable)
        stride 1, padding 0, dilation 1, H = Hout + K - 1, W = Wout + K - 1
    max/avg pool
        stride K (PyTorch's default, non-overlapping windows), padding 0, H = K*Hout, W = K*Wout
    pointwise, activations, batch norm, add/mul
        H = Hout, W = Wout (the output has the input's size)
    global pools
        written in the input size H, W (the output is 1 x 1)
    deconv (transposed conv)
        written in the input size H, W; stride 1, padding 0, output_padding 0, so
        Hout = H + K - 1, Wout = W + K - 1
    linear
        an (N, Cin) input: no spatial size

Variables come in three roles:
    free      always symbolic (positive integers) and searched for counterexamples
    optional  symbolic only when the formula (after --var) names them, else their default:
              g = 1 (groups), N = 1 (batch), multiplier = 1, inputs = 2
    derived   fixed expressions of the others, usable in formulas (H of a conv is Hout + K - 1,
              Cout of a depthwise conv is multiplier * Cin, K of a pointwise conv is 1)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from calc.errors import UsageError

Env = Mapping[str, Any]


@dataclass(frozen=True)
class KindModel:
    """The variables of some layer kinds and how to build their record from values of them."""

    kinds: tuple[str, ...]
    free: tuple[str, ...]
    optional: Mapping[str, int]
    derived: Mapping[str, Callable[[Env], Any]]
    fields: Callable[[str, Env], dict[str, Any]]
    construction: str
    divides: tuple[tuple[str, str], ...] = ()
    """(d, n): values where d does not divide n are not layers (groups must divide channels)."""
    bias: bool = False
    """The kind has a ``bias`` field (default True, as in PyTorch)."""
    bn: bool = False
    """The kind may carry a batch norm (``bn: true``) priced as its own operation."""
    notes: tuple[str, ...] = field(default=())

    @property
    def variables(self) -> tuple[str, ...]:
        return (*self.free, *self.optional, *self.derived)

    def valid(self, env: Env) -> bool:
        for d, n in self.divides:
            dv, nv = env.get(d), env.get(n)
            if isinstance(dv, int) and isinstance(nv, int) and nv % dv:
                return False
        return True


def _same(name: str) -> Callable[[Env], Any]:
    return lambda e: e[name]


def _plus_k(name: str) -> Callable[[Env], Any]:
    return lambda e: e[name] + e["K"] - 1


def _times_k(name: str) -> Callable[[Env], Any]:
    return lambda e: e[name] * e["K"]


def _conv(kind: str, e: Env) -> dict[str, Any]:
    return dict(K=e["K"], Cin=e["Cin"], Cout=e["Cout"], groups=e["g"], H=e["H"], W=e["W"],
                stride=1, padding=0, dilation=1, N=e["N"])


def _deconv(kind: str, e: Env) -> dict[str, Any]:
    return dict(K=e["K"], Cin=e["Cin"], Cout=e["Cout"], groups=e["g"], H=e["H"], W=e["W"],
                stride=1, padding=0, dilation=1, output_padding=0, N=e["N"])


def _depthwise(kind: str, e: Env) -> dict[str, Any]:
    return dict(K=e["K"], Cin=e["Cin"], multiplier=e["multiplier"], H=e["H"], W=e["W"],
                stride=1, padding=0, dilation=1, N=e["N"])


def _pointwise(kind: str, e: Env) -> dict[str, Any]:
    return dict(Cin=e["Cin"], Cout=e["Cout"], groups=e["g"], H=e["H"], W=e["W"], stride=1, N=e["N"])


def _separable(kind: str, e: Env) -> dict[str, Any]:
    return dict(K=e["K"], Cin=e["Cin"], Cout=e["Cout"], multiplier=e["multiplier"], H=e["H"],
                W=e["W"], stride=1, padding=0, dilation=1, N=e["N"])


def _linear(kind: str, e: Env) -> dict[str, Any]:
    return dict(Cin=e["Cin"], Cout=e["Cout"], N=e["N"])


def _pool(kind: str, e: Env) -> dict[str, Any]:
    return dict(K=e["K"], Cin=e["Cin"], H=e["H"], W=e["W"], padding=0, dilation=1,
                ceil_mode=False, N=e["N"])


def _global_pool(kind: str, e: Env) -> dict[str, Any]:
    return dict(Cin=e["Cin"], H=e["H"], W=e["W"], N=e["N"])


def _elementwise(kind: str, e: Env) -> dict[str, Any]:
    return dict(Cin=e["Cin"], H=e["H"], W=e["W"], N=e["N"])


def _merge(kind: str, e: Env) -> dict[str, Any]:
    return dict(Cin=e["Cin"], H=e["H"], W=e["W"], N=e["N"], inputs=e["inputs"])


_WINDOW = "stride 1, padding 0, dilation 1; H = Hout + K - 1, W = Wout + K - 1"
_SAME = "H = Hout, W = Wout"
_ACTIVATIONS = ("relu", "relu6", "leaky_relu", "prelu", "elu", "sigmoid", "tanh", "hardswish",
                "hardsigmoid", "silu", "gelu", "softmax")

MODELS: tuple[KindModel, ...] = (
    KindModel(
        kinds=("conv",), free=("K", "Cin", "Cout", "Hout", "Wout"), optional={"g": 1, "N": 1},
        derived={"H": _plus_k("Hout"), "W": _plus_k("Wout"), "groups": _same("g")},
        fields=_conv, construction=_WINDOW, divides=(("g", "Cin"), ("g", "Cout")), bias=True, bn=True,
    ),
    KindModel(
        kinds=("depthwise",), free=("K", "Cin", "Hout", "Wout"), optional={"multiplier": 1, "N": 1},
        derived={"H": _plus_k("Hout"), "W": _plus_k("Wout"), "Cout": lambda e: e["multiplier"] * e["Cin"],
                 "g": _same("Cin"), "groups": _same("Cin")},
        fields=_depthwise, construction=_WINDOW + "; Cout = multiplier * Cin, g = Cin", bias=True, bn=True,
    ),
    KindModel(
        kinds=("pointwise",), free=("Cin", "Cout", "Hout", "Wout"), optional={"g": 1, "N": 1},
        derived={"H": _same("Hout"), "W": _same("Wout"), "K": lambda e: 1, "groups": _same("g")},
        fields=_pointwise, construction="stride 1; " + _SAME + "; K = 1",
        divides=(("g", "Cin"), ("g", "Cout")), bias=True, bn=True,
    ),
    KindModel(
        kinds=("separable",), free=("K", "Cin", "Cout", "Hout", "Wout"), optional={"multiplier": 1, "N": 1},
        derived={"H": _plus_k("Hout"), "W": _plus_k("Wout")},
        fields=_separable, construction=_WINDOW + " (depthwise half; the pointwise half keeps the size)",
        bias=True, bn=True,
    ),
    KindModel(
        kinds=("deconv",), free=("K", "Cin", "Cout", "H", "W"), optional={"g": 1, "N": 1},
        derived={"Hout": _plus_k("H"), "Wout": _plus_k("W"), "groups": _same("g")},
        fields=_deconv,
        construction="stride 1, padding 0, output_padding 0, dilation 1; Hout = H + K - 1, Wout = W + K - 1",
        divides=(("g", "Cin"), ("g", "Cout")), bias=True, bn=True,
    ),
    KindModel(
        kinds=("linear",), free=("Cin", "Cout"), optional={"N": 1}, derived={},
        fields=_linear, construction="input (N, Cin)", bias=True, bn=True,
    ),
    KindModel(
        kinds=("maxpool", "avgpool"), free=("K", "Cin", "Hout", "Wout"), optional={"N": 1},
        derived={"H": _times_k("Hout"), "W": _times_k("Wout"), "Cout": _same("Cin")},
        fields=_pool, construction="stride K (the PyTorch default), padding 0; H = K * Hout, "
        "W = K * Wout; Cout = Cin",
    ),
    KindModel(
        kinds=("global_avgpool", "global_maxpool"), free=("Cin", "H", "W"), optional={"N": 1},
        derived={"Cout": _same("Cin"), "Hout": lambda e: 1, "Wout": lambda e: 1},
        fields=_global_pool, construction="input size H, W; Hout = Wout = 1; Cout = Cin",
    ),
    KindModel(
        kinds=_ACTIVATIONS + ("batchnorm",), free=("Cin", "Hout", "Wout"), optional={"N": 1},
        derived={"H": _same("Hout"), "W": _same("Wout"), "Cout": _same("Cin")},
        fields=_elementwise, construction=_SAME + "; Cout = Cin",
    ),
    KindModel(
        kinds=("add", "mul"), free=("Cin", "Hout", "Wout"), optional={"N": 1, "inputs": 2},
        derived={"H": _same("Hout"), "W": _same("Wout"), "Cout": _same("Cin")},
        fields=_merge, construction=_SAME + "; Cout = Cin; inputs operands",
    ),
)

BY_KIND: dict[str, KindModel] = {k: m for m in MODELS for k in m.kinds}

QUANTITIES = ("params", "buffers", "macs", "flops", "mem_access")


def model_for(kind: str) -> KindModel:
    try:
        return BY_KIND[kind]
    except KeyError:
        raise UsageError(
            f"'{kind}' is not a layer kind calc check knows",
            expected="one of " + ", ".join(BY_KIND),
        ) from None


def parse_against(text: str) -> tuple[str, str]:
    """'conv.flops' -> ('conv', 'flops')."""
    kind, dot, quantity = text.partition(".")
    if not dot or not kind or not quantity:
        raise UsageError(f"--against {text!r} is not KIND.QUANTITY", expected="e.g. conv.flops")
    model_for(kind)
    if quantity not in QUANTITIES:
        raise UsageError(
            f"--against {text}: unknown quantity '{quantity}'", expected="one of " + ", ".join(QUANTITIES)
        )
    return kind, quantity
