"""Fuzzing ``rnnkit._core`` directly, below rnnkit.ops' checks and conversions: the bindings are
the last line of defence for anything that reaches them (cpp/bindings/checks.hpp), so every cell's
forward and backward entry point must either compute what the NumPy reference computes or raise a
clean exception, whatever it is handed.

The contract tested, for ``<cell>_forward`` and ``<cell>_backward`` of every cell:

- Valid calls (float32 or float64 throughout, C-contiguous, any of N, T, D zero, H >= 1, any
  valid lengths, truncation, initial states, masks; read-only inputs too) match
  :mod:`rnnkit.reference` (float64 to 1e-10, float32 to 1e-4 with ``max_rel_diff``), return
  fresh writeable arrays of the input dtype, and leave their inputs untouched.
- A non-C-contiguous array (Fortran order, negative strides, transposed or strided views) is a
  TypeError: the arguments are ``noconvert``, nothing is copied silently. A view that is still
  C-contiguous (numpy's flag, e.g. with at most one element along the odd axis) computes as usual.
  A C-contiguous array off its dtype's alignment may be refused (TypeError or ValueError) or
  computed right, but never read through misaligned pointers (UB, which UBSan stops).
- A wrong dtype (integers, float16, complex, object, bool, the other float width, the other byte
  order, a list, None for a required array) is a TypeError, like a wrong number of states or
  activations and a truncation that is no int (the project's rule: _checks.py).
- A wrong shape or value (any mismatched dimension, lengths outside [0, T], a negative truncation,
  an unknown activation, a missing or superfluous ``saved`` / ``cell_params``) is a ValueError.
- H = 0 is a ValueError: a layer without units is no layer, and the BLAS calls of a zero-width
  layer are ill-formed (leading dimension 0), so the kernels cannot give it a meaning. N = 0,
  T = 0 and D = 0 are well defined (empty outputs, zero gradients, a recurrence driven by its
  bias alone) and compared with the reference.

Examples are drawn per cell and per kind of mistake, so that each failing kind shows up as its
own test. Hypothesis runs without a database and deadline, with small shapes (the reference
loops in Python) and 30 to 100 examples per test; a fixed set of wide layers on three threads
adds the kernels' padded strides and batch split. The file takes about 10 s on 2 cores, 15 s in
the sanitizer stage (.ci/sanitize), where an out-of-bounds access or UB would stop it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from _cell_testing import GRU, GRU_RESET_BEFORE, LN_RNN, LSTM, RNN, Cell, random_case
from _rnn_testing import max_rel_diff
from rnnkit import _core, reference
from rnnkit.ops import ACTIVATIONS

CELLS = (RNN, LN_RNN, LSTM, GRU, GRU_RESET_BEFORE)
CELL_IDS = [c.label or c.name for c in CELLS]
FLOATS: tuple[np.dtype, ...] = (np.dtype(np.float32), np.dtype(np.float64))
TOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4}
# float32 cases use the smooth activations only: a relu or hard_sigmoid pre-activation within
# float32 rounding of a kink may fall on the other side than in the float64 reference, which
# changes a gradient by O(1) without either being wrong. In float64 that needs |a| < 1e-15.
SMOOTH = ("tanh", "sigmoid", "linear")
# The calls that the tests below take apart need no particular numbers, only finite ones: with
# bounded activations no state can grow past float32's range (or float16's, when cast to it).
BOUNDED = ("tanh", "sigmoid", "hard_sigmoid")
FUZZ = settings(max_examples=100, deadline=None, database=None)
FEW = settings(max_examples=30, deadline=None, database=None)


def core(cell: Cell, direction: str) -> Callable[..., Any]:
    """``_core.<cell>_forward`` or ``_core.<cell>_backward``."""
    return getattr(_core, f"{cell.label or cell.name}_{direction}")


# --- valid calls ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Options:
    """One drawn valid call: shapes, dtype, and which optional arguments are given."""

    dtype: np.dtype
    shape: tuple[int, int, int, int]  # N, T, D, H
    activations: tuple[str, ...]
    lengths: tuple[int, ...] | None
    initial: tuple[bool, ...]  # which initial states are given
    d_final: tuple[bool, ...]  # which final-state gradients are given
    dhs: bool
    mask: bool
    truncate: int  # the kernel's: 0 is full BPTT
    readonly: bool
    seed: int


@st.composite
def options(draw: st.DrawFn, cell: Cell, names: tuple[str, ...] = ()) -> Options:
    """A valid call; ``names``: the activations to draw from (by default all, in float32 the
    smooth ones)."""
    dtype = draw(st.sampled_from(FLOATS))
    n, t, d, h = (
        draw(st.integers(0, 4)),
        draw(st.integers(0, 5)),
        draw(st.integers(0, 4)),
        draw(st.integers(1, 4)),
    )
    names = names or (SMOOTH if dtype == np.float32 else ACTIVATIONS)
    lengths = st.lists(st.integers(0, t), min_size=n, max_size=n).map(tuple)
    flags = st.lists(st.booleans(), min_size=len(cell.states), max_size=len(cell.states))
    return Options(
        dtype=dtype,
        shape=(n, t, d, h),
        activations=tuple(draw(st.sampled_from(names)) for _ in cell.activations),
        lengths=draw(st.none() | lengths),
        initial=tuple(draw(flags)),
        d_final=tuple(draw(flags)),
        dhs=draw(st.booleans()),
        mask=draw(st.booleans()),
        truncate=draw(st.integers(0, t + 1)),
        readonly=draw(st.booleans()),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@dataclasses.dataclass
class Call:
    """A valid call of both entry points, and the arrays the reference takes."""

    cell: Cell
    opts: Options
    case: dict[str, Any]  # _cell_testing's case, optional arrays None where not given
    forward: dict[str, Any]  # keyword arguments of _core.<cell>_forward
    backward: dict[str, Any]  # of _core.<cell>_backward, with the forward's hs and saved


def _frozen(value: Any, readonly: bool) -> Any:
    if readonly and isinstance(value, np.ndarray):
        value.flags.writeable = False
    return value


def make_call(cell: Cell, o: Options) -> Call:
    case = random_case(
        cell,
        o.seed,
        o.shape,
        activations=o.activations,
        dtype=o.dtype,
        lengths=o.lengths,
        recurrent_dropout=0.3 if o.mask else 0.0,
    )
    case["initial"] = tuple(s if g else None for s, g in zip(case["initial"], o.initial))
    case["d_final"] = tuple(s if g else None for s, g in zip(case["d_final"], o.d_final))
    case["dhs"] = case["dhs"] if o.dhs else None
    params = np.stack([case[p] for p in cell.params]) if cell.params else None

    def fix(value: Any) -> Any:
        return _frozen(value, o.readonly)

    initial = [fix(s) for s in case["initial"]]
    forward = {
        "x": fix(case["x"]),
        "Wx": fix(case["Wx"]),
        "Wh": fix(case["Wh"]),
        "b": fix(case["b"]),
        "initial": initial,
        "lengths": fix(case["lengths"]),
        "activations": list(o.activations),
        "recurrent_mask": fix(case["recurrent_mask"]),
        "cell_params": fix(params),
    }
    hs, _, saved = core(cell, "forward")(**forward)
    backward = {
        "dhs": fix(case["dhs"]),
        "d_final": [fix(d) for d in case["d_final"]],
        "x": forward["x"],
        "Wx": forward["Wx"],
        "Wh": forward["Wh"],
        "initial": initial,
        "hs": fix(hs),
        "saved": fix(saved),
        "lengths": forward["lengths"],
        "activations": list(o.activations),
        "recurrent_mask": forward["recurrent_mask"],
        "cell_params": forward["cell_params"],
        "truncate": o.truncate,
    }
    return Call(cell, o, case, forward, backward)


def _float64(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_float64(v) for v in value)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(np.float64)
    return value


def reference_outputs(call: Call) -> dict[str, np.ndarray]:
    """What rnnkit.reference computes for the call, in float64, named like core_outputs'."""
    cell = call.cell
    case = {k: _float64(v) for k, v in call.case.items()}
    hs, finals, cache = cell.forward(reference, case)
    k = call.opts.truncate
    grads = cell.backward(reference, cache, case["dhs"], case["d_final"], k if k > 0 else None)
    out = {"hs": hs, **{f"final[{i}]": f for i, f in enumerate(finals)}}
    out.update({f"d{key}": grads[key] for key in ("x", "Wx", "Wh", "b")})
    out.update({f"d_initial[{i}]": grads[s] for i, s in enumerate(cell.states)})
    out.update({f"d_cell_params[{i}]": grads[p] for i, p in enumerate(cell.params)})
    return out


