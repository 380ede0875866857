"""Convention-free counts of one primitive operation.

A layer's formulas produce a `Tally`: its output shape, its parameters, and a few counters that
every counting convention is built from (`calc.conventions` turns counters into FLOPs with a row
of coefficients).  Counters are exact ints, or sympy expressions on the symbolic path.

Counters
--------
macs         multiply-accumulates (products) of a dot-product layer, bias excluded
dot_outputs  number of dot products computed (each of n products needs n-1 adds to reduce)
bias_adds    additions of a bias, one per output of a biased dot-product layer, or one per element
             of a layer/group/instance norm with a learnt shift (bias)
window       elements a pooling/interpolation window visits, summed over outputs
merge_ops    element-wise binary operations that combine inputs: (inputs - 1) x output elements
rows         independent reductions (softmax, layer/group/instance/RMS norm: one per vector
             normalised with statistics computed from the input)
macs_all     every product a standard implementation computes: = macs, except for a transposed
             conv, whose scatter also computes the products cropped by its padding
macs_at_outputs  out x (Cin/g) x prod(K): = macs for a conv; for a transposed conv the figure
             tools get by pricing it like a forward conv on its output (thop 0.1.1, torchinfo)
string_padded_macs  macs of a conv whose padding is given as a string ('same', 'valid'), else 0:
             PyTorch runs such a call as aten::_convolution_mode, not aten::_convolution
calflops_macs  the products calflops 0.3.2 recomputes from a conv call's arguments: = macs, except
             for 'same' padding, which it pads d(K-1)//2 on each side (one position short per
             axis where d(K-1) is odd), and for a transposed conv, N * prod(S_in) * prod(K) * Cin *
             ((Cout/g) // g): the per-group output channels divided by the groups once more
calflops_bias_adds  the bias adds it recomputes: = bias_adds, except at that short 'same' size,
             and for a transposed conv bias * N * (Cout/g) * prod(S'), S' per axis the forward-conv
             size of its input, floor((H + 2p - d(K-1) - 1)/s) + 1 (which may be 0 or negative)
affine_in    input elements of a normalisation with a learnt scale (and shift) (else 0)
stats_in     input elements of a normalisation whose statistics are computed from the input
             itself (layer, group, instance, RMS norm; 0 for batch norm and for an instance norm
             using its running statistics in eval mode)
scaled_in    input elements of an upsample given by scale_factor (else 0)
target_positions  prod(size) of an upsample given by size (else 0)
lhs_macs     products as a tool recomputes them from a matmul call's arguments: elements of the
             first operand x the second operand's last axis (= macs unless the first operand is
             broadcast over batch axes it lacks, or the second is a vector)
index_space  size of an einsum's index space: the product of every distinct index's size (each
             point is one term of the sum; 0 for every other operation)
masked_macs  products of an attention score or weighted-sum matmul that a causal or sliding-window
             mask discards (a dense kernel computes them; a masked one need not): 0 elsewhere
masked_outputs  entries of an attention score matrix that the mask discards, in a score-shaped
             operation (scores, scale, mask, softmax): 0 elsewhere
calls        1: one per operation (a tool's per-call constant, e.g. numpy's einsum_path + 1)
batch_params params x N (N = the output's first axis): per-sample parameter reads
in_elements  elements of all inputs (derived from the shapes)
out_elements elements of the output (derived from the shape)
params       trainable parameters
grad_macs    a training step's products for the gradient of the input: macs, 0 for an operation
             reading the network's input (the data needs no gradient)
head_macs    macs of a language model's output layer (a linear with role: lm_head), else 0: the
             LLM conventions that leave the head out (Kaplan) subtract it
lookup_macs  an embedding's lookup priced as a one-hot matmul, tokens x num_embeddings x dim
             (Chinchilla's appendix F counts the input embedding so); 0 elsewhere
token_params params x tokens (tokens: the output's entries before its last axis; a mixture's
             experts: the layer's tokens, all experts' params, as "N" counts them), 0 for a tied
             weight counted at its owner: the "6N per token" conventions price parameters
cache_entries  entries of the KV cache an attention's scores (K) or weighted sum (V) read: N x the
             keys kept (all S, or the sliding window's most recent) x kv_heads x head_dim; 0 elsewhere
weights_read parameters an evaluation reads (memory access): = params, except for an embedding
             (the rows looked up: one per token, not the table) and a mixture's experts (those
             the routed tokens reach, at most min(E, token-expert pairs))
inactive_params  parameters a token does not use: the (experts - top_k) experts a mixture of
             experts leaves out (0 elsewhere): active parameters = params - inactive_params
buffers      non-trainable stored values (e.g. batch-norm running mean and variance)
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from calc.arith import prod

Shape = tuple[Any, ...]
"""(N, C, *spatial) for feature maps, (N, F) for flat vectors; entries are ints or symbols."""


class Counter(StrEnum):
    MACS = "macs"
    DOT_OUTPUTS = "dot_outputs"
    BIAS_ADDS = "bias_adds"
    WINDOW = "window"
    MERGE_OPS = "merge_ops"
    ROWS = "rows"
    MACS_ALL = "macs_all"
    MACS_AT_OUTPUTS = "macs_at_outputs"
    STRING_PADDED_MACS = "string_padded_macs"
    CALFLOPS_MACS = "calflops_macs"
    CALFLOPS_BIAS_ADDS = "calflops_bias_adds"
    AFFINE_IN = "affine_in"
    STATS_IN = "stats_in"
    SCALED_IN = "scaled_in"
    TARGET_POSITIONS = "target_positions"
    HEAD_MACS = "head_macs"
    LOOKUP_MACS = "lookup_macs"
    TOKEN_PARAMS = "token_params"
    GRAD_MACS = "grad_macs"
    LHS_MACS = "lhs_macs"
    INDEX_SPACE = "index_space"
    MASKED_MACS = "masked_macs"
    MASKED_OUTPUTS = "masked_outputs"
    CALLS = "calls"
    BATCH_PARAMS = "batch_params"
    IN_ELEMENTS = "in_elements"
    OUT_ELEMENTS = "out_elements"
    PARAMS = "params"
    BUFFERS = "buffers"


class Tally:
    """Treat as immutable.  A plain slotted class, not a dataclass: a network re-evaluation
    builds one per distinct operation, and this constructor is the cheapest Python offers."""

    __slots__ = (
        "op", "inputs", "output", "params", "buffers", "macs", "dot_outputs", "bias_adds",
        "window", "merge_ops", "rows", "macs_all", "macs_at_outputs", "string_padded_macs",
        "calflops_macs", "calflops_bias_adds", "affine_in", "stats_in", "scaled_in", "target_positions",
        "lhs_macs", "index_space", "masked_macs", "masked_outputs", "cache_entries", "weights_read", "inactive_params", "head_macs",
        "lookup_macs", "tokens", "tied", "reads_input", "in_elements",
        "out_elements",
    )

    def __init__(
        self,
        op: str,
        inputs: tuple[Shape, ...],
        output: Shape,
        params: Any = 0,
        buffers: Any = 0,
        macs: Any = 0,
        dot_outputs: Any = 0,
        bias_adds: Any = 0,
        window: Any = 0,
        merge_ops: Any = 0,
        rows: Any = 0,
        macs_all: Any = None,
        macs_at_outputs: Any = None,
        string_padded_macs: Any = 0,
        calflops_macs: Any = None,
        calflops_bias_adds: Any = None,
        affine_in: Any = 0,
        stats_in: Any = 0,
        scaled_in: Any = 0,
        target_positions: Any = 0,
        lhs_macs: Any = None,
        index_space: Any = 0,
        masked_macs: Any = 0,
        masked_outputs: Any = 0,
        cache_entries: Any = 0,
        weights_read: Any = None,
        inactive_params: Any = 0,
        head_macs: Any = 0,
        lookup_macs: Any = 0,
        tokens: Any = None,
    ) -> None:
        self.op = op
        self.inputs = inputs
        self.output = output
        self.params = params
        self.buffers = buffers
        self.macs = macs
        self.dot_outputs = dot_outputs
        self.bias_adds = bias_adds
        self.window = window
        self.merge_ops = merge_ops
        self.rows = rows
        # For every operation but a transposed conv the three product counts coincide.
        self.macs_all = macs if macs_all is None else macs_all
        self.macs_at_outputs = macs if macs_at_outputs is None else macs_at_outputs
        self.string_padded_macs = string_padded_macs
        self.calflops_macs = macs if calflops_macs is None else calflops_macs
        self.calflops_bias_adds = bias_adds if calflops_bias_adds is None else calflops_bias_adds
        self.affine_in = affine_in
        self.stats_in = stats_in
        self.scaled_in = scaled_in
        self.target_positions = target_positions
        self.lhs_macs = macs if lhs_macs is None else lhs_macs
        self.index_space = index_space
        self.masked_macs = masked_macs
        self.masked_outputs = masked_outputs
        self.cache_entries = cache_entries
        self.weights_read = params if weights_read is None else weights_read
        self.inactive_params = inactive_params
        self.head_macs = head_macs
        self.lookup_macs = lookup_macs
        self.tokens = tokens
        """Tokens the parameters serve (token_params), when not the output's leading entries
        (a mixture's experts: the layer's tokens, not its token-expert pairs)."""
        self.tied = False
        """True when this operation's weight is another's (`tie:`): set by the network."""
        self.reads_input = False
        """True when it reads the network's (or a standalone layer's) input, whose gradient a
        training step does not compute: set by the network."""
        # Derived counters, computed at once: every costing reads both.
        self.out_elements = prod(output)
        self.in_elements = prod(inputs[0]) if len(inputs) == 1 else sum(map(prod, inputs))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__[:-2])
        return f"Tally({fields})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not Tally:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__[:-2])

    __hash__ = None  # type: ignore[assignment]  # mutable slots, compared by value

    @property
    def calls(self) -> int:
        return 1

    @property
    def grad_macs(self) -> Any:
        """The products of the gradient of its input, in a training step: macs, unless it reads
        the network's input, which needs none."""
        return 0 if self.reads_input else self.macs

    @property
    def token_params(self) -> Any:
        if self.tied or not self.output:
            return 0
        return self.params * (prod(self.output[:-1]) if self.tokens is None else self.tokens)

    @property
    def batch_params(self) -> Any:
        return self.output[0] * self.params if self.output else self.params
