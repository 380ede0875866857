"""The README's transformer figures are the calculator's current output: the library table of
transformers and the "Why ViT-B/16 is 17.56 G here and 11.3 G there" table."""

import re
from pathlib import Path

import pytest

from calc.library import library_path
from calc.network import load_network

README = (Path(__file__).parent.parent / "README.md").read_text()

VIT_ROWS = {  # the table's "who" column -> the convention reproducing that tool
    "torchvision card, `torchvision`": "torchvision", "thop 0.1.1": "thop", "fvcore": "fvcore",
    "ptflops": "ptflops", "ptflops, aten backend": "ptflops-aten", "torch FlopCounterMode": "torch",
    "calflops": "calflops", "torchinfo": "torchinfo",
}


def _section(title: str) -> str:
    start = README.index(title)
    return README[start:README.index("\n## ", start + 1)]


def test_vit_table_is_current():
    section = _section("## Why ViT-B/16")
    net = load_network(library_path("vit_b_16"))
    rows = re.findall(r"^\| ([\d,]+) \| ([^|]+?) \|", section, re.M)
    assert {who for _, who in rows} == set(VIT_ROWS)
    for figure, who in rows:
        assert int(figure.replace(",", "")) == net.evaluate(VIT_ROWS[who]).totals.flops, who


@pytest.mark.parametrize("spec", ["vit_b_16", "bert_base_uncased", "gpt2", "llama2_7b", "mistral_7b",
                                  "mixtral_8x7b"])
def test_library_rows_are_current(spec):
    row = next(line for line in README.splitlines() if line.startswith(f"| `{spec}` |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    totals = load_network(library_path(spec)).evaluate().totals
    assert int(re.match(r"[\d,]+", cells[2]).group(0).replace(",", "")) == totals.params
    assert int(cells[3].replace(",", "")) == totals.macs
    if totals.active_params != totals.params:
        assert f"{totals.active_params:,} active per token" in cells[2]


def test_decode_example_is_current():
    net = load_network(library_path("llama2_7b"))
    macs = net.evaluate(input_shape=(1, 1), context=4095).totals.macs
    cache_bytes = sum(net.kv_cache().values()) * 2
    assert f"context=4095).totals.macs   # {macs:,}: one token, 4,096 keys" in README
    assert f"sum(net.kv_cache().values()) * 2                             # {cache_bytes:,} bytes" in README


def test_llm_training_table_is_current():
    section = _section("## LLM workloads")
    net = load_network(library_path("gpt2"))
    rows = re.findall(r"^\| ([\d,]+) \| (`[^|]+) \|", section, re.M)
    assert len(rows) == 11
    for figure, names in rows:
        for name in re.findall(r"`([\w-]+)`", names):
            assert int(figure.replace(",", "")) == net.evaluate(name, mode="training").totals.flops, name
    llama = load_network(library_path("llama2_7b"))
    for name, prefill, decode in re.findall(r"^\| `([\w-]+)` \| ([\d,]+) \| ([\d,]+) \|", section, re.M):
        assert int(prefill.replace(",", "")) == llama.evaluate(name).totals.flops
        assert int(decode.replace(",", "")) == llama.evaluate(name, input_shape=(1, 1), context=4095).totals.flops
    step = llama.evaluate("exact", "fp16", input_shape=(1, 1), context=4095).totals
    assert f"{step.mem_bytes:,} bytes in fp16" in section
    assert f"of which the cache is {sum(llama.kv_cache().values()) * 2:,}" in section
