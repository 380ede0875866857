"""Topic `6n`: the "6N FLOPs per training token" rule, from the forward and backward matmuls, and
when it holds.

    one weight matrix   forward y = x W: 2 per multiply-accumulate, 2 T N_W; backward: the input
                        gradient dX = dY W^T (2 T N_W) and the weight gradient dW = X^T dY
                        (2 T N_W): 6 T N_W, 6 N_W per token
    the network         6 N per token, N the weights multiplied per token (no embedding table)
    what moves it       attention's T^2 products (12 L T d per token, dense; 6 L T d causal),
                        the LM head when N leaves it out (6 d V), the first layer's input
                        gradient when nothing before it trains (-2 N_first)
A GPT layer (d_ff = 4d) has 12 d^2 weights: attention adds T/(6d) of its 6N, so 6N is within 10%
of the dense count while T <= 2d/3.  GPT-2 at T = 1024: kaplan's 6N and megatron-2023 differ by
exactly the attention and LM head terms.

Source: calc/conventions/llm.py (kaplan, megatron-2023, megatron), calc/layers/linear.py,
calc/layers/attention.py; ends on the library's figures (layer_costs, Network.evaluate).
"""

from __future__ import annotations

from calc import conventions
from calc.closed_form import layer_costs
from calc.derive.core import Derivation, frac, grouped, written
from calc.derive.library import costs, symbols
from calc.symbolic import sympy

TITLE = "the 6N rule: FLOPs of a training step, and when it holds"

GPT2 = dict(L=12, d=768, V=50257, T=1024)
"""specs/gpt2.yaml: n_layer 12, n_embd 768, vocab_size 50257, its context n_positions 1024."""


def training_costs(kind: str, convention: str, **fields):
    """layer_costs of one layer under a convention's training step (forward + backward)."""
    return layer_costs(kind, fields, conventions.get(convention).for_training())


def gpt2_training_flops(convention: str) -> int:
    """FLOPs of one training step of GPT-2 (N = 1, T = 1024) by the library's Network evaluation."""
    from calc.library import library_path
    from calc.network import load_network

    return load_network(library_path("gpt2")).evaluate(convention, mode="training").totals.flops


