"""`calc import hf`: Hugging Face config.json files turned into specs.

Figures: tests/fixtures/hf/counts.json (tools/oracle/hf_import_counts.py, transformers 5.24.0,
torch 2.14.1): each shipped config built on the meta device as the class the importer names,
total = sum(p.numel() for p in model.parameters()) (a tied weight once); Mixtral's active count
per token; each model's published, rounded figure with its source.  The configs themselves are
typed in from the public config.json files (tests/fixtures/hf/README.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import calc.cli
from calc.errors import CalcError, SpecError, UsageError
from calc.importers import hf
from calc.cli import parse_dims
from calc.importers.hf import network_from_config, spec_text_from_config
from calc.network import load_network, network_from_text

ROOT = Path(__file__).resolve().parent.parent
HF = Path(__file__).parent / "fixtures" / "hf"
COUNTS = json.loads((HF / "counts.json").read_text())
MODELS = COUNTS["models"]

# The oracle's figures written out, so that a regenerated fixture cannot move them silently.
EXPECTED = {
    "Llama-2-7b-hf.json": 6_738_415_616,
    "Meta-Llama-3-8B.json": 8_030_261_248,
    "Llama-3.2-1B.json": 1_235_814_400,
    "Mistral-7B-v0.1.json": 7_241_732_096,
    "Mixtral-8x7B-v0.1.json": 46_702_792_704,
    "Qwen2.5-0.5B.json": 494_032_768,
    "Qwen2.5-7B.json": 7_615_616_512,
    "gemma-2b.json": 2_506_172_416,
    "Phi-3-mini-4k-instruct.json": 3_821_079_552,
    "gpt2.json": 124_439_808,
    "bert-base-uncased.json": 109_482_240,
    "vit-base-patch16-224.json": 86_567_656,
}
# config -> the hand-written spec of the same model
HAND_WRITTEN = {
    "Llama-2-7b-hf.json": "llama2_7b",
    "Mistral-7B-v0.1.json": "mistral_7b",
    "Mixtral-8x7B-v0.1.json": "mixtral_8x7b",
    "gpt2.json": "gpt2",
    "bert-base-uncased.json": "bert_base_uncased",
    "vit-base-patch16-224.json": "vit_b_16",
}


def params(path: Path) -> int:
    return network_from_config(path).evaluate("2mac").totals.params


def test_every_shipped_config_has_an_oracle_count():
    configs = {p.name for p in HF.glob("*.json")} - {"counts.json"}
    assert configs == set(MODELS) == set(EXPECTED)
    assert COUNTS["source"]["versions"]["transformers"] == "5.24.0"
    for entry in MODELS.values():
        assert entry["published"]["figure"] and "http" in entry["published"]["source"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_imported_params_are_the_exact_count(name):
    assert MODELS[name]["total_params"] == EXPECTED[name]
    assert params(HF / name) == EXPECTED[name]


ROUNDED = sorted(n for n, m in MODELS.items() if m["published"]["figure"].split()[0][-1] in "BM")


def test_all_but_gemma_publish_a_rounded_total():
    assert set(EXPECTED) - set(ROUNDED) == {"gemma-2b.json"}


@pytest.mark.parametrize("name", ROUNDED)
def test_the_exact_count_agrees_with_the_published_figure(name):
    """The published figure (in B or M) is within one unit of its last digit of the exact count:
    cards round or cut (Llama 3.2 1B: 1.2358B published as '1.23B'; Mistral 7B: 7.2417B as
    '7.3B' by mistral.ai)."""
    figure = MODELS[name]["published"]["figure"].split()[0]
    unit = 10**9 if figure[-1] == "B" else 10**6
    digits = Decimal(figure[:-1])
    step = Decimal(1).scaleb(digits.as_tuple().exponent)
    assert abs(Decimal(EXPECTED[name]) / unit - digits) < step


def test_gemma_non_embedding_count_is_the_papers():
    """Gemma Team 2024 (arXiv:2403.08295) Table 2: 2B non-embedding parameters 1,981,884,416."""
    assert EXPECTED["gemma-2b.json"] - 256_000 * 2048 == 1_981_884_416


def test_mixtral_active_params_per_token():
    assert MODELS["Mixtral-8x7B-v0.1.json"]["active_params"] == 12_879_925_248
    totals = network_from_config(HF / "Mixtral-8x7B-v0.1.json").evaluate("2mac").totals
    assert totals.active_params == 12_879_925_248
    # 32 layers leave 6 of their 8 experts (3 * 4096 * 14336 each) idle
    assert totals.params - totals.active_params == 32 * 6 * 3 * 4096 * 14336


@pytest.mark.parametrize("name", sorted(COUNTS["variants"]))
def test_small_variants_match_transformers(tmp_path, name):
    """Defaults of absent keys and options the shipped configs leave out, against the oracle."""
    variant = COUNTS["variants"][name]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(variant["config"]))
    totals = network_from_config(path).evaluate("2mac").totals
    assert totals.params == variant["total_params"]
    assert totals.active_params == variant.get("active_params", variant["total_params"])


def test_the_variants_cover_every_family():
    assert {v["config"]["model_type"] for v in COUNTS["variants"].values()} == set(hf.known_types())


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_imported_spec_costs_as_the_hand_written_one(name):
    """Same parameters and products under 2mac at the hand-written spec's own input."""
    spec = load_network(ROOT / "specs" / f"{HAND_WRITTEN[name]}.yaml")
    imported = network_from_config(HF / name)
    shape = tuple(spec.input_shape)
    a = spec.evaluate("2mac", input_shape=shape).totals
    b = imported.evaluate("2mac", input_shape=shape).totals
    assert (b.params, b.macs, b.flops) == (a.params, a.macs, a.flops)
    assert b.active_params == a.active_params