def core_outputs(call: Call) -> dict[str, np.ndarray]:
    """Both entry points on the call, every output array by name."""
    hs, finals, _ = core(call.cell, "forward")(**call.forward)
    dx, dWx, dWh, db, d_initial, d_params = core(call.cell, "backward")(**call.backward)
    out = {"hs": hs, **{f"final[{i}]": f for i, f in enumerate(finals)}}
    out.update({"dx": dx, "dWx": dWx, "dWh": dWh, "db": db})
    out.update({f"d_initial[{i}]": d for i, d in enumerate(d_initial)})
    if call.cell.params:
        assert d_params is not None, "d_cell_params missing for a cell with parameters"
        out.update({f"d_cell_params[{i}]": row for i, row in enumerate(d_params)})
    else:
        assert d_params is None, "d_cell_params returned for a cell without parameters"
    return out


def array_arguments(call: Call) -> list[np.ndarray]:
    found: list[np.ndarray] = []
    for value in [*call.forward.values(), *call.backward.values()]:
        items = value if isinstance(value, list) else [value]
        found.extend(v for v in items if isinstance(v, np.ndarray))
    return found


def check_against_reference(call: Call, expected: dict[str, np.ndarray] | None = None) -> None:
    inputs = array_arguments(call)
    before = [a.copy() for a in inputs]
    actual = core_outputs(call)
    if expected is None:
        expected = reference_outputs(call)
    assert actual.keys() == expected.keys()
    dtype = call.opts.dtype
    errors = {}
    for name, value in actual.items():
        assert type(value) is np.ndarray and value.dtype == dtype, (name, type(value), value.dtype)
        assert value.shape == expected[name].shape, (name, value.shape, expected[name].shape)
        assert value.flags.c_contiguous and value.flags.writeable, (name, value.flags)
        assert not any(np.may_share_memory(value, a) for a in inputs), f"{name} aliases an input"
        errors[name] = max_rel_diff(value, expected[name])
    bad = {name: err for name, err in errors.items() if not err <= TOL[dtype]}
    assert not bad, f"{call.opts}: over {TOL[dtype]:g}: {bad}"
    for a, b in zip(inputs, before):
        np.testing.assert_array_equal(a, b, err_msg="an input was modified")


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
@FUZZ
@given(data=st.data())
def test_valid_calls_match_the_reference(cell: Cell, data: st.DataObject) -> None:
    call = make_call(cell, data.draw(options(cell)))
    # Linear gates grow the states doubly exponentially over the steps: float32 then overflows
    # where the float64 reference does not (or both do, and the reference's sigmoid warns of
    # exp overflowing). Such values test no kernel.
    with np.errstate(over="ignore", invalid="ignore"):
        expected = reference_outputs(call)
    assume(all(np.abs(v).max(initial=0.0) < 1e15 for v in expected.values()))
    check_against_reference(call, expected)


