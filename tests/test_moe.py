"""Mixture of experts (calc.layers.moe): against a brute-force walk of the routing on small sizes
(a router that sends each token to top_k distinct experts: the products do not depend on which),
the sympy form, active parameters, and the dense-equivalent figure."""

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from calc.closed_form import layer_costs
from calc.layers.moe import expert_params, gating_flops, moe_macs
from calc.parse import parse_layer
from calc.report import evaluate_layer
from calc.symbolic import sympy


def brute(N, T, d, E, k, f, gated, shared, bias, router_bias):
    """Walk every token: the router's d x E products, then for each of k chosen experts each
    matrix's products (gate and up d -> f, down f -> d), then the shared experts' on every
    token.  Products, parameters (counted entry by entry) and active parameters."""
    rng = random.Random(0)
    mats = 3 if gated else 2
    products = 0
    for _token in itertools.product(range(N), range(T)):
        products += sum(1 for _ in itertools.product(range(d), range(E)))  # router
        for _expert in rng.sample(range(E), k):  # distinct experts
            products += sum(1 for _ in itertools.product(range(mats), range(d), range(f)))
        products += sum(1 for _ in itertools.product(range(mats), range(d), range(shared * f)))
    one = mats * d * f + (bias and ((mats - 1) * f + d))
    shared_params = mats * d * shared * f + (bias and shared and ((mats - 1) * shared * f + d))
    router = d * E + (router_bias and E)
    return products, router + E * one + shared_params, router + k * one + shared_params


@settings(max_examples=40, deadline=None)
@given(N=st.integers(1, 2), T=st.integers(1, 3), d=st.integers(1, 4), E=st.integers(1, 5),
       f=st.integers(1, 4), gated=st.booleans(), shared=st.integers(0, 2), bias=st.booleans(),
       router_bias=st.booleans(), data=st.data())
def test_against_brute_force(N, T, d, E, f, gated, shared, bias, router_bias, data):
    k = data.draw(st.integers(1, E))
    layer = parse_layer({"type": "moe", "experts": E, "top_k": k, "hidden": f, "gated": gated,
                         "shared_experts": shared, "bias": bias, "router_bias": router_bias,
                         "N": N, "input": [T, d]})
    totals = evaluate_layer(layer).totals
    products, params, active = brute(N, T, d, E, k, f, gated, shared, bias, router_bias)
    assert (totals.macs, totals.params, totals.active_params) == (products, params, active)
    dense = evaluate_layer(layer.model_copy(update={"routing": "dense"})).totals
    assert dense.macs == totals.macs + N * T * (E - k) * (3 if gated else 2) * d * f
    assert dense.params == totals.params and dense.active_params == params  # every expert used


def test_sympy_form_and_mixtral_layer():
    """Per token: router d*E + top_k experts of 3*d*f (SwiGLU); Mixtral 8x7B's layer
    (d 4096, f 14336, 8 experts, top 2): 1,409,318,912 params, 352,354,304 active."""
    N, T, d, E, k, f = sympy.symbols("N T d E k f", integer=True, positive=True)
    costs = layer_costs("moe", dict(N=N, input=[T, d], experts=E, top_k=k, hidden=f))
    assert sympy.expand(costs["macs"] - (N * T * d * E + moe_macs(N * T, k, d, f, True))) == 0
    assert sympy.expand(costs["params"] - (d * E + E * expert_params(d, f, True, 0))) == 0
    layer = parse_layer({"type": "moe", "experts": 8, "top_k": 2, "hidden": 14336, "input": [1, 4096]})
    totals = evaluate_layer(layer).totals
    assert (totals.params, totals.active_params) == (1_409_318_912, 352_354_304)
    assert totals.params == 4096 * 8 + 8 * 3 * 4096 * 14336


def test_exact_flops_of_the_routing():
    """exact: router (2d - 1)E, gating 3E - 1 + k(E - 1) + 2k - 1, each routed matrix (2a - 1)
    per output, SwiGLU's silu (5) and product (1) per hidden entry, combine (2k - 1) d; per token."""
    d, E, k, f = 6, 4, 2, 5
    layer = parse_layer({"type": "moe", "experts": E, "top_k": k, "hidden": f, "input": [1, d]})
    per_token = ((2 * d - 1) * E + gating_flops(E, k)
                 + k * (2 * (2 * d - 1) * f + 5 * f + f + (2 * f - 1) * d) + (2 * k - 1) * d)
    assert evaluate_layer(layer).totals.flops == per_token


def test_memory_reads_only_the_experts_reached():
    """A decode step of one token reads its 2 experts' weights, not all 8 (issue 12: the memory-
    bound floor of an MoE decode step); 4 tokens x 2 = 8 (token, expert) pairs may reach all 8.
    Each (token, expert) pair also reads and writes d + f entries per matrix (gate, up, down)."""
    d, f, E = 8, 16, 8

    def expert_rows(tokens):
        layer = parse_layer({"type": "moe", "experts": E, "top_k": 2, "hidden": f, "input": [tokens, d]})
        return [r for r in evaluate_layer(layer).rows if r.op == "moe_linear"]

    one = expert_rows(1)
    assert sum(r.mem_access for r in one) == 2 * 3 * d * f + 3 * 2 * (d + f)
    assert sum(r.params for r in one) == E * 3 * d * f  # the parameter count is every expert's
    four = expert_rows(4)
    assert sum(r.mem_access for r in four) == E * 3 * d * f + 3 * 8 * (d + f)
