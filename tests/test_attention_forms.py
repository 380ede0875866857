"""The attention module's closed forms (attention_params, projection_macs, attention_macs) against
what its primitives tally, for any heads, kv heads, head width, biases, cross attention and cache."""

from hypothesis import given, settings
from hypothesis import strategies as st

from calc.layers.attention import attention_macs, attention_params, projection_macs
from calc.parse import parse_layer
from calc.report import evaluate_layer


@settings(max_examples=60, deadline=None)
@given(N=st.integers(1, 3), T=st.integers(1, 6), G=st.integers(1, 3), r=st.integers(1, 3),
       h=st.integers(1, 4), d=st.integers(1, 9), qkv_bias=st.booleans(), out_bias=st.booleans(),
       cross=st.booleans(), S=st.integers(1, 7), kv_dim=st.integers(1, 5), qkv=st.sampled_from(["separate", "packed"]),
       fused=st.sampled_from(["sdpa", "eager"]))
def test_closed_forms_match_the_primitives(N, T, G, r, h, d, qkv_bias, out_bias, cross, S, kv_dim, qkv, fused):
    H = G * r
    fields = dict(type="attention", heads=H, kv_heads=G, head_dim=h, qkv_bias=qkv_bias, out_bias=out_bias,
                  fused=fused, N=N, input=[T, d])
    if cross:
        fields.update(cross=True, kv_len=S, kv_dim=kv_dim)
    else:
        fields["qkv"] = qkv
    totals = evaluate_layer(parse_layer(fields)).totals
    S_kv, d_kv = (S, kv_dim) if cross else (T, None)
    keys = S if cross else T
    assert totals.params == attention_params(d, H, G, h, int(qkv_bias), int(out_bias), d_kv)
    assert totals.macs == (projection_macs(N, T, d, H, G, h, S_kv, d_kv)
                           + 2 * attention_macs(N, H, T, keys, h))