# N = 0, T = 0 and D = 0, alone and together, with every optional argument given and not: drawn
# above as well, but pinned here so that each is always run.
@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize(
    "shape",
    [(0, 3, 2, 3), (2, 0, 2, 3), (2, 3, 0, 3), (0, 0, 2, 3), (0, 0, 0, 3), (1, 1, 0, 1)],
    ids=["N0", "T0", "D0", "N0T0", "N0T0D0", "D0H1"],
)
@pytest.mark.parametrize("given_all", [False, True], ids=["bare", "everything"])
def test_empty_sizes_match_the_reference(
    cell: Cell, dtype: np.dtype, shape: tuple[int, int, int, int], given_all: bool
) -> None:
    n, t, _, _ = shape
    states = (given_all,) * len(cell.states)
    o = Options(
        dtype=dtype,
        shape=shape,
        activations=("tanh",) * len(cell.activations),
        lengths=tuple(min(t, i) for i in range(n)) if given_all else None,
        initial=states,
        d_final=states,
        dhs=given_all,
        mask=given_all,
        truncate=1 if given_all else 0,
        readonly=False,
        seed=7,
    )
    check_against_reference(make_call(cell, o))


# Rows of 1 KiB (H = 256 in float32, 128 in float64) make the kernels pad their scratch rows,
# and the LSTM's Wh rows of 4 KiB its copy of Wh (driver_impl.hpp, unaliased_stride); three
# rows on three threads split the batch between workers, each with its own weight gradients.
# The drawn shapes above are too small for either.
@pytest.fixture
def three_threads() -> Iterator[None]:
    before = _core.get_num_threads()
    _core.set_num_threads(3)
    yield
    _core.set_num_threads(before)


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_wide_layers_on_several_workers_match_the_reference(
    three_threads: None, cell: Cell, dtype: np.dtype
) -> None:
    states = (True,) * len(cell.states)
    o = Options(
        dtype=dtype,
        shape=(3, 12, 5, 1024 // dtype.itemsize),
        activations=("tanh",) * len(cell.activations),
        lengths=(12, 5, 0),
        initial=states,
        d_final=states,
        dhs=True,
        mask=True,
        truncate=5,
        readonly=False,
        seed=11,
    )
    check_against_reference(make_call(cell, o))


# --- argument surgery -----------------------------------------------------------------------------

Leaf = tuple[str, int | None]  # an argument name, and the index within initial / d_final


def leaves(kwargs: dict[str, Any]) -> list[Leaf]:
    """Every array among the keyword arguments."""
    found: list[Leaf] = []
    for name, value in kwargs.items():
        if isinstance(value, np.ndarray):
            found.append((name, None))
        elif isinstance(value, list):
            found.extend((name, i) for i, v in enumerate(value) if isinstance(v, np.ndarray))
    return found


def label(leaf: Leaf) -> str:
    return leaf[0] if leaf[1] is None else f"{leaf[0]}[{leaf[1]}]"


def get(kwargs: dict[str, Any], leaf: Leaf) -> Any:
    name, i = leaf
    return kwargs[name] if i is None else kwargs[name][i]


def replaced(kwargs: dict[str, Any], leaf: Leaf, value: Any) -> dict[str, Any]:
    out = dict(kwargs)
    name, i = leaf
    if i is None:
        out[name] = value
    else:
        out[name] = list(kwargs[name])
        out[name][i] = value
    return out


def summary(result: Any) -> str:
    if isinstance(result, np.ndarray):
        return f"array{result.shape}"
    if isinstance(result, tuple):
        return "(" + ", ".join(summary(r) for r in result) + ")"
    return type(result).__name__


def expect_refusal(
    fn: Callable[..., Any], kwargs: dict[str, Any], error: type[Exception], what: str
) -> None:
    """``fn(**kwargs)`` raises ``error``: not another exception, not a result."""
    try:
        result = fn(**kwargs)
    except error:
        return
    except Exception as e:
        pytest.fail(f"{what}: raised {type(e).__name__} ({e}) instead of {error.__name__}")
    pytest.fail(f"{what}: returned {summary(result)} instead of raising {error.__name__}")


DIRECTIONS = st.sampled_from(["forward", "backward"])


def base_call(data: st.DataObject, cell: Cell) -> Call:
    return make_call(cell, data.draw(options(cell, BOUNDED), label="options"))


# --- memory layout --------------------------------------------------------------------------------


def _fortran(a: np.ndarray) -> np.ndarray:
    return np.asfortranarray(a)


def _reversed(a: np.ndarray) -> np.ndarray:  # the same values, read through negative strides
    return np.ascontiguousarray(a[::-1])[::-1] if a.ndim else a


def _transposed(a: np.ndarray) -> np.ndarray:  # the same values, stored transposed
    return np.ascontiguousarray(np.swapaxes(a, 0, -1)).swapaxes(0, -1) if a.ndim > 1 else a


def _every_other(a: np.ndarray) -> np.ndarray:  # the same values, every other element of a row
    if not a.ndim:
        return a
    wide = np.zeros((*a.shape[:-1], 2 * a.shape[-1]), a.dtype)
    wide[..., ::2] = a
    return wide[..., ::2]


def _readonly(a: np.ndarray) -> np.ndarray:
    b = a.copy()
    b.flags.writeable = False
    return b


def _unaligned(a: np.ndarray) -> np.ndarray:  # C-contiguous, one byte off the dtype's alignment
    raw = np.zeros(a.nbytes + 1, np.uint8)
    b = raw[1:].view(a.dtype).reshape(a.shape)
    b[...] = a
    return b


LAYOUTS = {
    "fortran": _fortran,
    "reversed": _reversed,
    "transposed": _transposed,
    "every_other": _every_other,
    "readonly": _readonly,
    "unaligned": _unaligned,
}


def same_results(actual: Any, expected: Any, tol: float, what: str) -> None:
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple) and len(actual) == len(expected), what
        for a, e in zip(actual, expected):
            same_results(a, e, tol, what)
    elif expected is None:
        assert actual is None, what
    else:
        assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
        assert max_rel_diff(actual, expected) <= tol, f"{what}: results differ"


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
@FEW
@given(data=st.data())
def test_memory_layouts(cell: Cell, layout: str, data: st.DataObject) -> None:
    call = base_call(data, cell)
    direction = data.draw(DIRECTIONS, label="direction")
    kwargs = getattr(call, direction)
    leaf = data.draw(st.sampled_from(leaves(kwargs)), label="argument")
    view = LAYOUTS[layout](get(kwargs, leaf))
    what = f"{direction}: {label(leaf)} {layout}, shape {view.shape}, strides {view.strides}"
    fn = core(cell, direction)
    if not view.flags.c_contiguous:
        expect_refusal(fn, replaced(kwargs, leaf, view), TypeError, what)
        return
    expected = fn(**kwargs)
    if not view.flags.aligned:
        # Misaligned data is C-contiguous to numpy and the bindings; either a clean refusal or
        # the right result will do, but never a misaligned load (UBSan checks alignment).
        try:
            actual = fn(**replaced(kwargs, leaf, view))
        except (TypeError, ValueError):
            return
    else:
        actual = fn(**replaced(kwargs, leaf, view))
    same_results(actual, expected, TOL[call.opts.dtype], what)


