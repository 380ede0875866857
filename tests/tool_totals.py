"""Where each profiler convention's real tool keeps its total in a fixture (tests/fixtures/
profilers/): convention -> (the tool's key, or its fixture folder; how to read its total)."""

TOOLS = {
    "thop": ("thop", lambda f: f["total_ops"]["value"]),
    "fvcore": ("fvcore", lambda f: f["total"]),
    "ptflops": ("ptflops_pytorch", lambda f: f["macs"]),
    "ptflops-aten": ("ptflops_aten", lambda f: f["macs"]),
    "torchinfo": ("torchinfo", lambda f: f["total_mult_adds"]),
    "torch": ("torch_flop_counter", lambda f: f["total_flops"]),
    "calflops": ("calflops", lambda f: f["flops"]),
}
