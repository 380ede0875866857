"""Multi-head attention (self, cross, grouped-query, causal, sliding window, with a KV cache),
expanded into the primitive operations a PyTorch model runs, so that every convention prices
each part and reports show them.

Input x (N, T, d).  H = heads, G = kv_heads (G divides H: grouped-query; G = 1: multi-query),
h = head_dim (default d / H), S = keys attended to (T; kv_len with a cache or in cross attention).

    q = x Wq (d -> H*h)      k, v = x Wk, x Wv (d -> G*h; from the other sequence when cross)
    scores = q k^T           N*H*T*S*h products        (each query head reads its group's key head)
    scale, mask, softmax     per score: N*H*T*S entries, softmax rows N*H*T of length S
    context = p v            N*H*T*S*h products
    out = context Wo         (H*h -> d)
Projections with full heads cost 2*T*d*(H + G)*h MACs per sample, 4*T*d^2 when G = H and h = d/H;
scores and context 2*T*S*H*h, 2*T^2*d for self attention.

Causal and sliding-window masks (query i sees keys j <= i, and j > i - window; a window of at
least the keys is full causal attention, as on a prompt shorter than Mistral's 4096) leave
`visible_pairs` of the T*S (query, key) pairs; a dense kernel still computes all of them, which
is what the MACs columns count: the products a mask discards are the `masked_macs` counter, and
the 'needed' convention prices only the products actually needed.  With a cache the T new
queries come last: query i is at position S - T + i.

`fused` says how PyTorch computes it, which is what profilers see:
    (`projection: conv1d`: the projections are Hugging Face transformers' Conv1D, GPT-2's c_attn
    and c_proj, op conv1d: see calc.layers.linear)
    eager  nn.Linear projections, torch.matmul (or @) for scores and context, scores * scale,
           + mask, F.softmax (Hugging Face's eager path)
    sdpa   nn.Linear projections, F.scaled_dot_product_attention for the middle (one call:
           ops sdpa_scores, sdpa_scale, sdpa_mask, sdpa_softmax, sdpa_context)
    mha    nn.MultiheadAttention: packed in-projection F.linear(x, in_proj_weight) (separate
           weights when cross; op mha_in_proj: on the batch-first input, transposed, it runs as
           aten mm + add, not addmm, unless N = 1 or T = 1), q * scale, torch.bmm (baddbmm with
           a mask), F.softmax, torch.bmm, F.linear(out_proj); with need_weights: false its
           middle is the sdpa call.
           An extra zero-cost row `module` stands for the module itself (tools that hook
           nn.MultiheadAttention price it there).
           With grad disabled, an eval-mode self attention with an in-projection bias, an even
           head count and no float mask runs instead as one fused op,
           torch._native_multi_head_attention (torch/nn/modules/activation.py:1327-1450), which
           only a tool that runs under no_grad sees (FlopCounterMode as it is usually called,
           thop, torchinfo).  Such a module's products are the ops mha_fast_in_proj,
           mha_fast_bmm, mha_fast_baddbmm, mha_fast_out_proj (the same counts; conventions
           of tools that do not take the fast path price them as mha_in_proj, bmm, baddbmm and
           the functional linear).  `fast_path: false` says the module does not take it
           (training mode, a float mask).
"""

from typing import Any, Literal

from pydantic import Field, model_validator

from calc.arith import exact_div, flag, is_int, max_, min_, prod
from calc.errors import ShapeError, SpecError
from calc.layers.base import Layer, PositiveInt, format_shape
from calc.layers.linear import linear_tally
from calc.layers.tensor import TensorInput
from calc.tally import Shape, Tally


# -- formulas ------------------------------------------------------------------------------------
def visible_pairs(T: Any, S: Any, causal: Any, window: Any = None) -> Any:
    """(query, key) pairs a mask keeps.  Query i (0 <= i < T) sits at position p = S - T + i and
    sees keys j <= p (causal), and j > p - window (sliding window): min(window, p + 1) keys.
    Full attention: T*S.  Causal: T*(S - T) + T*(T + 1)/2.  With a window w, the first
    m = clamp(w - (S - T) - 1, 0, T) queries see p + 1 < w keys, the rest w:
    m*(S - T + 1) + m*(m - 1)/2 + (T - m)*w."""
    if not causal:
        return T * S
    past = S - T
    if window is None:
        return T * past + exact_div(T * (T + 1), 2)
    m = min_(max_(window - past - 1, 0), T)
    return m * (past + 1) + exact_div(m * (m - 1), 2) + (T - m) * window


