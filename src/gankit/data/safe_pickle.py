"""A restricted pickle *interpreter* for data files that happen to be pickles (CIFAR batches).

Nothing in the file is ever imported, called or instantiated. The byte stream is tokenised with
:func:`pickletools.genops` (a pure parser) and interpreted here: plain values (None, bool, int, float,
str, bytes), containers (list, tuple, dict, set) and the memo are supported, and the only globals
accepted are a handful of names that numpy and Python use to pickle arrays and bytes. Each of those is
*emulated* by code in this module; nothing is looked up by name:

- ``numpy.core.multiarray._reconstruct`` / ``numpy._core.multiarray._reconstruct`` with ``numpy.ndarray``,
  followed by BUILD with ``(version, shape, dtype, is_fortran, raw_bytes)`` (protocols 0-4),
- ``numpy.core.numeric._frombuffer`` / ``numpy._core.numeric._frombuffer`` (numpy's protocol 5 path),
- ``numpy.dtype(descr, align, copy)`` followed by BUILD with the dtype state (byte order),
- ``_codecs.encode(text, 'latin1')`` and ``bytes()``: how Python 3 writes bytes at protocol 2.

Anything else (another global, INST/OBJ/NEWOBJ, persistent ids, out-of-band buffers) raises
:class:`UnsafePickleContent` before anything happens. Python 2 byte strings (STRING, BINSTRING,
SHORT_BINSTRING) come back as ``bytes``, as pickle's loader gives them with encoding='bytes'.
"""
from __future__ import annotations

import io
import math
import pickletools
from typing import Any

import numpy as np

__all__ = ["UnsafePickleContent", "safe_unpickle"]


class UnsafePickleContent(ValueError):
    """The stream holds something this interpreter does not emulate, or is malformed.

    The message is a short phrase (e.g. ``"GLOBAL os.system"``) that callers put into their own
    one-line, file-naming error.
    """


_RECONSTRUCT, _NDARRAY, _DTYPE, _ENCODE, _FROMBUFFER, _BYTES = (
    "reconstruct", "ndarray", "dtype", "encode", "frombuffer", "bytes")

# (module, name) -> which emulation handles it. Nothing here is ever imported.
_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _DTYPE,
    ("_codecs", "encode"): _ENCODE,
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("__builtin__", "bytes"): _BYTES,
    ("builtins", "bytes"): _BYTES,
}

# Only plain numeric/bool/fixed-width string dtypes can be rebuilt from raw bytes.
_DTYPE_KINDS = set("biufcSU")


class _Global:
    def __init__(self, kind: str):
        self.kind = kind


class _DtypeStub:
    """A numpy.dtype(...) whose byte order arrives later by BUILD."""

    def __init__(self, descr: str):
        self.descr = descr
        self.dtype = np.dtype(descr)

    def build(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) < 5:
            raise UnsafePickleContent("unsupported numpy dtype state")
        order = _text(state[1])
        if any(s is not None for s in state[2:5]):
            raise UnsafePickleContent("structured or sub-array numpy dtype")
        if order not in ("<", ">", "|", "="):
            raise UnsafePickleContent(f"numpy dtype byte order {order!r}")
        self.dtype = self.dtype.newbyteorder(order) if order != "|" else self.dtype