@pytest.mark.parametrize("name", ["Llama-2-7b-hf.json", "Mixtral-8x7B-v0.1.json", "gpt2.json", "bert-base-uncased.json"])
def test_language_models_are_the_hand_written_spec_row_by_row(name):
    """Written as the hand-written spec is: every row (path, kind, params, MACs) the same."""
    spec = load_network(ROOT / "specs" / f"{HAND_WRITTEN[name]}.yaml").evaluate("exact")
    imported = network_from_config(HF / name).evaluate("exact")
    assert [(r.path, r.params, r.macs, r.flops) for r in imported.rows] == \
        [(r.path, r.params, r.macs, r.flops) for r in spec.rows]


def test_spec_is_readable_and_names_its_config():
    text = spec_text_from_config(HF / "Meta-Llama-3-8B.json")
    doc = yaml.safe_load(text)
    assert doc["name"] == "Meta-Llama-3-8B"
    assert "Meta-Llama-3-8B.json" in doc["description"] and "Meta-Llama-3-8B.json" in doc["source"]
    assert doc["input"] == {"T": 8192}
    (block,) = [i for i in doc["layers"][0]["layers"] if i["type"] == "block"]
    assert block["repeat"] == 32
    assert len(text.splitlines()) < 60
    assert "LlamaForCausalLM" in text


def test_a_body_costed_without_the_configs_head_says_so():
    """bert-base-uncased names BertForMaskedLM; the importer costs BertModel (with its pooler), as
    specs/bert_base_uncased.yaml does, and says so."""
    doc = yaml.safe_load(spec_text_from_config(HF / "bert-base-uncased.json"))
    assert "The BertModel body only: the head of BertForMaskedLM is not costed." in doc["description"]


def test_description_uses_name_or_path():
    doc = yaml.safe_load(spec_text_from_config(HF / "Phi-3-mini-4k-instruct.json"))
    assert doc["description"].startswith("Phi-3-mini-4k-instruct (Phi-3-mini-4k-instruct.json): ")


def test_a_file_named_config_json_takes_its_folders_name(tmp_path):
    folder = tmp_path / "Qwen2.5-0.5B"
    folder.mkdir()
    path = folder / "config.json"
    path.write_text((HF / "Qwen2.5-0.5B.json").read_text())
    doc = yaml.safe_load(spec_text_from_config(path))
    assert doc["name"] == "Qwen2.5-0.5B" and doc["description"].startswith("Qwen2.5-0.5B (config.json): ")


def test_the_written_spec_is_the_network():
    for name in ("Llama-3.2-1B.json", "Qwen2.5-0.5B.json", "vit-base-patch16-224.json"):
        text = spec_text_from_config(HF / name)
        assert network_from_text(text, "x.yaml").evaluate("exact").totals == \
            network_from_config(HF / name).evaluate("exact").totals