def kv_cache_entries(N: Any, S: Any, kv_heads: Any, head_dim: Any, window: Any = None) -> Any:
    """Entries of one layer's K cache (the V cache is as large): N sequences x the keys kept x
    kv_heads x head_dim; a sliding window keeps only its `window` most recent keys: min(S, w)."""
    kept = S if window is None else min_(S, window)
    return N * kept * kv_heads * head_dim


def attention_macs(N: Any, heads: Any, T: Any, S: Any, head_dim: Any) -> Any:
    """Products of the scores q k^T, and again of the context p v: N*H*T*S*h each."""
    return N * heads * T * S * head_dim


def projection_macs(N: Any, T: Any, d: Any, heads: Any, kv_heads: Any, head_dim: Any,
                    S_kv: Any = None, d_kv: Any = None) -> Any:
    """q, k, v and output projections: N*T*d*H*h (q) + 2*N*S'*d'*G*h (k, v from S' tokens of d'
    features) + N*T*H*h*d (out).  Self attention with full heads: 4*N*T*d^2."""
    S_kv = T if S_kv is None else S_kv
    d_kv = d if d_kv is None else d_kv
    return 2 * N * T * d * heads * head_dim + 2 * N * S_kv * d_kv * kv_heads * head_dim


def attention_params(d: Any, heads: Any, kv_heads: Any, head_dim: Any, qkv_bias: Any, out_bias: Any,
                     d_kv: Any = None) -> Any:
    """Wq d*H*h, Wk and Wv d'*G*h each, Wo H*h*d, plus biases (H + 2G)*h and d.
    Full heads without cross: 4d^2 + 4d with biases."""
    d_kv = d if d_kv is None else d_kv
    return (d * heads * head_dim + 2 * d_kv * kv_heads * head_dim + heads * head_dim * d
            + qkv_bias * (heads + 2 * kv_heads) * head_dim + out_bias * d)


# -- primitives (made by Attention.graph; not kinds a spec names) ---------------------------------
class _Part(Layer):
    """A primitive of attention, carrying what its tally needs.  `op` is the operation name the
    conventions price (its tool-visible form).  Made with model_construct by Attention, whose
    validation covers these fields.  head_dim None means d / heads, d the width of the
    attention's input, known only when shapes are: each primitive derives it from its own."""

    USES_CONTEXT = True

    type: str = "attention"
    op: str = ""
    heads: Any = 1
    kv_heads: Any = 1
    head_dim: Any = None
    S: Any = None
    causal: bool = False
    window: Any = None
    cross: bool = False
    context: Any = 0
    """Tokens already in the KV cache (set per evaluation, `Network.evaluate(context=P)`): self
    attention's T new queries attend to P + T keys."""

    @property
    def kind(self) -> str:
        return self.op

    def keys(self, new: Any) -> Any:
        """Keys attended to: the stated kv_len, else the `new` keys computed now plus the cache."""
        if self.S is None:
            return new + self.context
        if self.context and not self.cross:
            raise ShapeError(f"kv_len={self.S} fixes the keys; a context (KV cache) adds to keys "
                             "the layer computes", field="kv_len",
                             expected="no kv_len (the context sets the cache), or no context")
        return self.S

    def _masked(self, N: Any, heads: Any, T: Any, S: Any) -> Any:
        """Entries of the N x heads x T x S score matrix the mask discards."""
        return N * heads * (T * S - visible_pairs(T, S, self.causal, self.window))


