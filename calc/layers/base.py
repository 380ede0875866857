"""The base record every layer kind derives from, and the input-description fields.

A record holds a layer's hyper-parameters, validated once (frozen, unknown fields refused, ints
strict).  It is only an adapter: `tally(inputs)` feeds its fields and the input shapes to the
formula functions of its module and returns a convention-free `Tally`.

A record may also state its input (``Cin``, ``H``, ``W``, ...): a standalone layer needs that to be
costed; inside a network the input is inferred and a stated value is checked against it.
"""

from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal

from annotated_types import Ge, Gt
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from calc.arith import is_int
from calc.errors import ShapeError, SpecError
from calc.limits import too_big
from calc.tally import Shape, Tally

SPATIAL_NAMES: dict[int, tuple[str, ...]] = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
"""Field names of the spatial axes, by how many there are (as PyTorch names Conv1d/2d/3d input)."""


def _at_most_max_int(value: int) -> int:
    """Refuse an int of more than calc.limits.MAX_INT_DIGITS digits (error type int_too_big,
    which calc.parse reports with the bound as the expectation)."""
    message = too_big(value)
    if message is not None:
        raise PydanticCustomError("int_too_big", message)
    return value


BoundedInt = Annotated[int, AfterValidator(_at_most_max_int)]
"""An int of at most calc.limits.MAX_INT_DIGITS digits: every int field of a record is one."""
PositiveInt = Annotated[int, Gt(0), AfterValidator(_at_most_max_int)]
"""pydantic's PositiveInt, bounded like BoundedInt."""
NonNegativeInt = Annotated[int, Ge(0), AfterValidator(_at_most_max_int)]
"""pydantic's NonNegativeInt, bounded like BoundedInt."""

IntOrAxes = PositiveInt | list[PositiveInt]

_STATED = "{}: needed to cost the layer alone; in a network inferred (a stated value is checked)"
"""Description of an input-size field (Cin, L, D, H, W)."""
DESCRIBE_BIAS = "whether it adds a learned bias per output channel"
DESCRIBE_GROUPS = "Cin and Cout split into this many independent convolutions (divides both)"