def test_tied_embeddings_are_counted_once():
    """Llama 3.2 1B ties lm_head to embed_tokens: 128256 * 2048 once; Llama 3 8B does not."""
    rows = {r.path: r.params for r in network_from_config(HF / "Llama-3.2-1B.json").evaluate("2mac").rows}
    assert rows["model.embed_tokens"] == 128256 * 2048 and rows["lm_head"] == 0
    rows = {r.path: r.params for r in network_from_config(HF / "Meta-Llama-3-8B.json").evaluate("2mac").rows}
    assert rows["lm_head"] == 128256 * 4096


def test_qwen_has_qkv_biases_and_no_output_bias():
    rows = {r.path: r.params for r in network_from_config(HF / "Qwen2.5-0.5B.json").evaluate("2mac").rows}
    attn = "model.layers.0.attn_residual.self_attn"
    h, kv, hd, d = 14, 2, 64, 896
    assert rows[f"{attn}.q"] == d * h * hd + h * hd
    assert rows[f"{attn}.k"] == d * kv * hd + kv * hd
    assert rows[f"{attn}.out"] == h * hd * d


def test_phi3_packed_projections():
    rows = {r.path: r.params for r in network_from_config(HF / "Phi-3-mini-4k-instruct.json").evaluate("2mac").rows}
    assert rows["model.layers.0.mlp_residual.mlp.gate_up_proj"] == 3072 * 2 * 8192


def test_gemma_head_dim_and_single_kv_head():
    rows = {r.path: r.params for r in network_from_config(HF / "gemma-2b.json").evaluate("2mac").rows}
    attn = "model.layers.0.attn_residual.self_attn"
    assert rows[f"{attn}.k"] == 2048 * 1 * 256 and rows[f"{attn}.q"] == 2048 * 8 * 256


# -- an independent count of decoder configs ----------------------------------------------------------

def decoder_params(c: dict) -> int:
    """LlamaForCausalLM's parameters written out from its modules (modeling_llama.py): embedding,
    per layer q/k/v/o (+ biases), gate/up/down (+ biases), two RMSNorm weights; final norm; lm_head
    unless tied."""
    d, L, H = c["hidden_size"], c["num_hidden_layers"], c["num_attention_heads"]
    G, f, V = c["num_key_value_heads"], c["intermediate_size"], c["vocab_size"]
    hd = c.get("head_dim") or d // H
    ab, mb = int(c["attention_bias"]), int(c["mlp_bias"])
    attn = d * H * hd + 2 * d * G * hd + H * hd * d + ab * (H * hd + 2 * G * hd + d)
    mlp = 3 * d * f + mb * (2 * f + d)
    return V * d + L * (attn + mlp + 2 * d) + d + (0 if c["tie_word_embeddings"] else V * d)


@st.composite
def llama_configs(draw):
    G = draw(st.integers(1, 4))
    H = G * draw(st.integers(1, 4))
    hd = 2 * draw(st.integers(1, 4))  # rotary needs even head widths
    c = {"model_type": "llama", "hidden_size": H * hd, "num_attention_heads": H, "num_key_value_heads": G,
         "num_hidden_layers": draw(st.integers(1, 4)), "intermediate_size": draw(st.integers(1, 64)),
         "vocab_size": draw(st.integers(1, 500)), "tie_word_embeddings": draw(st.booleans()),
         "attention_bias": draw(st.booleans()), "mlp_bias": draw(st.booleans())}
    if draw(st.booleans()):
        c["head_dim"] = 2 * draw(st.integers(1, 4))
    return c


@settings(max_examples=25, deadline=None)
@given(llama_configs())
def test_random_llama_configs_match_the_module_count(tmp_path_factory, config):
    path = tmp_path_factory.mktemp("cfg") / "config.json"
    path.write_text(json.dumps(config))
    net = network_from_config(path)
    assert net.evaluate("2mac", input_shape=(1, 3)).totals.params == decoder_params(config)


# -- bad input ---------------------------------------------------------------------------------------

GOOD = json.loads((HF / "Llama-2-7b-hf.json").read_text())


def write(tmp_path: Path, config, name: str = "config.json") -> Path:
    path = tmp_path / name
    path.write_text(config if isinstance(config, str) else json.dumps(config, indent=1))
    return path


