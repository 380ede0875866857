"""Topic `kv-cache`: the size of a decoder's KV cache.

    per token, per layer   K and V: 2 x kv_heads x head_dim entries
    a sequence             x the tokens kept: all of them, or a sliding window's most recent
    bytes                  entries x the cache's bytes per entry (fp16 2, fp8 1: it may differ
                           from the weights')
Llama-2-7B (32 layers, 32 kv heads of 128): 262,144 entries per token, 512 KiB in fp16.

Source: calc/layers/attention.py (kv_cache_entries), calc/network/program.py (Network.kv_cache);
ends on the library's figures.
"""

from __future__ import annotations

from calc.arith import min_
from calc.derive.core import Derivation, grouped, written
from calc.derive.library import symbols
from calc.layers.attention import kv_cache_entries

TITLE = "the size of a decoder's KV cache"


def build() -> Derivation:
    N, L, H, G, h, T, w, b = symbols("N L H G h T w b")
    D = Derivation("kv-cache", TITLE, "calc/layers/attention.py (kv_cache_entries); Network.kv_cache")
    D.note("A decoder keeps, for every layer, the keys and values of the tokens it has seen, so "
           "that a new token's attention does not recompute them. L layers, G key/value heads of "
           "width h (G = H heads: multi-head; G < H: grouped-query; G = 1: multi-query), N "
           "sequences of T tokens, b bytes per entry.")

    D.section("Entries")
    per = D.define("e_token", 2 * G * h, "per token and layer: a key and a value vector per kv head")
    D.define("E", L * N * T * per, "every layer, sequence and token")
    D.equals(2 * L * N * T * G * h, "collect terms")
    D.library(L * 2 * kv_cache_entries(N, T, G, h),
              "L x (K and V) x calc.layers.attention.kv_cache_entries(N, T, G, h)")
    D.define("B", b * 2 * L * N * T * G * h, "bytes: b per entry (fp16 and bf16 2, fp8 and int8 1)")

    D.section("Grouped-query and multi-query attention")
    D.define("E_mha", 2 * L * N * T * H * h, "all H heads keep keys and values")
    D.equals(grouped(H / G) * 2 * L * N * T * G * h, "G kv heads keep H/G times fewer",
             lhs=2 * L * N * T * H * h)

    D.section("A sliding window")
    D.note("With a window of w keys, a token attends to the w most recent only: the cache keeps "
           "min(T, w) tokens, however long the sequence grows (Mistral 7B: w = 4096).")
    D.define("E_window", 2 * L * N * G * h * min_(T, w), "min(T, w) tokens kept")
    D.library(2 * L * kv_cache_entries(N, T, G, h, w),
              "L x (K and V) x calc.layers.attention.kv_cache_entries(N, T, G, h, w)")

    D.section("Llama-2-7B, from its spec")
    from calc.library import library_path
    from calc.network import load_network

    llama = load_network(library_path("llama2_7b"))
    per_token = sum(llama.kv_cache(input_shape=(1, 1)).values())
    D.library(per_token, "sum(load_network('llama2_7b').kv_cache(input_shape=(1, 1)).values())",
              lhs=2 * 32 * 32 * 128)
    D.equals(written(512, 1024), "bytes per token in fp16 (2 per entry): 512 KiB", lhs=written(2, per_token))
    context = sum(llama.kv_cache().values())
    D.library(context, "its 4096-token context: kv_cache() at the spec's input", lhs=4096 * per_token)
    return D