def build() -> Derivation:
    T, a, b, L, d, V, N = symbols("T a b L d V N")
    p = sympy.Symbol("p", positive=True)
    s = sympy.Symbol("s", nonnegative=True)
    D = Derivation("6n", TITLE, "calc/conventions/llm.py (kaplan, megatron-2023); Network.evaluate")
    D.note("One linear layer y = x W on T tokens: X is T x a, W is a x b (N_W = a*b weights), Y is "
           "T x b.  FLOPs count 2 per multiply-accumulate (a multiply and an add); biases, norms "
           "and activations are lower order (O(T*b) per layer, not O(T*a*b)) and left out.")

    D.section("One weight matrix: forward and backward")
    fwd = D.define("F_fwd", 2 * T * a * b, "Y = X W: T*b outputs, each a multiply-accumulates")
    dx = D.define("F_dX", 2 * T * a * b, "input gradient dX = dY W^T: T*a outputs, each over b")
    dw = D.define("F_dW", 2 * T * a * b, "weight gradient dW = X^T dY: a*b outputs, each over T tokens")
    D.define("F_step", fwd + dx + dw, "a training step: forward, then both gradients")
    D.equals(6 * T * a * b, "collect terms: 6 T N_W, i.e. 6 N_W per token")
    D.library(T * training_costs("linear", "megatron-2023", Cin=a, Cout=b, bias=False)["flops"],
              "T x layer_costs('linear', Cin=a, Cout=b, bias=False) under megatron-2023, training "
              "(3 x every GEMM)")
    D.equals(3 * fwd, "the backward pass is twice the forward", lhs=6 * T * a * b)

    D.section("The network: 6N per token")
    D.note("Summed over every weight matrix a token is multiplied by: N is the weights multiplied per "
           "token.  The embedding table is a lookup (no products: not in N); a tied LM head's weight "
           "is the same table, multiplied once per token (in N once, as the head).  Conventions "
           "differ on N (calc/conventions/llm.py): Kaplan's is the layers' weight matrices only, "
           "the LM head out; PaLM's every parameter; Hugging Face's all but nn.Embedding.")

    D.section("A GPT layer and what moves 6N")
    D.note("L pre-norm layers of width d, MLP width 4d, vocabulary V, context T (N = 1 sequence).")
    n_attn = D.define("N_attn", 4 * d**2, "Wq, Wk, Wv, Wo: d x d each")
    n_mlp = D.define("N_mlp", 2 * grouped(4 * d) * d, "d -> 4d and 4d -> d")
    n_layer = D.define("N_layer", n_attn + n_mlp, "the weights multiplied per token in one layer")
    D.equals(12 * d**2, "collect terms")
    attn = dict(N=1, heads=1, head_dim=d, input=[T, d], qkv_bias=False, out_bias=False)
    D.library(costs("attention", **attn)["params"] + costs("linear", Cin=d, Cout=4 * d, bias=False)["params"]
              + costs("linear", Cin=4 * d, Cout=d, bias=False)["params"],
              "layer_costs params: attention (no biases) + linear d->4d + linear 4d->d", lhs=12 * d**2)
    six_n = D.define("C_6N", 6 * L * 12 * d**2, "6N per token, N = 12 L d^2 (Kaplan's N)")

    fwd_mid = D.define("M_mid", 2 * T**2 * d, "attention's q k^T and p v: T^2 products of width d each, "
                       "per layer and sequence (calc derive attention)")
    D.library(costs("attention", **attn)["macs"] - costs("attention", **attn)["params"] * T,
              "layer_costs('attention')['macs'] less its projections' T*4d^2")
    a_token = D.define("C_attn", frac(L * 3 * 2 * fwd_mid, T),
                       "per token in training: 2 FLOPs per MAC, 3 x the forward (both products have "
                       "inputs, not weights, as operands: dQ, dK and dV, dP each cost a forward)")
    D.equals(12 * L * T * d, "simplify: attention adds 12 L T d per token, dense")
    D.equals(6 * L * T * d, "a kernel that skips the masked half of a causal T x T (Megatron's "
             "current formula): half", lhs=frac(12 * L * T * d, 2))
    D.equals(frac(T, 6 * d), "its share of 6N: T/(6d), the same for every layer's 12d^2",
             lhs=frac(12 * L * T * d, six_n))

    head = D.define("C_head", 6 * d * V, "the LM head d -> V: 6 N_W per token, when N leaves it out (Kaplan)")
    D.library(training_costs("linear", "megatron-2023", Cin=d, Cout=V, bias=False)["flops"],
              "layer_costs('linear', Cin=d, Cout=V) under megatron-2023, training")
    D.equals(frac(V, 12 * L * d), "its share of the layers' 6N", lhs=frac(head, six_n))
    D.define("C_first", -2 * 3 * d**2, "no input gradient for the first layer's q, k, v "
             "projections (-2 N_first per token), but only when nothing before it trains")
    D.note("A GPT's embedding table trains, so the first layer's input gradient is needed (its "
           "rows' gradient is that dX): 6N keeps the term.  It drops out for a frozen embedding or "
           "a network whose first weight layer reads raw data (2 N_first per token less).")
    dense = D.define("C_dense", six_n + a_token, "the dense count of the layers: 6N + attention")

    D.section("When it holds")
    D.note("6N is within a fraction p of the dense count when C_dense - 6N <= p C_dense.  Write "
           "T = (6 d p - s)/(1 - p) with s >= 0, i.e. T <= 6 d p/(1 - p) (0 < p < 1):")
    Tp = D.define("T_p", frac(6 * d * p - s, 1 - p), "a context s >= 0 short of 6 d p/(1 - p)")
    D.at_least(0, "p C_dense - (C_dense - 6N) at T = T_p: 12 L d s >= 0", witness=12 * L * d * s,
               lhs=p * grouped(72 * L * d**2 + 12 * L * Tp * d) - 12 * L * Tp * d)
    D.equals(frac(2 * d, 3), "within 10% (p = 1/10): T <= 6 d p/(1 - p) = (6d/10)/(9/10) = 6d/9 = 2d/3",
             lhs=frac(6 * d, 9))
    D.equals(512, "GPT-2 (d = 768): 6N is within 10% up to T = 512", lhs=frac(2 * 768, 3))
    T1 = D.define("T_1", frac(2 * d, 3) + 1, "one token past it")
    D.at_least(0, "at T = T_1 it is not: the attention term exceeds p C_dense by (9/10)*12 L d",
               witness=sympy.Rational(54, 5) * L * d,
               lhs=12 * L * T1 * d - sympy.Rational(1, 10) * grouped(72 * L * d**2 + 12 * L * T1 * d))
    D.note("With the LM head left out of N as well, the dense count is 6N + 12 L T d + 6 d V: the "
           "head alone is V/(12 L d) of 6N, whatever T.")

    D.section("GPT-2 at T = 1024, against the library")
    g = GPT2
    kaplan = gpt2_training_flops("kaplan")
    D.library(kaplan, "load_network('gpt2').evaluate('kaplan', mode='training').totals.flops",
              lhs=written(6, 12 * g["L"] * g["d"] ** 2, g["T"]))
    attention_term = 12 * g["L"] * g["T"] * g["d"] * g["T"]
    head_term = 6 * g["d"] * g["V"] * g["T"]
    D.library(gpt2_training_flops("megatron-2023"), "evaluate('megatron-2023', mode='training'): "
              "every GEMM 3 x, the attention dense, the LM head counted: 6N T (N = 12 L d^2) + 12 L T d T + 6 d V T",
              lhs=kaplan + grouped(attention_term) + grouped(head_term))
    D.differs(kaplan, "6N falls short of megatron-2023 by 353,106,395,136: attention + the LM head",
              lhs=874944921600)
    D.library(gpt2_training_flops("megatron"), "evaluate('megatron', mode='training'): the causal "
              "attention halved", lhs=kaplan + grouped(frac(attention_term, 2)) + grouped(head_term))
    D.rounds_to("0.222", "attention's share of 6N at T = 1024: T/(6d) = 1024/4608 = 2/9",
                lhs=frac(attention_term, kaplan))
    D.rounds_to("0.454", "the LM head's: V/(12 L d) = 50257/110592", lhs=frac(head_term, kaplan))
    D.rounds_to("0.404", "6N's shortfall of the dense megatron-2023 count",
                lhs=frac(874944921600 - kaplan, 874944921600))
    return D