def error(path) -> str:
    with pytest.raises(CalcError) as info:
        spec_text_from_config(path)
    line = info.value.one_line()
    assert "\n" not in line
    return line


def changed(tmp_path: Path, base: dict | None = None, drop: tuple[str, ...] = (), **changes) -> Path:
    config = {k: v for k, v in (base or GOOD).items() if k not in drop}
    config.update(changes)
    return write(tmp_path, config)


def test_not_json_names_line_and_column(tmp_path):
    path = write(tmp_path, '{\n  "model_type": "llama",\n  "hidden_size": 4096,,\n}')
    assert error(path).startswith(f"{path}:3:23: not JSON: Expecting property name")


def test_truncated_json(tmp_path):
    text = (HF / "gpt2.json").read_text()
    path = write(tmp_path, text[: len(text) // 2])
    assert error(path).startswith(f"{path}:") and "not JSON" in error(path)


def test_nan_is_not_json(tmp_path):
    line = error(write(tmp_path, '{"model_type": "llama", "rms_norm_eps": NaN}'))
    assert "NaN is not a JSON number" in line


def test_duplicate_key_is_located(tmp_path):
    path = write(tmp_path, '{\n "model_type": "llama",\n "hidden_size": 1,\n "hidden_size": 2\n}')
    assert error(path) == f"{path}:4:2: hidden_size: duplicate key 'hidden_size' (expected each key once)"


def test_top_level_must_be_an_object(tmp_path):
    assert "the top level is a JSON array, not an object" in error(write(tmp_path, "[1, 2]"))


def test_missing_required_key(tmp_path):
    path = changed(tmp_path, drop=("hidden_size",))
    assert error(path) == f"{path}: hidden_size: missing required key 'hidden_size' (expected an int >= 1)"


@pytest.mark.parametrize("value, said", [("4096", "a JSON string"), (4096.0, "a JSON number"), (True, "a JSON boolean")])
def test_wrong_type_is_named_at_its_key(tmp_path, value, said):
    path = changed(tmp_path, hidden_size=value)
    line = error(path)
    assert line.startswith(f"{path}:") and ": hidden_size: is " + said in line and "not an int" in line
    assert line.split(":")[1].isdigit()  # the key's line


def test_zero_is_refused(tmp_path):
    assert "num_hidden_layers: is 0 (expected an int >= 1)" in error(changed(tmp_path, num_hidden_layers=0))


def test_unknown_model_type_lists_the_known_ones(tmp_path):
    line = error(changed(tmp_path, model_type="falcon"))
    assert "model_type: unknown model_type 'falcon'" in line
    assert "bert, gemma, gpt2, llama, mistral, mixtral, phi3, qwen2, vit" in line


def test_missing_model_type(tmp_path):
    assert "missing required key 'model_type'" in error(changed(tmp_path, drop=("model_type",)))


def test_unknown_key_is_refused_by_name(tmp_path):
    path = changed(tmp_path, quantization_config={"load_in_4bit": True})
    line = error(path)
    assert line.startswith(f"{path}:") and ": quantization_config: unknown key for model_type 'llama'" in line


def test_unknown_key_left_off_is_accepted(tmp_path):
    """null or false: a feature left off (Qwen2.5's use_mrope: false)."""
    assert params(changed(tmp_path, use_mrope=False, some_feature=None)) == EXPECTED["Llama-2-7b-hf.json"]


def test_key_of_another_family_is_not_read_silently(tmp_path):
    """Mistral's sliding_window in a Llama config: Llama has no window, and the importer says so."""
    assert "sliding_window: unknown key for model_type 'llama'" in error(changed(tmp_path, sliding_window=4096))


def test_architecture_key_at_a_value_not_written(tmp_path):
    bert = json.loads((HF / "bert-base-uncased.json").read_text())
    line = error(changed(tmp_path, bert, is_decoder=True))
    assert "is_decoder: True changes the architecture" in line and "expected False or absent" in line
    line = error(changed(tmp_path, bert, position_embedding_type="relative_key"))
    assert "position_embedding_type: 'relative_key'" in line
    qwen = json.loads((HF / "Qwen2.5-7B.json").read_text())
    assert "use_sliding_window: True" in error(changed(tmp_path, qwen, use_sliding_window=True))


def test_architectures_of_another_family(tmp_path):
    line = error(changed(tmp_path, architectures=["MistralForCausalLM"]))
    assert "architectures: 'MistralForCausalLM' is not a llama class" in line


def test_rope_type_unknown_is_located_inside_rope_scaling(tmp_path):
    base = json.loads((HF / "Llama-3.2-1B.json").read_text())
    rope = dict(base["rope_scaling"], rope_type="mystery")
    path = changed(tmp_path, base, rope_scaling=rope)
    line = error(path)
    assert ": rope_scaling.rope_type: rope type 'mystery' is not supported" in line
    assert line.split(":")[1].isdigit()


def test_heads_must_divide(tmp_path):
    assert "num_key_value_heads: 5 does not divide num_attention_heads 32" in \
        error(changed(tmp_path, num_key_value_heads=5))
    assert "num_attention_heads: 3 does not divide hidden_size 4096" in \
        error(changed(tmp_path, num_attention_heads=3, num_key_value_heads=3))


def test_odd_head_width_is_refused_for_rotary(tmp_path):
    line = error(changed(tmp_path, head_dim=65))
    assert "head_dim: gives heads of width 65, odd" in line


def test_gemma_head_dim_defaults_to_256(tmp_path):
    """GemmaConfig's head_dim default is 256, not hidden_size / heads (configuration_gemma.py:72):
    gemma-2b without head_dim is still gemma-2b, and at width 1024 the heads stay 256 wide."""
    base = json.loads((HF / "gemma-2b.json").read_text())
    assert params(changed(tmp_path, base, drop=("head_dim",))) == EXPECTED["gemma-2b.json"]
    rows = {r.path: r.params for r in network_from_config(changed(tmp_path, base, drop=("head_dim",),
                                                                  hidden_size=1024)).evaluate("2mac").rows}
    assert rows["model.layers.0.attn_residual.self_attn.q"] == 1024 * 8 * 256


def test_top_k_at_most_experts(tmp_path):
    base = json.loads((HF / "Mixtral-8x7B-v0.1.json").read_text())
    assert "num_experts_per_tok: is 9, more than num_local_experts 8" in \
        error(changed(tmp_path, base, num_experts_per_tok=9))


def test_unsupported_activation(tmp_path):
    assert "hidden_act: activation 'quick_gelu' is not supported" in error(changed(tmp_path, hidden_act="quick_gelu"))


def test_vit_sizes_and_labels(tmp_path):
    base = json.loads((HF / "vit-base-patch16-224.json").read_text())
    assert "patch_size: 32 is larger than the image (16)" in error(changed(tmp_path, base, image_size=16, patch_size=32))
    assert "image_size: is [224, 224, 3]" in error(changed(tmp_path, base, image_size=[224, 224, 3]))
    line = error(changed(tmp_path, base, id2label={"0": "cat", "1": "dog"}))
    assert "num_labels: is 1000, id2label has 2 entries" in line
    two = changed(tmp_path, base, drop=("num_labels",), id2label={"0": "cat", "1": "dog"})
    rows = {r.path: r.params for r in network_from_config(two).evaluate("2mac").rows}
    assert rows["classifier"] == 768 * 2 + 2


def test_architectures_must_be_a_list_of_names(tmp_path):
    assert "architectures: is not a list of class names" in error(changed(tmp_path, architectures="LlamaForCausalLM"))


def test_files_that_cannot_be_read(tmp_path):
    assert error(tmp_path / "absent.json") == f"{tmp_path / 'absent.json'}: no such file (expected a path to a Hugging Face config.json)"
    assert ": is a directory" in error(tmp_path)
    bad = tmp_path / "latin1.json"
    bad.write_bytes(b'{"model_type": "\xe9"}')
    assert "not UTF-8" in error(bad)
    assert "empty path" in error("")
    assert "must be a str or os.PathLike, not int" in error(3)


def test_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + (HF / "gpt2.json").read_bytes())
    assert params(path) == EXPECTED["gpt2.json"]


def test_network_errors_name_the_config(tmp_path):
    path = changed(tmp_path, hidden_size="x")
    with pytest.raises(SpecError) as info:
        network_from_config(path)
    assert info.value.location.file == str(path)


def test_a_limit_of_the_spec_names_the_config_without_a_yaml_line(tmp_path):
    base = json.loads((HF / "gpt2.json").read_text())
    path = changed(tmp_path, base, n_layer=200_000)
    with pytest.raises(SpecError) as info:
        network_from_config(path)
    assert info.value.one_line().startswith(f"{path}: transformer.h.repeat: the spec imported from it: 200,000 repeats")


def test_importing_loads_no_framework():
    code = ("import sys, calc.importers.hf, calc.importers.cli; "
            "print(sorted(m for m in ('torch', 'transformers', 'onnx', 'calc.importers.onnx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stderr


# -- the command ---------------------------------------------------------------------------------

@pytest.fixture
def main(monkeypatch):
    """calc.cli.main with `import` registered (a no-op once calc/cli.py's EXTENSIONS has it)."""
    monkeypatch.setitem(calc.cli.EXTENSIONS, "import", "calc.importers.cli")
    return calc.cli.main


def test_cli_writes_the_spec(main, tmp_path, capsys):
    out = tmp_path / "gpt2.yaml"
    assert main(["import", "hf", str(HF / "gpt2.json"), "-o", str(out)]) == 0
    assert out.read_text() == spec_text_from_config(HF / "gpt2.json")
    assert load_network(out).evaluate("2mac").totals.params == EXPECTED["gpt2.json"]
    assert main(["import", "hf", str(HF / "gpt2.json")]) == 0
    assert capsys.readouterr().out == out.read_text()


def test_cli_bad_config_is_one_line_and_exit_1(main, tmp_path, capsys):
    path = changed(tmp_path, model_type="falcon")
    assert main(["import", "hf", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown model_type 'falcon'" in err and str(path) in err


def test_cli_usage_errors_exit_2(main, tmp_path, capsys):
    assert main(["import"]) == 2
    assert main(["import", "tf", "x"]) == 2
    path = HF / "gpt2.json"
    assert main(["import", "hf", str(path), "-o", str(path)]) == 2  # never over its input
    assert capsys.readouterr().err.count("\n") == 3


def test_parse_dims():
    assert parse_dims(["batch=1", "seq = 128"]) == {"batch": 1, "seq": 128}
    for bad in (["batch"], ["=3"], ["batch=0"], ["batch=x"], ["b=1", "b=2"], ["b=1_000"]):
        with pytest.raises(UsageError):
            parse_dims(bad)


def test_known_families():
    assert hf.known_types() == ("bert", "gemma", "gpt2", "llama", "mistral", "mixtral", "phi3", "qwen2", "vit")


@settings(max_examples=30, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_any_name_or_path_gives_a_readable_spec(tmp_path_factory, name):
    """The only free text written into the spec is the config's name: quoted, never YAML."""
    config = dict(json.loads((HF / "gpt2.json").read_text()), _name_or_path=name)
    path = tmp_path_factory.mktemp("cfg") / "config.json"
    path.write_text(json.dumps(config))
    net = network_from_config(path)
    assert net.evaluate("2mac", input_shape=(1, 4)).totals.params == EXPECTED["gpt2.json"]
    doc = yaml.safe_load(spec_text_from_config(path))
    printable = "".join(c for c in name.strip() if c.isprintable())
    assert doc["description"].startswith(printable) or not name.strip()


def _report_reads_configs() -> bool:
    """Whether calc/cli.py's load_spec imports a .json spec (the lead wires it)."""
    try:
        calc.cli.load_spec(str(HF / "gpt2.json"))
    except CalcError:  # read as YAML: "missing required key 'name'"
        return False
    return True


@pytest.mark.skipif(not _report_reads_configs(), reason="calc/cli.py's load_spec does not read config.json yet")
@pytest.mark.parametrize("name", ["gpt2.json", "Mixtral-8x7B-v0.1.json"])
def test_report_on_a_config_is_the_report_on_its_spec(main, tmp_path, capsys, name):
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text_from_config(HF / name))
    assert main(["report", str(HF / name), "--no-cache", "--input", "16"]) == 0
    from_config = capsys.readouterr().out
    assert main(["report", str(spec), "--no-cache", "--input", "16"]) == 0
    assert from_config == capsys.readouterr().out
    bad = changed(tmp_path, model_type="falcon")
    assert main(["report", str(bad)]) == 1
    assert "unknown model_type 'falcon'" in capsys.readouterr().err