# --- wrong dtypes and types -----------------------------------------------------------------------


def _other_float(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float32 if a.dtype == np.float64 else np.float64)


def _byteswapped(a: np.ndarray) -> np.ndarray:  # the same values in the other byte order
    return a.astype(a.dtype.newbyteorder())


FLOAT_MISTAKES: dict[str, Callable[[np.ndarray], Any]] = {
    "int32": lambda a: a.astype(np.int32),
    "int64": lambda a: a.astype(np.int64),
    "float16": lambda a: a.astype(np.float16),
    "complex": lambda a: a.astype(np.complex128),
    "object": lambda a: a.astype(object),
    "bool": lambda a: a.astype(bool),
    "other_float": _other_float,
    "byteswapped": _byteswapped,
    "list": lambda a: a.tolist(),
}
LENGTHS_MISTAKES: dict[str, Callable[[np.ndarray], Any]] = {
    "int32": lambda a: a.astype(np.int32),
    "uint64": lambda a: a.astype(np.uint64),
    "float64": lambda a: a.astype(np.float64),
    "bool": lambda a: a.astype(bool),
    "object": lambda a: a.astype(object),
    "byteswapped": _byteswapped,
    "list": lambda a: a.tolist(),
}
REQUIRED = {"forward": ("x", "Wx", "Wh", "b"), "backward": ("x", "Wx", "Wh", "hs")}


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
@FUZZ
@given(data=st.data())
def test_wrong_dtypes_are_type_errors(cell: Cell, data: st.DataObject) -> None:
    call = base_call(data, cell)
    direction = data.draw(DIRECTIONS, label="direction")
    kwargs = getattr(call, direction)
    leaf = data.draw(st.sampled_from(leaves(kwargs)), label="argument")
    table = LENGTHS_MISTAKES if leaf[0] == "lengths" else FLOAT_MISTAKES
    mistake = data.draw(st.sampled_from(sorted(table)), label="mistake")
    bad = table[mistake](get(kwargs, leaf))
    what = f"{direction}: {label(leaf)} as {mistake}"
    expect_refusal(core(cell, direction), replaced(kwargs, leaf, bad), TypeError, what)


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
@FEW
@given(data=st.data())
def test_none_for_a_required_array_is_a_type_error(cell: Cell, data: st.DataObject) -> None:
    call = base_call(data, cell)
    direction = data.draw(DIRECTIONS, label="direction")
    name = data.draw(st.sampled_from(REQUIRED[direction]), label="argument")
    kwargs = replaced(getattr(call, direction), (name, None), None)
    expect_refusal(core(cell, direction), kwargs, TypeError, f"{direction}: {name}=None")