class Layer(BaseModel):
    """Fields shared by every kind: an optional name and the batch size N."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)

    TAGS: ClassVar[tuple[str, ...]] = ()
    """The values of ``type`` this record accepts (its kind names)."""
    USES_CONTEXT: ClassVar[bool] = False
    """True for operations whose cost depends on the tokens already in a KV cache (a field
    `context`, set per evaluation: `Network.evaluate(context=P)`)."""
    AXIS_FIELDS: ClassVar[tuple[str, ...]] = ()
    """Fields that may list one value per spatial axis (their length fixes the input's rank)."""

    type: str = Field(description="layer kind, e.g. conv, linear, relu (see `calc layer --help`)")
    name: str | None = Field(
        None,
        description="its path segment in reports (no dots); unnamed layers are numbered",
    )
    N: PositiveInt | None = Field(
        None,
        description="batch size to cost it alone; inferred in a network (a stated one is checked)",
    )
    call: Literal["module", "functional", "method"] = Field(
        "module",
        description="how PyTorch runs it: module (nn.Module), functional (F.relu), method (x.mean)",
    )
    """How a PyTorch model computes it: an nn.Module, a torch.nn.functional call (F.relu), or a
    tensor method (x.mean).  Costs are the same; profilers see the three differently."""

    # -- input description ---------------------------------------------------------------------
    def stated_inputs(self) -> tuple[Shape, ...]:
        """The input shapes this record states, for costing it on its own."""
        raise SpecError(f"a standalone '{self.type}' layer cannot be costed", field="type")

    def check_inputs(self, inputs: tuple[Shape, ...]) -> None:
        """Raise `ShapeError` if a value the record states disagrees with the inferred input."""

    def needs_check(self) -> bool:
        """Whether `check_inputs` has anything to check (a stated input field); networks skip
        the call otherwise, as re-evaluation speed matters."""
        return any(
            getattr(self, f, None) is not None for f in ("N", "Cin", "L", "D", "H", "W")
        )

    def spatial_rank(self) -> tuple[int, str] | None:
        """The number of spatial axes this record says its input has, and the field saying it
        (a per-axis list: K: [3, 3, 3] is 3-d); None when nothing fixes it."""
        for field in self.AXIS_FIELDS:
            value = getattr(self, field, None)
            if isinstance(value, list):
                return len(value), field
        return None

    def keeps_rank(self) -> bool:
        """Whether the output has the input's rank (False for flatten and the like)."""
        return True

    # -- costs ---------------------------------------------------------------------------------
    def expand(self) -> list[tuple[str, "Layer"]]:
        """Primitive operations this record stands for, with path suffixes ('' for itself)."""
        return [("", self)]

    def graph(self) -> list[tuple[str, "Layer", tuple[int, ...]]]:
        """The primitives with the values each reads: -1 is the record's input, i >= 0 the
        output of primitive i (an earlier one); the record's output is the last primitive's.
        By default the chain of `expand()`, each primitive fed by the one before."""
        return [(suffix, op, (i - 1,)) for i, (suffix, op) in enumerate(self.expand())]

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        raise NotImplementedError(f"{type(self).__name__} is not a primitive; expand() it")

    @property
    def kind(self) -> str:
        return self.type


def check_stated(field: str, stated: Any, inferred: Any) -> None:
    """Compare a value the spec states with the one inferred from the previous layers."""
    if stated is not None and is_int(inferred) and stated != inferred:
        raise ShapeError(
            f"states {field}={stated} but its input has {field}={inferred}",
            field=field,
            expected=f"{field}={inferred} or the field left out",
        )


def check_groups(groups: int, cin: int | None, cout: int) -> None:
    """Groups must divide both channel counts (PyTorch Conv/ConvTranspose)."""
    for name, channels in (("Cin", cin), ("Cout", cout)):
        if is_int(channels) and is_int(groups) and channels % groups:
            raise SpecError(
                f"groups={groups} does not divide {name}={channels}", field="groups",
                expected=f"a divisor of {name}",
            )


def per_axis(value: Any, dims: int, field: str) -> tuple[Any, ...]:
    """Broadcast an int to every spatial axis, or check a list has one entry per axis."""
    if isinstance(value, list):
        if len(value) != dims:
            raise ShapeError(
                f"has {len(value)} entries for a {dims}-d input",
                field=field,
                expected=f"one int or a list of {dims}",
            )
        return tuple(value)
    return (value,) * dims


def require_positive(field: str, size: Any, what: Callable[[], str]) -> None:
    """An output size below 1 means the window does not fit: say which field and why (the
    message is built only then)."""
    if is_int(size) and size < 1:
        raise ShapeError(what(), field=field)


class SpatialInput(Layer):
    """Input (N, Cin, *spatial) stated by Cin and L (1-d), H, W (2-d) or D, H, W (3-d)."""

    SPATIAL_REQUIRED: ClassVar[bool] = True
    """False for element-wise kinds (activations, batch norm) that also take a flat (N, C) input."""

    Cin: PositiveInt | None = Field(None, description=_STATED.format("input channels"))
    L: PositiveInt | None = Field(None, description=_STATED.format("input length (1-d input)"))
    D: PositiveInt | None = Field(None, description=_STATED.format("input depth (3-d input)"))
    H: PositiveInt | None = Field(None, description=_STATED.format("input height (2-d, 3-d input)"))
    W: PositiveInt | None = Field(None, description=_STATED.format("input width (2-d, 3-d input)"))

    def _states_spatial(self) -> bool:
        return any(getattr(self, n) is not None for n in ("L", "D", "H", "W"))

    def spatial_rank(self) -> tuple[int, str] | None:
        """A stated input size (L; H and W; D, H and W) fixes the rank, else the per-axis lists."""
        given = {n for n in ("L", "D", "H", "W") if getattr(self, n) is not None}
        for rank, names in SPATIAL_NAMES.items():
            if given == set(names):
                return rank, names[0]
        return super().spatial_rank()

    def stated_spatial(self) -> tuple[int, ...]:
        given = {n: getattr(self, n) for n in ("L", "D", "H", "W") if getattr(self, n) is not None}
        for names in SPATIAL_NAMES.values():
            if set(given) == set(names):
                return tuple(given[n] for n in names)
        supersets = [names for names in SPATIAL_NAMES.values() if set(given) <= set(names)]
        missing = [n for n in (supersets[0] if supersets else ("H", "W")) if n not in given]
        raise SpecError(
            f"input size incomplete: got {', '.join(given) or 'no spatial size'}",
            field=missing[0] if missing else next(iter(given)),
            expected="L (1-d), H and W (2-d) or D, H and W (3-d)",
        )

    def stated_inputs(self) -> tuple[Shape, ...]:
        if self.Cin is None:
            raise SpecError("input channels not given", field="Cin", expected="a positive int")
        if not self.SPATIAL_REQUIRED and not self._states_spatial():
            return ((self.N or 1, self.Cin),)
        return ((self.N or 1, self.Cin, *self.stated_spatial()),)

    def check_inputs(self, inputs: tuple[Shape, ...]) -> None:
        (shape,) = inputs
        if len(shape) < 3 and not self.SPATIAL_REQUIRED and not self._states_spatial():
            check_stated("N", self.N, shape[0])
            check_stated("Cin", self.Cin, shape[1])
            return
        if len(shape) < 3:
            raise ShapeError(
                f"needs a feature map (N, C, ...) but its input has shape {format_shape(shape)}",
                field="type",
                expected="a conv/pool-style input; flatten only before linear layers",
            )
        check_stated("N", self.N, shape[0])
        check_stated("Cin", self.Cin, shape[1])
        names = SPATIAL_NAMES.get(len(shape) - 2, ())
        for n in ("L", "D", "H", "W"):
            value = getattr(self, n)
            if value is None:
                continue
            if n not in names:
                raise ShapeError(
                    f"states {n} but its input is {len(shape) - 2}-d",
                    field=n,
                    expected=" and ".join(names) or "no spatial size",
                )
            check_stated(n, value, shape[2 + names.index(n)])


class FlatInput(Layer):
    """Input (N, ..., Cin): features on the last axis, as nn.Linear takes them."""

    Cin: PositiveInt | None = Field(None, description=_STATED.format("input features (last axis)"))

    def stated_inputs(self) -> tuple[Shape, ...]:
        if self.Cin is None:
            raise SpecError("input features not given", field="Cin", expected="a positive int")
        return ((self.N or 1, self.Cin),)

    def check_inputs(self, inputs: tuple[Shape, ...]) -> None:
        (shape,) = inputs
        check_stated("N", self.N, shape[0])
        check_stated("Cin", self.Cin, shape[-1])


def feature_map(shape: Shape, kind: str) -> None:
    """Layers that slide over spatial axes need an (N, C, *spatial) input."""
    if len(shape) < 3:
        raise ShapeError(
            f"'{kind}' needs a feature map (N, C, ...) but its input has shape {format_shape(shape)}",
            field="type",
            expected="a conv/pool-style input; flatten only before linear layers",
        )


def format_shape(shape: Shape) -> str:
    return "x".join(str(s) for s in shape)
