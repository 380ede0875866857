"""KV-cache size (issue 12's foundation): Network.kv_cache gives, per attention layer, the entries
of its K and V caches after an evaluation's tokens: 2 x N x keys kept x kv_heads x head_dim,
grouped-query and multi-query heads fewer, a sliding window capping the keys kept."""

import pytest

from calc.layers.attention import kv_cache_entries
from calc.library import library_path
from calc.network import load_network, network_from_text


def test_llama2_7b_half_a_mebibyte_per_token_in_fp16():
    """Llama-2-7B: 2 x 32 layers x 32 heads x 128 = 262,144 entries per token, 512 KiB in fp16;
    its 4096-token context 1,073,741,824 entries, 2 GiB."""
    net = load_network(library_path("llama2_7b"))
    cache = net.kv_cache()
    assert len(cache) == 32 and set(cache.values()) == {2 * 4096 * 32 * 128}
    total = sum(cache.values())
    assert total == 1_073_741_824 and total * 2 == 2 * 1024**3
    one = sum(net.kv_cache(input_shape=(1, 1)).values())
    assert one == 262_144 and one * 2 == 512 * 1024
    # a decode step after 4,095 cached tokens holds the same 4,096 tokens
    assert sum(net.kv_cache(input_shape=(1, 1), context=4095).values()) == total


def test_grouped_query_and_the_window_cap():
    """Mistral 7B: 8 kv heads (4x fewer entries than 32) and a 4096 window: at T = 8192 the cache
    keeps 4096 tokens per layer: 2 x 32 x 4096 x 8 x 128."""
    net = load_network(library_path("mistral_7b"))
    assert sum(net.kv_cache().values()) == 2 * 32 * 4096 * 8 * 128 == 268_435_456
    assert sum(net.kv_cache(input_shape=(1, 1000)).values()) == 2 * 32 * 1000 * 8 * 128


@pytest.mark.parametrize("kv_heads, batch", [(4, 1), (2, 3), (1, 2)])
def test_small_layer_by_hand(kv_heads, batch):
    text = ("name: t\ninput: {T: 6, d: 16}\nlayers:\n"
            f"  - {{type: attention, name: attn, heads: 4, kv_heads: {kv_heads}, causal: true}}\n")
    net = network_from_text(text)
    assert net.kv_cache(batch=batch) == {"attn": 2 * batch * 6 * kv_heads * 4}
    assert net.kv_cache(batch=batch, context=10) == {"attn": 2 * batch * 16 * kv_heads * 4}
    assert kv_cache_entries(batch, 16, kv_heads, 4) * 2 == net.kv_cache(batch=batch, context=10)["attn"]


def test_cross_attention_caches_the_other_sequence():
    text = ("name: t\ninput: {T: 3, d: 8}\nlayers:\n"
            "  - {type: attention, name: x, heads: 2, cross: true, kv_len: 11, kv_dim: 5}\n")
    assert network_from_text(text).kv_cache() == {"x": 2 * 11 * 2 * 4}


def test_no_attention_no_cache():
    assert load_network(library_path("resnet18")).kv_cache() == {}