# --- wrong shapes ---------------------------------------------------------------------------------


def _grown(a: np.ndarray, axis: int) -> np.ndarray:
    pad = [(0, 0)] * a.ndim
    pad[axis] = (0, 1)
    return np.pad(a, pad)


def _shrunk(a: np.ndarray, axis: int) -> np.ndarray:
    return np.take(a, np.arange(a.shape[axis] - 1), axis=axis)


def _merged(a: np.ndarray) -> np.ndarray:  # the last two axes as one
    return a.reshape(*a.shape[:-2], a.shape[-2] * a.shape[-1])


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
@FUZZ
@given(data=st.data())
def test_wrong_shapes_are_value_errors(cell: Cell, data: st.DataObject) -> None:
    call = base_call(data, cell)
    direction = data.draw(DIRECTIONS, label="direction")
    kwargs = getattr(call, direction)
    leaf = data.draw(st.sampled_from(leaves(kwargs)), label="argument")
    a = get(kwargs, leaf)
    kinds = ["extra_axis"] + (["merged_axes"] if a.ndim > 1 else [])
    axes = range(a.ndim)
    if direction == "forward" and leaf[0] == "x":
        # the forward reads N and T off x, and other arguments need not depend on them
        axes = range(2, a.ndim)
    kinds += [f"grow_{i}" for i in axes]
    kinds += [f"shrink_{i}" for i in axes if a.shape[i] > 0]
    kind = data.draw(st.sampled_from(kinds), label="change")
    if kind == "extra_axis":
        bad = a[np.newaxis]
    elif kind == "merged_axes":
        bad = _merged(a)
    else:
        change, axis = kind.split("_")
        bad = (_grown if change == "grow" else _shrunk)(a, int(axis))
    what = f"{direction}: {label(leaf)} of shape {bad.shape} instead of {a.shape}"
    expect_refusal(core(cell, direction), replaced(kwargs, leaf, bad), ValueError, what)