class _ArrayStub:
    """``_reconstruct(ndarray, ...)``: an empty array that BUILD fills in."""

    def __init__(self) -> None:
        self.array: np.ndarray | None = None

    def build(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise UnsafePickleContent("unsupported numpy array state")
        shape, dtype, fortran, raw = state[-4:]
        self.array = _array_from_bytes(raw, dtype, shape, "F" if fortran else "C")


def _text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    if isinstance(value, str):
        return value
    raise UnsafePickleContent(f"expected text, got {type(value).__name__}")


def _array_from_bytes(raw: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    if not isinstance(dtype, _DtypeStub):
        raise UnsafePickleContent("numpy array without a plain dtype")
    if isinstance(raw, str):  # a Python 2 str that went through text decoding
        raw = raw.encode("latin-1")
    if not isinstance(raw, (bytes, bytearray)):
        raise UnsafePickleContent("numpy array with object (non-byte) contents")
    if isinstance(shape, int):
        shape = (shape,)
    if not isinstance(shape, tuple) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise UnsafePickleContent("numpy array with an invalid shape")
    dt = dtype.dtype
    if dt.kind not in _DTYPE_KINDS or dt.hasobject:
        raise UnsafePickleContent(f"numpy dtype {dt.str}")
    if math.prod(shape) * dt.itemsize != len(raw):
        raise UnsafePickleContent(
            f"numpy array of shape {shape} {dt.str} needs {math.prod(shape) * dt.itemsize} bytes, has {len(raw)}")
    # copy: the result must own writable memory, independent of the file's buffer.
    return np.frombuffer(raw, dtype=dt).reshape(shape, order=order).copy(order="C")


def _call(kind: str, args: Any) -> Any:
    """Emulate calling the global ``kind`` with ``args`` (REDUCE)."""
    if not isinstance(args, tuple):
        raise UnsafePickleContent("REDUCE with non-tuple arguments")
    if kind == _ENCODE:
        if len(args) == 2 and isinstance(args[0], str) and args[1] in ("latin1", "latin-1"):
            return args[0].encode("latin-1")
        raise UnsafePickleContent("_codecs.encode with other arguments than (str, 'latin1')")
    if kind == _BYTES:
        if args == ():
            return b""
        raise UnsafePickleContent("bytes(...) with arguments")
    if kind == _RECONSTRUCT:
        if len(args) == 3 and isinstance(args[0], _Global) and args[0].kind == _NDARRAY:
            return _ArrayStub()
        raise UnsafePickleContent("_reconstruct of something other than numpy.ndarray")
    if kind == _DTYPE:
        if 1 <= len(args) <= 3:
            descr = _text(args[0])
            if not descr[:1].isalpha() or not descr.isalnum():
                raise UnsafePickleContent(f"numpy dtype {descr!r}")
            try:
                return _DtypeStub(descr)
            except TypeError as e:
                raise UnsafePickleContent(f"numpy dtype {descr!r}") from e
        raise UnsafePickleContent("numpy.dtype with other arguments")
    if kind == _FROMBUFFER:
        if len(args) == 4:
            return _array_from_bytes(args[0], args[1], args[2], _text(args[3]))
        raise UnsafePickleContent("_frombuffer with other arguments")
    raise UnsafePickleContent(f"calling {kind}")


def _finish(obj: Any, seen: dict[int, Any]) -> Any:
    """Replace array/dtype stubs by real numpy objects, everywhere in the result."""
    if isinstance(obj, _ArrayStub):
        if obj.array is None:
            raise UnsafePickleContent("numpy array that was never filled in")
        return obj.array
    if isinstance(obj, _DtypeStub):
        return obj.dtype
    if isinstance(obj, _Global):
        raise UnsafePickleContent(f"a bare reference to {obj.kind}")
    if isinstance(obj, (list, dict, tuple, set, frozenset)):
        if id(obj) in seen:
            return seen[id(obj)]
        if isinstance(obj, list):
            seen[id(obj)] = obj
            obj[:] = [_finish(v, seen) for v in obj]
        elif isinstance(obj, dict):
            seen[id(obj)] = obj
            items = [(_finish(k, seen), _finish(v, seen)) for k, v in obj.items()]
            obj.clear()
            obj.update(items)
        else:
            out = type(obj)(_finish(v, seen) for v in obj)
            seen[id(obj)] = out
            return out
    return obj


_PLAIN = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_VALUE_OPS = {"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
              "UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8",
              "BINBYTES", "SHORT_BINBYTES", "BINBYTES8"}
_PY2_STRING_OPS = {"STRING", "BINSTRING", "SHORT_BINSTRING"}
_IGNORED = {"PROTO", "FRAME"}


def safe_unpickle(data: bytes) -> Any:
    """Interpret the pickle ``data`` without executing anything.

    Args:
        data: the whole pickle stream (protocol 0-5).

    Returns:
        Nested dict/list/tuple/set of plain values, bytes and numpy arrays (C-contiguous, writable).

    Raises:
        UnsafePickleContent: an unsupported opcode or global (message like ``"GLOBAL os.system"``),
            or a malformed stream.
    """
    stack: list[Any] = []
    marks: list[list[Any]] = []
    memo: dict[int, Any] = {}

    def pop_mark() -> list[Any]:
        nonlocal stack
        items = stack
        stack = marks.pop()
        return items

    try:
        for op, arg, _pos in pickletools.genops(io.BytesIO(data)):
            name = op.name
            if name in _IGNORED:
                continue
            if name in _VALUE_OPS:
                stack.append(arg)
            elif name in _PLAIN:
                stack.append(_PLAIN[name])
            elif name in _PY2_STRING_OPS:
                stack.append(arg.encode("latin-1"))
            elif name == "BYTEARRAY8":
                stack.append(bytes(arg))
            elif name == "EMPTY_LIST":
                stack.append([])
            elif name == "EMPTY_DICT":
                stack.append({})
            elif name == "EMPTY_TUPLE":
                stack.append(())
            elif name == "EMPTY_SET":
                stack.append(set())
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                n = int(name[-1])
                items = tuple(stack[-n:])
                del stack[-n:]
                stack.append(items)
            elif name == "MARK":
                marks.append(stack)
                stack = []
            elif name in ("TUPLE", "LIST", "FROZENSET"):
                items = pop_mark()  # before touching `stack`: pop_mark rebinds it
                stack.append({"TUPLE": tuple, "LIST": list, "FROZENSET": frozenset}[name](items))
            elif name == "DICT":
                items = pop_mark()
                stack.append(dict(zip(items[::2], items[1::2])))
            elif name == "APPEND":
                value = stack.pop()
                _as(stack[-1], list).append(value)
            elif name == "APPENDS":
                items = pop_mark()
                _as(stack[-1], list).extend(items)
            elif name == "ADDITEMS":
                items = pop_mark()
                _as(stack[-1], set).update(items)
            elif name == "SETITEM":
                value = stack.pop()
                key = stack.pop()
                _as(stack[-1], dict)[key] = value
            elif name == "SETITEMS":
                items = pop_mark()
                _as(stack[-1], dict).update(zip(items[::2], items[1::2]))
            elif name == "POP":
                if stack:
                    stack.pop()
                else:
                    pop_mark()
            elif name == "POP_MARK":
                pop_mark()
            elif name == "DUP":
                stack.append(stack[-1])
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = stack[-1]
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo[int(arg)])
            elif name in ("GLOBAL", "STACK_GLOBAL"):
                if name == "GLOBAL":
                    module, _, attr = arg.partition(" ")
                else:
                    attr = stack.pop()
                    module = stack.pop()
                    if not isinstance(module, str) or not isinstance(attr, str):
                        raise UnsafePickleContent("STACK_GLOBAL with non-text names")
                kind = _GLOBALS.get((module, attr))
                if kind is None:
                    raise UnsafePickleContent(f"GLOBAL {module}.{attr}"[:120])
                stack.append(_Global(kind))
            elif name == "REDUCE":
                args = stack.pop()
                func = stack.pop()
                if not isinstance(func, _Global):
                    raise UnsafePickleContent("REDUCE on something that is not an allowed global")
                stack.append(_call(func.kind, args))
            elif name == "BUILD":
                state = stack.pop()
                target = stack[-1]
                if not isinstance(target, (_ArrayStub, _DtypeStub)):
                    raise UnsafePickleContent(f"BUILD on {type(target).__name__}")
                target.build(state)
            elif name == "STOP":
                if len(stack) != 1 or marks:
                    raise UnsafePickleContent("malformed pickle (stack not empty at STOP)")
                return _finish(stack[0], {})
            else:
                raise UnsafePickleContent(f"opcode {name}")
    except UnsafePickleContent:
        raise
    except RecursionError as e:
        raise UnsafePickleContent("malformed pickle (nested too deeply)") from e
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as e:
        detail = " ".join(str(e).split())[:100]
        raise UnsafePickleContent(f"malformed pickle ({type(e).__name__}: {detail})") from e
    raise UnsafePickleContent("malformed pickle (no STOP)")


def _as(obj: Any, kind: type) -> Any:
    if not isinstance(obj, kind):
        raise UnsafePickleContent(f"malformed pickle (expected a {kind.__name__} on the stack)")
    return obj
