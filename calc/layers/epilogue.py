"""The batch norm and activation that a conv/linear record may carry (``bn: true``, ``act: relu``).

They are separate primitive operations with their own rows (``<path>.bn``, ``<path>.act``), so a
convention prices them by its own rules and BN folding can remove the BN row.
"""

from typing import Annotated

from pydantic import Field, Strict

from calc.layers.activation import Activation, ActivationKind
from calc.layers.base import Layer
from calc.layers.norm import BatchNorm


def epilogue(bn: bool, act: ActivationKind | None) -> list[tuple[str, Layer]]:
    ops: list[tuple[str, Layer]] = []
    if bn:
        ops.append(("bn", BatchNorm()))
    if act is not None:
        ops.append(("act", Activation(type=act.value)))
    return ops


class WithEpilogue(Layer):
    """Mixin for records that may carry ``bn`` and ``act``; expands into itself plus those."""

    bn: bool = Field(
        False, description="follow with a batch norm over the output channels (own row, path.bn)"
    )
    act: Annotated[ActivationKind, Strict(False)] | None = Field(
        None, description="follow with this activation, e.g. relu, relu6, silu (own row, path.act)"
    )

    def expand(self) -> list[tuple[str, Layer]]:
        if not self.bn and self.act is None:
            return [("", self)]
        plain = self.model_copy(update={"bn": False, "act": None})
        return [("", plain), *epilogue(self.bn, self.act)]