# --- wrong values and argument structure ----------------------------------------------------------


def _lengths_out_of_range(call: Call, data: st.DataObject, direction: str) -> dict[str, Any]:
    kwargs = getattr(call, direction)
    n, t = call.opts.shape[:2]
    lengths = np.full(n, t, np.int64) if kwargs["lengths"] is None else kwargs["lengths"].copy()
    i = data.draw(st.integers(0, n - 1), label="row")
    lengths[i] = data.draw(st.integers(-(2**62), -1) | st.integers(t + 1, 2**62), label="length")
    return {**kwargs, "lengths": lengths}


def _truncate(value: st.SearchStrategy[Any]) -> Callable[..., dict[str, Any]]:
    def mistake(call: Call, data: st.DataObject, direction: str) -> dict[str, Any]:
        return {**call.backward, "truncate": data.draw(value, label="truncate")}

    return mistake


def _activation_unknown(call: Call, data: st.DataObject, direction: str) -> dict[str, Any]:
    kwargs = getattr(call, direction)
    names = list(kwargs["activations"])
    i = data.draw(st.integers(0, len(names) - 1), label="which")
    names[i] = data.draw(st.sampled_from(["", "TANH", "softmax", "tanh ", "gelu"]), label="name")
    return {**kwargs, "activations": names}


