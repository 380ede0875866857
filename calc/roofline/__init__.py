"""Roofline time of a network on a device (issue 13): per operation, its FLOPs, bytes moved,
arithmetic intensity, attainable throughput, bound and time; totals; a batch sweep; a
transformer step's decode floor and tokens/s; the time as a function of the batch.

    from calc.hardware import load_profile
    from calc.network import load_network
    from calc.roofline import roofline
    r = roofline(load_network("specs/resnet50.yaml"), load_profile("a100-sxm-80gb"), dtype="bf16")
    r.totals.time, r.totals.memory_share

The model: calc.roofline.model; what is counted (convention, bytes, fused epilogues):
calc.roofline.analysis; the batch sweep and the symbolic time: calc.roofline.sweep; tables:
calc.roofline.render; chart data: calc.roofline.chart; the command: calc.roofline.cli.
"""

from calc.roofline.analysis import (
    DEFAULT_CONVENTION, Roofline, RooflineRow, RooflineTotals, StepFigures, analyse, roofline,
)
from calc.roofline.model import Device, device
from calc.roofline.sweep import Sweep, SweepPoint, SymbolicTime, sweep_batch, symbolic_time

__all__ = [
    "DEFAULT_CONVENTION", "Device", "Roofline", "RooflineRow", "RooflineTotals", "StepFigures", "Sweep",
    "SweepPoint", "SymbolicTime", "analyse", "device", "roofline", "sweep_batch", "symbolic_time",
]