class Projection(_Part):
    """A q/k/v/out projection (an nn.Linear, or F.linear when `call` is functional) of width
    `count` heads of head_dim, from the attention's input x (N, T, d).  k and v in cross
    attention project another sequence of `tokens` x `features`, not a value of the network: its
    shape stands in for the input.  The output projection (`count` 0) reads (context, x) and maps
    context back to x's width d.
    nn.MultiheadAttention's in-projections (mha_in_proj, mha_fast_in_proj) read its batch-first
    input transposed to (T, N, d), which is contiguous only when N = 1 or T = 1: ATen's linear
    then runs one addmm, bias included; otherwise mm and a separate aten.add of the bias: those
    separate adds are its merge_ops (0 when contiguous; ptflops' aten backend prices addmm, not
    add)."""

    count: Any = 1
    bias: bool = True
    tokens: Any = None
    features: Any = None

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        x, d = inputs[0], inputs[-1][-1]
        if self.count == 0:
            cout = d
        else:
            cout = self.count * (self.head_dim if self.head_dim is not None else d // self.heads)
            if self.tokens is not None:
                x = (x[0], self.tokens, self.features if self.features is not None else d)
        separate = 0
        if self.op in ("mha_in_proj", "mha_fast_in_proj"):  # (rows, N, d) contiguous iff 1 in (N, rows)
            separate = flag(self.bias) * prod(x[:-1]) * cout * min_(x[0] - 1, 1) * min_(x[1] - 1, 1)
        return linear_tally(x, cout, self.bias, op=self.op, merge_ops=separate)


class LastSlice(_Part):
    """Heads `start` to `stop` of the packed projection (H + 2G heads wide): x[..., a*h:b*h],
    a view, no arithmetic."""

    start: Any = 0
    stop: Any = 0

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (x,) = inputs
        h = x[-1] // (self.heads + 2 * self.kv_heads)
        return Tally(op="split", inputs=inputs, output=(*x[:-1], (self.stop - self.start) * h))


class Scores(_Part):
    """q (N, T, H*h) . k (N, S', G*h)^T -> (N, H, T, S): each query head against its group's key
    head (baddbmm adds the additive mask too, one add per score: bias_adds).  For baddbmm,
    calflops_bias_adds is the added tensor's elements as nn.MultiheadAttention passes it: its
    2-D (T, S) attn_mask unsqueezed to (1, T, S) (torch/nn/functional.py:7058), T*S, which is
    what calflops and ptflops recompute from the call's arguments."""

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        q, k = inputs
        N, T, H = q[0], q[1], self.heads
        S = self.keys(k[1])
        h = q[-1] // H
        if self.context:  # the cached keys are read too
            inputs = (q, (k[0], S, k[2]))
        masked = self._masked(N, H, T, S)
        outputs = N * H * T * S
        added = self.op in ("baddbmm", "mha_fast_baddbmm")
        return Tally(op=self.op, inputs=inputs, output=(N, H, T, S),
                     macs=attention_macs(N, H, T, S, h), dot_outputs=outputs,
                     cache_entries=kv_cache_entries(N, S, k[-1] // h, h, self.window),
                     bias_adds=outputs if added else 0,
                     calflops_bias_adds=T * S if added else 0,
                     masked_macs=masked * h, masked_outputs=masked)


class Context(_Part):
    """p (N, H, T, S) . v (N, S', G*h) -> (N, T, H*h), the heads merged back."""

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        p, v = inputs
        N, H, T, S = p
        h = v[-1] // self.kv_heads
        if self.context:  # the cached values are read too
            inputs = (p, (v[0], S, v[2]))
        return Tally(op=self.op, inputs=inputs, output=(N, T, H * h),
                     macs=attention_macs(N, H, T, S, h), dot_outputs=N * T * H * h,
                     cache_entries=kv_cache_entries(N, S, self.kv_heads, h, self.window),
                     masked_macs=self._masked(N, H, T, S) * h)


class ScoreMap(_Part):
    """One operation per entry of the scores (scale, mask, softmax: rows of S) or, for mha's
    scale, of q; shape kept.  On scores, the entries the mask discards are counted."""

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (x,) = inputs
        masked = self._masked(*x) if len(x) == 4 else 0
        rows = prod(x[:-1]) if self.op in ("softmax", "sdpa_softmax") else 0
        return Tally(op=self.op, inputs=inputs, output=x, rows=rows, masked_outputs=masked)


class Rotary(_Part):
    """Rotary position embedding on q or k (N, T, heads*h): x*cos + rotate_half(x)*sin, 2
    multiplies and 1 add per element, and rotate_half negates half of each head's entries
    (rows: that half)."""

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (x,) = inputs
        return Tally(op="rotary", inputs=inputs, output=x, rows=exact_div(prod(x), 2))


class ModuleRow(_Part):
    """nn.MultiheadAttention itself, costing nothing (no MACs, no memory traffic: its parts have
    rows of their own): where tools that hook the module price it.
    Its tally states the module's sizes as counters: macs_all the products of its projections,
    scores and context; bias_adds its in-projection bias adds N*(T + 2S)*d; rows the softmax
    rows N*H*T; window the score entries N*H*T*S; in_elements the elements of q; lhs_macs the
    products as ptflops' module hook recomputes them from the module's inputs (ptflops 0.7.5
    pytorch_ops.py:180-243): N*(T*d^2 + S*kd^2 + S*vd^2 + H*T*S*(d//H) + H*T*S*(vd//H) +
    T*vd*(vd + 1)), kd = vd the key/value width (kdim*kdim, not kdim*d; the output projection
    at vdim with its bias always counted)."""

    kv_dim: Any = None
    bias: bool = True

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (x,) = inputs
        N, T, d = x
        S = T if self.S is None else self.S
        H = self.heads
        h = d // H
        d_kv = d if self.kv_dim is None else self.kv_dim
        hook = (T * d * d + 2 * S * d_kv * d_kv + H * T * S * (d // H) + H * T * S * (d_kv // H)
                + T * d_kv * (d_kv + 1))
        return Tally(
            op="mha", inputs=inputs, output=x,
            macs=0, macs_all=projection_macs(N, T, d, H, H, h, S, d_kv) + 2 * attention_macs(N, H, T, S, h),
            bias_adds=flag(self.bias) * N * (T + 2 * S) * d,
            rows=N * H * T, window=N * H * T * S, lhs_macs=N * hook,
        )


# -- the record ----------------------------------------------------------------------------------
class Attention(TensorInput):
    """Multi-head attention on (N, T, d): projections, scores, scale, mask, softmax, weighted
    sum, output projection (see the module docstring)."""

    TAGS = ("attention",)
    type: Literal["attention"] = Field("attention", description="the kind: attention")
    heads: PositiveInt = Field(description="query heads H")
    kv_heads: PositiveInt | None = Field(
        None, description="key/value heads G (divides heads; default heads; 1: multi-query)")
    head_dim: PositiveInt | None = Field(None, description="width h of each head (default d / heads)")
    qkv_bias: bool = Field(True, description="whether the q, k, v projections have biases")
    out_bias: bool = Field(True, description="whether the output projection has a bias")
    qkv: Literal["separate", "packed"] = Field(
        "separate", description="separate q, k, v projections, or one packed d -> (H + 2G)*h then split")
    causal: bool = Field(False, description="query i sees keys up to its own position only")
    window: PositiveInt | None = Field(
        None, description="sliding window: each query sees at most this many most recent keys (causal)")
    kv_len: PositiveInt | None = Field(
        None, description="keys S: with a KV cache, cached + T new tokens (at least T); cross: the "
                          "other sequence's length")
    cross: bool = Field(False, description="keys and values come from another sequence of kv_len tokens")
    kv_dim: PositiveInt | None = Field(None, description="features of the other sequence (cross; default d)")
    rotary: bool = Field(False, description="rotary position embedding applied to q and k")
    fused: Literal["sdpa", "eager", "mha"] = Field(
        "sdpa", description="how PyTorch runs it: sdpa (F.scaled_dot_product_attention), "
                            "eager (matmul, softmax), mha (nn.MultiheadAttention)")
    projection: Literal["linear", "conv1d"] = Field(
        "linear", description="linear: nn.Linear projections; conv1d: transformers' Conv1D (GPT-2's "
                              "c_attn, c_proj; op conv1d)")
    form: Literal["matmul", "operator"] = Field(
        "matmul", description="eager only: torch.matmul, or the @ operator")
    need_weights: bool = Field(
        True, description="mha only: PyTorch's need_weights (false: the middle is one sdpa call)")
    fast_path: bool | None = Field(
        None, description="mha only: fused inference path under no_grad (default: where it can; "
                          "false: training mode or a float mask)")

    @model_validator(mode="after")
    def _consistent(self) -> "Attention":
        heads, kv = self.heads, self.kv_heads
        if kv is not None and heads % kv:
            raise SpecError(f"kv_heads={kv} does not divide heads={heads}", field="kv_heads",
                            expected="a divisor of heads (grouped-query attention)")
        if self.window is not None and not self.causal:
            raise SpecError("a sliding window applies to causal attention", field="window",
                            expected="causal: true with the window, or no window")
        if self.projection == "conv1d" and (self.fused == "mha" or not (self.qkv_bias and self.out_bias)):
            raise SpecError("transformers' Conv1D projections always have biases and are not "
                            "nn.MultiheadAttention's", field="projection",
                            expected="qkv_bias and out_bias true and fused sdpa or eager, or projection: linear")
        if self.cross and self.kv_len is None:
            raise SpecError("cross attention needs kv_len, the other sequence's length", field="kv_len",
                            expected="kv_len: S")
        if self.cross and self.causal:
            raise SpecError("causal applies to self attention, not cross attention", field="causal",
                            expected="causal: false with cross: true")
        if self.kv_dim is not None and not self.cross:
            raise SpecError("kv_dim is the other sequence's width: it needs cross: true", field="kv_dim",
                            expected="cross: true, or no kv_dim")
        if self.form != "matmul" and self.fused != "eager":
            raise SpecError(f"form applies to fused: eager, not fused: {self.fused}", field="form",
                            expected="fused: eager, or no form")
        if self.fused == "mha":
            for field, bad, why in (
                ("kv_heads", kv is not None and kv != heads, "all heads (no grouped-query)"),
                ("rotary", self.rotary, "no rotary embedding"),
                ("window", self.window is not None, "no sliding window"),
                ("qkv", self.qkv == "packed" and self.cross, "separate projections when cross"),
                ("qkv_bias", self.qkv_bias != self.out_bias, "one bias flag for both projections"),
                ("kv_len", self.kv_len is not None and not self.cross, "no KV cache"),
            ):
                if bad:
                    raise SpecError(f"nn.MultiheadAttention has {why}", field=field,
                                    expected="fused: sdpa or eager for this attention")
        elif not self.need_weights:
            raise SpecError("need_weights applies to fused: mha", field="need_weights",
                            expected="fused: mha, or no need_weights")
        if self.fast_path is not None and self.fused != "mha":
            raise SpecError("fast_path applies to fused: mha (nn.MultiheadAttention)", field="fast_path",
                            expected="fused: mha, or no fast_path")
        if self.fast_path and not self._fast_path_possible():
            raise SpecError("nn.MultiheadAttention takes its fast path only for self attention with "
                            "an in-projection bias and an even number of heads "
                            "(torch/nn/modules/activation.py:1362-1434)", field="fast_path",
                            expected="no fast_path, or fast_path: false")
        return self

    def _fast_path_possible(self) -> bool:
        return not self.cross and self.qkv_bias and self.heads % 2 == 0

    def takes_fast_path(self) -> bool:
        """Whether nn.MultiheadAttention, run with grad disabled, computes this module as the
        one fused op torch._native_multi_head_attention (activation.py:1327-1450): eval mode
        and no float mask (fast_path not false), self attention (query is key is value), an
        in-projection bias, an even head count, batch-first input (calc's (N, T, d))."""
        return self.fused == "mha" and self.fast_path is not False and self._fast_path_possible()

    # -- shapes ----------------------------------------------------------------------------------
    def check_inputs(self, inputs: tuple[Shape, ...]) -> None:
        (x,) = inputs
        if len(x) != 3:
            raise ShapeError(f"attention takes (N, T, d) but its input is {format_shape(x)}",
                             field="type", expected="a sequence of token vectors (N, T, d)")
        super().check_inputs(inputs)
        _, T, d = x
        if self.head_dim is None and is_int(d) and d % self.heads:
            raise ShapeError(f"heads={self.heads} does not divide d={d}", field="heads",
                             expected="a divisor of d, or head_dim stated")
        if self.fused == "mha" and self.head_dim is not None and is_int(d) and self.head_dim * self.heads != d:
            raise ShapeError(f"nn.MultiheadAttention has head_dim = d/heads = {d // self.heads}",
                             field="head_dim", expected="no head_dim")
        head_dim = self.head_dim if self.head_dim is not None else d // self.heads if is_int(d) else None
        if self.rotary and is_int(head_dim) and head_dim % 2:
            stated = self.head_dim is not None
            raise ShapeError(f"rotary embedding rotates pairs: head_dim={head_dim}"
                             + ("" if stated else f" (d={d} / heads={self.heads})") + " is odd",
                             field="head_dim" if stated else "rotary",
                             expected="an even head_dim" if stated else "an even d / heads, or rotary: false")
        if not self.cross and self.kv_len is not None and is_int(T) and self.kv_len < T:
            raise ShapeError(f"kv_len={self.kv_len} is less than the T={T} new tokens", field="kv_len",
                             expected="the cached tokens plus the new ones: at least T")
        # A window of at least the keys attended to has no effect yet (Mistral on a prompt
        # shorter than its 4096 window): full causal attention, which visible_pairs gives.

    def needs_check(self) -> bool:
        return True

    def stated_inputs(self) -> tuple[Shape, ...]:
        if self.input is None:
            raise SpecError("input shape not given", field="input",
                            expected="[T, d] for an (N, T, d) input")
        return super().stated_inputs()

    # -- primitives ------------------------------------------------------------------------------
    def graph(self) -> list[tuple[str, Layer, tuple[int, ...]]]:
        heads, kv = self.heads, self.kv_heads or self.heads
        mha = self.fused == "mha"
        fast = "mha_fast_" if self.takes_fast_path() else ""
        sdpa = self.fused == "sdpa" or (mha and not self.need_weights)
        call = "functional" if mha else "module"
        shared = dict(heads=heads, kv_heads=kv, head_dim=self.head_dim, S=self.kv_len,
                      causal=self.causal, window=self.window, cross=self.cross)
        out: list[tuple[str, Layer, tuple[int, ...]]] = []

        def add(suffix: str, cls: type[_Part], *refs: int, **fields: Any) -> int:
            out.append((suffix, cls.model_construct(**shared, **fields), refs))
            return len(out) - 1

        def project(suffix: str, count: int, bias: bool, *refs: int, **cross: Any) -> int:
            op = "conv1d" if self.projection == "conv1d" else "linear"
            if mha:  # the in-projections (count > 0) read the transposed batch-first input
                op = ((fast or "mha_") + "in_proj") if count else (fast + "out_proj" if fast else "linear")
            return add(suffix, Projection, *refs, op=op, count=count, bias=bias, call=call, **cross)

        if mha:
            add("module", ModuleRow, -1, op="mha", kv_dim=self.kv_dim, bias=self.qkv_bias)
        if self.qkv == "packed" or (mha and not self.cross):
            packed = project("qkv", heads + 2 * kv, self.qkv_bias, -1)
            q = add("q", LastSlice, packed, op="split", start=0, stop=heads)
            k = add("k", LastSlice, packed, op="split", start=heads, stop=heads + kv)
            v = add("v", LastSlice, packed, op="split", start=heads + kv, stop=heads + 2 * kv)
        else:
            cross = dict(tokens=self.kv_len, features=self.kv_dim) if self.cross else {}
            q = project("q", heads, self.qkv_bias, -1)
            k = project("k", kv, self.qkv_bias, -1, **cross)
            v = project("v", kv, self.qkv_bias, -1, **cross)
        if self.rotary:
            q = add("rotary_q", Rotary, q, op="rotary")
            k = add("rotary_k", Rotary, k, op="rotary")
        if sdpa:
            names = ("sdpa_scores", "sdpa_scale", "sdpa_mask", "sdpa_softmax", "sdpa_context")
        elif mha:
            names = (fast + ("baddbmm" if self.causal else "bmm"), "attn_scale", "", "softmax", fast + "bmm")
        else:
            matmul = "matmul" if self.form == "matmul" else "matmul_operator"
            names = (matmul, "attn_scale", "attn_mask", "softmax", matmul)
        scores, scale, mask, softmax, context = names
        if mha and not sdpa:  # q * scale before the product; the mask is baddbmm's added term
            q = add("scale", ScoreMap, q, op=scale)
        s = add("scores", Scores, q, k, op=scores)
        if not mha or sdpa:
            s = add("scale", ScoreMap, s, op=scale)
            if self.causal:
                s = add("mask", ScoreMap, s, op=mask)
        s = add("softmax", ScoreMap, s, op=softmax,
                call="functional" if softmax == "softmax" else "module")
        c = add("context", Context, s, v, op=context)
        project("out", 0, self.out_bias, c, -1)
        return out