def _activation_count(call: Call, data: st.DataObject, direction: str) -> dict[str, Any]:
    kwargs = getattr(call, direction)
    names = list(kwargs["activations"])
    names = names[:-1] if data.draw(st.booleans(), label="drop") else [*names, "tanh"]
    return {**kwargs, "activations": names}


def _activation_not_str(call: Call, data: st.DataObject, direction: str) -> dict[str, Any]:
    kwargs = getattr(call, direction)
    names: list[Any] = list(kwargs["activations"])
    names[0] = data.draw(st.sampled_from([None, 1, 0.5, ["tanh"]]), label="name")
    return {**kwargs, "activations": names}


def _states_count(call: Call, data: st.DataObject, direction: str) -> dict[str, Any]:
    kwargs = getattr(call, direction)
    name = data.draw(
        st.sampled_from(["initial", "d_final"] if direction == "backward" else ["initial"])
    )
    states = list(kwargs[name])
    states = states[:-1] if data.draw(st.booleans(), label="drop") else [*states, None]
    return {**kwargs, name: states}


def _cell_params_mismatch(call: Call, data: st.DataObject, direction: str) -> dict[str, Any]:
    # required exactly when the cell has parameters of its own
    kwargs = getattr(call, direction)
    h = call.opts.shape[3]
    wrong = None if call.cell.params else np.ones((2, h), call.opts.dtype)
    return {**kwargs, "cell_params": wrong}


def _saved_mismatch(call: Call, data: st.DataObject, direction: str) -> dict[str, Any]:
    # the backward needs exactly the forward's saved array: None when it saved nothing
    n, t, _, _ = call.opts.shape
    saved = call.backward["saved"]
    wrong = np.zeros((n, t, 1), call.opts.dtype) if saved is None else None
    return {**call.backward, "saved": wrong}


