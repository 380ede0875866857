"""Training mode under FlopCounterMode's convention ('torch'): its count of a training step is
the aten ops autograd runs (docs/notes/training-oracle.md), against the real tool's figures
(tests/fixtures/profilers/training/, tools/oracle/training.py: forward + backward)."""

import json
from pathlib import Path

import pytest

from calc.errors import ConventionError
from calc.network import load_network, network_from_text

FIXTURES = Path(__file__).parent / "fixtures"
TRAINING = FIXTURES / "profilers" / "training"
LAYERS = {c["id"]: c for c in json.loads((TRAINING / "layers.json").read_text())["cases"]}

SPECS = {  # fixture case -> the same module as a spec (its input is data: no gradient)
    "linear_bias_xnograd": "input: [64]\nbatch: 4\nlayers: [{type: linear, Cout: 32}]",
    "linear_nobias_xnograd": "input: [64]\nbatch: 4\nlayers: [{type: linear, Cout: 32, bias: false}]",
    "mlp_first_layer_no_input_grad": ("input: {T: 8, d: 64}\nbatch: 2\nlayers: [{type: linear, Cout: 256}, "
                                      "{type: gelu}, {type: linear, Cout: 64}]"),
    "conv2d_bias_xnograd": "input: [3, 16, 16]\nbatch: 2\nlayers: [{type: conv, K: 3, Cout: 8, padding: 1}]",
    "conv2d_nobias_xnograd": ("input: [3, 16, 16]\nbatch: 2\nlayers: [{type: conv, K: 3, Cout: 8, padding: 1, "
                              "bias: false}]"),
    "conv2d_stack_first_no_input_grad": ("input: [3, 16, 16]\nbatch: 2\nlayers: [{type: conv, K: 3, Cout: 8, "
                                         "padding: 1}, {type: relu}, {type: conv, K: 3, Cout: 8, padding: 1}]"),
    "embedding": "input: {T: 8}\nbatch: 2\nlayers: [{type: embedding, num_embeddings: 1000, embedding_dim: 64}]",
}


@pytest.mark.parametrize("case_id", sorted(SPECS))
def test_layers(case_id):
    """Forward 2 x macs; backward the weight's gradient (2 x macs) and the input's (2 x macs),
    except for the layer reading the data; a bias gradient and an embedding's count 0."""
    case = LAYERS[case_id]
    net = network_from_text(f"name: {case_id}\n{SPECS[case_id]}\n")
    assert tuple(net.input_shape) == tuple(case["inputs"][0]["shape"])
    assert net.evaluate("torch").totals.flops == case["forward"]["total"]
    assert net.evaluate("torch", mode="training").totals.flops == case["forward_plus_backward"]


@pytest.mark.parametrize("model", ["gpt2_eager", "llama_eager", "llama_sdpa", "mixtral_eager", "mixtral_sdpa"])
def test_hugging_face_training_step(model):
    """One step of the tiny models (ids (2, 8), labels = ids): backward = 2 x forward on CPU,
    the default SDPA counting 0 both ways (flash attention for CPU has no formula)."""
    case = json.loads((TRAINING / f"hf_training_{model}.json").read_text())
    spec = FIXTURES / "hf_specs" / f"{model}.yaml"
    if model.startswith("mixtral"):  # the training fixture ran transformers' eager experts
        net = network_from_text(spec.read_text().replace("experts_implementation: grouped_mm",
                                                         "experts_implementation: eager"), str(spec))
    else:
        net = load_network(str(spec))
    assert net.evaluate("torch").totals.flops == case["forward"]["total"]
    assert net.evaluate("torch", mode="training").totals.flops == case["forward_plus_backward"]


def test_gpt2_sdpa_in_training_runs_the_math_backend():
    """Not emulated: in train() GPT-2's attention dropout makes SDPA take the math backend, whose
    bmm FlopCounterMode counts (forward 5,259,264 as eager), while calc's sdpa rows price the CPU
    flash kernel (0): the eval-mode figure differs from the training step's forward."""
    case = json.loads((TRAINING / "hf_training_gpt2_sdpa.json").read_text())
    net = load_network(str(FIXTURES / "hf_specs" / "gpt2_sdpa.yaml"))
    assert net.evaluate("torch").totals.flops < case["forward"]["total"]


def test_fast_path_and_unverified_backward_refuse():
    mha = network_from_text("name: m\ninput: {T: 4, d: 8}\nlayers: [{type: attention, heads: 2, fused: mha, "
                            "need_weights: true}]\n", "m.yaml")
    with pytest.raises(ConventionError) as err:
        mha.evaluate("torch", mode="training")
    assert "state fast_path: false" in err.value.one_line()
    slow = network_from_text("name: m\ninput: {T: 4, d: 8}\nlayers: [{type: attention, heads: 2, fused: mha, "
                             "need_weights: true, fast_path: false}]\n")
    assert slow.evaluate("torch", mode="training").totals.flops > 0
    with pytest.raises(ConventionError, match="backward of deconv"):
        network_from_text("name: d\ninput: [2, 4, 4]\nlayers: [{type: deconv, K: 2, Cout: 2, stride: 2}]\n"
                          ).evaluate("torch", mode="training")


@pytest.mark.parametrize("model", ["llama_sdpa", "mixtral_sdpa"])
def test_torch_cuda_prices_sdpa_with_the_gpu_formulas(model):
    """'torch-cuda': FlopCounterMode's GPU formulas for SDPA (forward 2 products, backward 5:
    2.5 x), which the fixture applied to the CPU kernels' shapes (`with_cuda_sdpa_formulas`)."""
    case = json.loads((TRAINING / f"hf_training_{model}.json").read_text())
    gpu = case["with_cuda_sdpa_formulas"]
    spec = FIXTURES / "hf_specs" / f"{model}.yaml"
    text = spec.read_text()
    if model.startswith("mixtral"):
        text = text.replace("experts_implementation: grouped_mm", "experts_implementation: eager")
    net = network_from_text(text, str(spec))
    assert net.evaluate("torch-cuda").totals.flops == gpu["forward_total"]
    assert net.evaluate("torch-cuda", mode="training").totals.flops == gpu["forward_total"] + gpu["backward_total"]
    assert net.evaluate("torch").totals.flops == case["forward"]["total"]  # the CPU: SDPA 0


@pytest.mark.parametrize("fused", ["torch", "torch-cuda"])
def test_multihead_attention_without_weights_runs_sdpa(fused):
    """nn.MultiheadAttention(64, 4), need_weights=False, as a network's first layer: the output
    projection reads the input only for its width, so its input gradient is counted (an
    earlier rule took any reference to the input for the data, 131,072 short)."""
    case = next(c for c in json.loads((TRAINING / "attention.json").read_text())["cases"]
                if c["id"] == "mha_need_weights_false_xnograd")
    net = network_from_text("name: mha\ninput: {T: 8, d: 64}\nbatch: 2\nlayers: [{type: attention, heads: 4, "
                            "fused: mha, need_weights: false, fast_path: false}]\n")
    if fused == "torch":
        forward, backward = case["forward"]["total"], case["backward"]["total"]
    else:
        forward, backward = (case["with_cuda_sdpa_formulas"][k] for k in ("forward_total", "backward_total"))
    assert net.evaluate(fused).totals.flops == forward
    assert net.evaluate(fused, mode="training").totals.flops == forward + backward