VALUE_MISTAKES: dict[str, tuple[Callable[..., dict[str, Any]], type[Exception], bool]] = {
    # name: (mistake, expected error, backward only)
    "lengths_out_of_range": (_lengths_out_of_range, ValueError, False),
    "truncate_negative": (_truncate(st.integers(-(2**31), -1)), ValueError, True),
    "truncate_not_int": (_truncate(st.sampled_from([None, 1.5, "2", [1]])), TypeError, True),
    "truncate_beyond_int32": (_truncate(st.integers(2**31, 2**70)), TypeError, True),
    "activation_unknown": (_activation_unknown, ValueError, False),
    "activation_count": (_activation_count, TypeError, False),
    "activation_not_str": (_activation_not_str, TypeError, False),
    "states_count": (_states_count, TypeError, False),
    "cell_params_mismatch": (_cell_params_mismatch, ValueError, False),
    "saved_mismatch": (_saved_mismatch, ValueError, True),
}


@pytest.mark.parametrize("mistake", list(VALUE_MISTAKES))
@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
@FEW
@given(data=st.data())
def test_wrong_values_are_refused(cell: Cell, mistake: str, data: st.DataObject) -> None:
    make_mistake, error, backward_only = VALUE_MISTAKES[mistake]
    call = base_call(data, cell)
    if mistake == "lengths_out_of_range" and call.opts.shape[0] == 0:
        return  # no row to put a length in
    direction = "backward" if backward_only else data.draw(DIRECTIONS, label="direction")
    kwargs = make_mistake(call, data, direction)
    expect_refusal(core(cell, direction), kwargs, error, f"{direction}: {mistake}")


# --- H = 0 ----------------------------------------------------------------------------------------


def saved_width(cell: Cell, h: int) -> int | None:
    """The width of the forward's saved array at ``h`` units (None when it saves nothing),
    extrapolated from the forward at 1 and 2 units: it is linear in H for every cell."""
    widths = []
    for units in (1, 2):
        o = Options(
            dtype=np.dtype(np.float64),
            shape=(1, 1, 1, units),
            activations=("tanh",) * len(cell.activations),
            lengths=None,
            initial=(False,) * len(cell.states),
            d_final=(False,) * len(cell.states),
            dhs=False,
            mask=False,
            truncate=0,
            readonly=False,
            seed=0,
        )
        saved = make_call(cell, o).backward["saved"]
        widths.append(None if saved is None else saved.shape[2])
    if widths[0] is None:
        return None
    return widths[0] + (h - 1) * (widths[1] - widths[0])


@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
@FEW
@given(data=st.data())
def test_zero_hidden_units_are_a_value_error(
    cell: Cell, direction: str, data: st.DataObject
) -> None:
    dtype = data.draw(st.sampled_from(FLOATS), label="dtype")
    n, t, d = (data.draw(st.integers(0, 3), label=axis) for axis in "NTD")
    given_optional = data.draw(st.booleans(), label="optional arrays given")
    g = 0  # gates · H columns
    b = np.zeros((2, g) if cell.bias_rows == 2 else g, dtype)
    states = [np.zeros((n, 0), dtype) if given_optional else None for _ in cell.states]
    common = {
        "x": np.ones((n, t, d), dtype),
        "Wx": np.zeros((d, g), dtype),
        "Wh": np.zeros((0, g), dtype),
        "initial": states,
        "lengths": np.full(n, t, np.int64) if given_optional else None,
        "activations": ["tanh"] * len(cell.activations),
        "recurrent_mask": np.zeros((n, 0), dtype) if given_optional else None,
        "cell_params": np.zeros((len(cell.params), 0), dtype) if cell.params else None,
    }
    what = f"N, T, D, H = {n}, {t}, {d}, 0 ({'with' if given_optional else 'without'} options)"
    if direction == "forward":
        expect_refusal(core(cell, "forward"), {**common, "b": b}, ValueError, f"forward: {what}")
        return
    width = saved_width(cell, 0)
    backward = {
        **common,
        "dhs": np.ones((n, t, 0), dtype) if given_optional else None,
        "d_final": states,
        "hs": np.zeros((n, t, 0), dtype),
        "saved": None if width is None else np.zeros((n, t, width), dtype),
        "truncate": 0,
    }
    expect_refusal(core(cell, "backward"), backward, ValueError, f"backward: {what}")
