"""Safe parser for what `print(model)` shows, or for a plain list of layers, one per line.

Users paste text; nothing of it is ever evaluated. A small tokenizer and a recursive-descent
parser accept the grammar of PyTorch's module `repr`:

    Generator(
      (main): Sequential(
        (0): ConvTranspose2d(100, 512, kernel_size=(4, 4), stride=(1, 1), bias=False)
        (1): BatchNorm2d(512, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
        (2): ReLU(inplace=True)
      )
      (blocks): ModuleList(
        (0-3): 4 x Linear(in_features=8, out_features=8, bias=True)
      )
    )

and the code style people keep in their notes (`nn.ConvTranspose2d(64, 32, 4, 2, 1),` one per
line, `nn.Sequential(nn.Linear(100, 512), nn.ReLU())`, `# comments`). Argument values are ints,
floats, bools, None, strings (quoted or bare, as in `padding=same`) and tuples of them
(`torch.Size([2, 5])` and lists become tuples).

Child names are what torch prints between `(` and `):`. Names of letters, digits, `_` and `-`
are read anywhere; at the start of a line (where print(model) puts them) any name without
parentheses or line breaks is read too, as ModuleDict keys such as "a b", "a:b" or "[x]" are
printed. A module that torch's parametrize wrapped (`ParametrizedConvTranspose2d(...)` with a
`(parametrizations): ModuleDict(...)` child, e.g. from `parametrizations.spectral_norm`) is read as
the layer it wraps, with the parametrizations kept in `ParsedLayer.parametrizations`. Numbers
use the ASCII digits 0-9 only.

Everything is bounded before it is parsed (text length, nesting depth, number size, layer
count), so truncated, huge, deeply nested or binary pastes fail fast with a `ModelTextError`
(a `ConfigError`) that names the line, the column and what was expected there.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from core.errors import ConfigError

MAX_TEXT_CHARS = 200_000  # about 2,500 layers of print(model) output
MAX_DEPTH = 64  # nesting of calls, tuples and lists
MAX_LAYERS = 10_000  # after expanding `(0-3): 4 x Layer(...)` repeats
MAX_NUMBER = 2**31  # largest magnitude of any number
MAX_NUMBER_CHARS = 40
MAX_ITEMS = 64  # arguments of one call, items of one tuple
MAX_NAME_CHARS = 200

Value = int | float | bool | None | str | tuple["Value", ...]

CONTAINER_TYPES = frozenset({"Sequential", "ModuleList", "ModuleDict"})
_TYPE_PREFIXES = ("torch.nn.modules.", "torch.nn.", "nn.")
_SIZE_CALLS = frozenset({"Size", "torch.Size"})
_CONSTANTS: dict[str, Value] = {"True": True, "False": False, "None": None}
_SPECIAL_FLOATS = {"inf": math.inf, "nan": math.nan}


class ModelTextError(ConfigError):
    """A pasted model text that cannot be parsed, with the 1-based line and column of the fault."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__("text", f"line {line}, column {column}: {message}")
        self.line = line
        self.column = column


# ----------------------------------------------------------------------------------- tokens

# Digits are ASCII [0-9] everywhere (never \d, which also matches digits such as '٣').
_TOKEN_RE = re.compile(
    r"""
    (?P<space>[ \t\r\f\v]+)
  | (?P<newline>\n[ \t\r\f\v\n]*)
  | (?P<comment>\#[^\n]*)
  | (?P<child>\([ \t]*(?P<child_name>[^\s():,=\[\]'"\\]{1,200})[ \t]*\)[ \t]*:)
  | (?P<number>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<string>'[^'\\\n]{0,1000}'|"[^"\\\n]{0,1000}")
  | (?P<punct>[()\[\],=+\-])
    """,
    re.VERBOSE,
)
# A child name at the start of a line, as print(model) writes every child: any characters but
# parentheses and line breaks (ModuleDict keys such as "a b", "a:b", "a,b", "a'b", "[x]").
_LINE_CHILD_RE = re.compile(r"(?P<child>\((?P<child_name>[^\n()]{1,200})\)[ \t]*:)")
# What looks like a child header that neither form reads (a name with parentheses, say).
_BAD_CHILD_RE = re.compile(r"\([^\n]{0,200}\)[ \t]*:[ \t]*[A-Za-z_]")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_RANGE_RE = re.compile(r"([0-9]{1,9})-([0-9]{1,9})")
_SAFE_CHILD_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]{0,63}")


@dataclass(frozen=True)
class _Token:
    kind: str  # child, number, name, string, punct, end
    text: str
    line: int
    column: int
    newline_before: bool


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return "the end of the text"
    shown = token.text if len(token.text) <= 30 else token.text[:27] + "..."
    return repr(shown)


def _line_child(text: str, pos: int, line: int, column: int) -> re.Match[str] | None:
    """A child header `(name):` at the start of a line whose name the narrow form does not read
    (a ModuleDict key such as "a b" or "[x]"); a clear error where no form reads it."""
    found = _LINE_CHILD_RE.match(text, pos)
    if found is not None:
        return found
    if _BAD_CHILD_RE.match(text, pos):
        raise ModelTextError(
            line,
            column,
            "this child name cannot be read: names with parentheses are not supported. Rename "
            "the module (or ModuleDict key) to letters, digits, _ and -, print the model again "
            "and paste that",
        )
    return None


def _tokenize(text: str) -> Iterator[_Token]:
    """Yield tokens lazily, so that a parse error stops the scan where it occurs."""
    line, line_start, pos, newline_before = 1, 0, 0, True
    end = len(text)
    match = _TOKEN_RE.match
    while pos < end:
        found = match(text, pos)
        if newline_before and found is not None and found.lastgroup == "punct":
            found = _line_child(text, pos, line, pos - line_start + 1) or found
        if found is None:
            char = text[pos]
            column = pos - line_start + 1
            if char in "'\"":
                raise ModelTextError(
                    line,
                    column,
                    "unterminated string: close the quote on the same line "
                    "(strings may not hold backslashes and are at most 1000 characters)",
                )
            if unicodedata.category(char) == "Nd":
                raise ModelTextError(
                    line,
                    column,
                    f"{char!r} is not an ASCII digit: write numbers with the digits 0-9",
                )
            raise ModelTextError(
                line,
                column,
                f"unexpected character {char!r}: expected a layer such as "
                "ConvTranspose2d(64, 32, kernel_size=(4, 4), stride=(2, 2)) or its arguments",
            )
        kind = found.lastgroup
        if kind == "number" and found.end() < end and text[found.end()] == "_":
            written = re.match(r"[0-9_.]{1,40}", text[pos : pos + 40])
            shown = written.group(0) if written else found.group(0)
            raise ModelTextError(
                line,
                pos - line_start + 1,
                f"{shown!r}: write numbers without '_' separators (1000, not 1_000)",
            )
        if kind == "newline":
            line += text.count("\n", pos, found.end())
            line_start = text.rfind("\n", pos, found.end()) + 1
            newline_before = True
        elif kind == "name" and found.end() - pos > MAX_NAME_CHARS:
            raise ModelTextError(
                line, pos - line_start + 1, f"a name longer than {MAX_NAME_CHARS} characters"
            )
        elif kind not in ("space", "comment"):
            value = found.group("child_name") if kind == "child" else found.group(0)
            yield _Token(kind, value, line, pos - line_start + 1, newline_before)
            newline_before = False
        pos = found.end()
    yield _Token("end", "", line, pos - line_start + 1, newline_before)


# ----------------------------------------------------------------------------------- tree


@dataclass(frozen=True)
class ParsedLayer:
    """One module of the pasted model: a leaf layer or a container of named children.

    `path` is the dotted name torch's `named_modules()` would give ("main.3.up"; "" for the
    root); `type_name` drops any `nn.`/`torch.nn.` prefix; `args` and `kwargs` hold the
    printed arguments as plain values; `line`/`column` locate it in the pasted text.
    """

    path: str
    name: str
    type_name: str
    args: tuple[Value, ...] = ()
    kwargs: dict[str, Value] = field(default_factory=dict)
    children: tuple[ParsedLayer, ...] = ()
    line: int = 1
    column: int = 1
    synthetic: bool = False  # the root made up for a plain list of layers
    # torch.nn.utils.parametrize on this module: (tensor name, parametrization types) pairs,
    # e.g. (("weight", ("_SpectralNorm",)),) for ParametrizedConvTranspose2d(...) whose
    # `parametrizations` child is folded in here (type_name is then "ConvTranspose2d").
    parametrizations: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def is_container(self) -> bool:
        """True for modules that hold children (their own computation is not shown)."""
        return bool(self.children) or self.type_name in CONTAINER_TYPES

    @property
    def text(self) -> str:
        """The layer as a one-line call, rebuilt from the parsed values (not the pasted text)."""
        return format_call(self.type_name, self.args, self.kwargs)

    @property
    def printed_type(self) -> str:
        """The type as print(model) shows it (`ParametrizedConvTranspose2d` for a parametrized
        ConvTranspose2d)."""
        return f"Parametrized{self.type_name}" if self.parametrizations else self.type_name

    @property
    def parametrization_text(self) -> str:
        """`weight: _SpectralNorm` (one `tensor: types` per parametrized tensor), or ""."""
        return "; ".join(f"{name}: {', '.join(kinds)}" for name, kinds in self.parametrizations)

    def walk(self) -> Iterator[ParsedLayer]:
        """This module and all modules below it, in printed order (depth first)."""
        stack = [self]
        while stack:
            layer = stack.pop()
            yield layer
            stack.extend(reversed(layer.children))

    def leaves(self) -> list[ParsedLayer]:
        """The layers that compute something, in printed order (containers left out)."""
        return [layer for layer in self.walk() if not layer.is_container]

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "name": self.name,
            "type": self.type_name,
            "text": self.text,
            "args": list(self.args),
            "kwargs": dict(self.kwargs),
            "line": self.line,
            "column": self.column,
            "parametrizations": {name: list(kinds) for name, kinds in self.parametrizations},
            "children": [child.as_dict() for child in self.children],
        }


def format_value(value: Value) -> str:
    """Python-like text of a parsed value, for display."""
    if isinstance(value, tuple):
        inner = ", ".join(format_value(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


def format_call(type_name: str, args: tuple[Value, ...], kwargs: dict[str, Value]) -> str:
    """`Type(arg, ..., name=value, ...)` from parsed values, for display."""
    parts = [format_value(v) for v in args]
    parts += [f"{k}={format_value(v)}" for k, v in kwargs.items()]
    return f"{type_name}({', '.join(parts)})"


# ----------------------------------------------------------------------------------- parser


@dataclass
class _Call:
    """A parsed `Type(...)` before paths are assigned and repeats expanded."""

    type_name: str
    args: list[Value]
    kwargs: dict[str, Value]
    children: list[_Child]
    line: int
    column: int


@dataclass
class _Child:
    name: str | None  # None: a positional layer argument, named by its position
    repeat: int
    call: _Call
    line: int
    column: int


class _Parser:
    def __init__(self, tokens: Iterator[_Token]) -> None:
        self.tokens = tokens
        self.ahead: deque[_Token] = deque()
        self.calls = 0

    # -- helpers
    def peek(self, offset: int = 0) -> _Token:
        while len(self.ahead) <= offset:
            if self.ahead and self.ahead[-1].kind == "end":
                return self.ahead[-1]
            self.ahead.append(next(self.tokens))
        return self.ahead[offset]

    def advance(self) -> _Token:
        token = self.peek()
        if token.kind != "end":
            self.ahead.popleft()
        return token

    def is_punct(self, token: _Token, text: str) -> bool:
        return token.kind == "punct" and token.text == text

    def fail(self, token: _Token, expected: str) -> ModelTextError:
        if token.kind == "end":
            return ModelTextError(
                token.line,
                token.column,
                f"the text ends early: expected {expected}. Was the paste cut off?",
            )
        return ModelTextError(
            token.line, token.column, f"expected {expected}, found {_describe(token)}"
        )

    def check_depth(self, depth: int, token: _Token) -> None:
        if depth > MAX_DEPTH:
            raise ModelTextError(
                token.line,
                token.column,
                f"nesting deeper than {MAX_DEPTH} levels: no real model is nested this deep",
            )

    # -- grammar
    def document(self) -> list[_Child]:
        items: list[_Child] = []
        first = True
        while True:
            token = self.peek()
            if token.kind == "end":
                break
            if self.is_punct(token, ","):
                if first:
                    raise self.fail(token, "a layer")
                self.advance()
                first = True
                continue
            if not first and not token.newline_before:
                raise self.fail(token, "a new line or ',' before the next layer")
            # `model = Sequential(...)` or `netG = Generator(...)`: the name is dropped.
            if token.kind == "name" and self.is_punct(self.peek(1), "="):
                self.advance()
                self.advance()
                token = self.peek()
            items.append(self.child_or_layer(1))
            first = False
        if not items:
            raise ModelTextError(
                1,
                1,
                "nothing to read: paste what print(model) shows, or one layer per line "
                "such as ConvTranspose2d(64, 32, kernel_size=4, stride=2, padding=1)",
            )
        return items

    def child_or_layer(self, depth: int) -> _Child:
        token = self.peek()
        if token.kind == "child":
            self.advance()
            repeat = 1
            after = self.peek()
            if after.kind == "number" and self.peek(1).kind == "name" and self.peek(1).text == "x":
                repeat = self.integer(self.advance())
                self.advance()
                if repeat < 1:
                    raise ModelTextError(after.line, after.column, "a repeat count must be >= 1")
            call = self.call(depth)
            return _Child(token.text, repeat, call, token.line, token.column)
        if token.kind == "name":
            if not self.is_punct(self.peek(1), "("):
                raise self.fail(self.peek(1), f"'(' after {_strip_prefix(token.text)}")
            call = self.call(depth)
            return _Child(None, 1, call, token.line, token.column)
        raise self.fail(
            token, "a layer such as ConvTranspose2d(...) or a named child such as (0): ReLU()"
        )

    def call(self, depth: int) -> _Call:
        head = self.advance()
        if head.kind != "name":
            raise self.fail(head, "a layer name such as ConvTranspose2d")
        self.check_depth(depth, head)
        type_name = _strip_prefix(head.text)
        opening = self.advance()
        if not self.is_punct(opening, "("):
            raise self.fail(opening, f"'(' after {type_name}")
        self.calls += 1
        if self.calls > MAX_LAYERS:
            raise ModelTextError(
                head.line, head.column, f"more than {MAX_LAYERS} layers: paste a smaller model"
            )
        call = _Call(type_name, [], {}, [], head.line, head.column)
        need_separator = False
        while True:
            token = self.peek()
            if self.is_punct(token, ")"):
                self.advance()
                return call
            if token.kind == "end":
                raise ModelTextError(
                    token.line,
                    token.column,
                    f"the text ends inside {type_name}( opened at line {head.line}, "
                    f"column {head.column}: expected ')'. Was the paste cut off?",
                )
            if self.is_punct(token, ","):
                if not need_separator:
                    raise self.fail(token, f"an argument or ')' in {type_name}(")
                self.advance()
                need_separator = False
                continue
            if len(call.args) + len(call.kwargs) >= MAX_ITEMS:
                raise ModelTextError(
                    token.line, token.column, f"more than {MAX_ITEMS} arguments in {type_name}("
                )
            if need_separator and not token.newline_before and token.kind != "child":
                raise self.fail(token, f"',' or ')' to continue or close {type_name}(")
            if token.kind == "child":
                call.children.append(self.child_or_layer(depth + 1))
            elif token.kind == "name" and self.is_punct(self.peek(1), "="):
                self.keyword(call, depth)
            else:
                value = self.value(depth + 1, allow_call=True)
                if isinstance(value, _Call):
                    call.children.append(_Child(None, 1, value, token.line, token.column))
                elif call.kwargs:
                    raise ModelTextError(
                        token.line,
                        token.column,
                        "a positional argument after keyword arguments: put it before them",
                    )
                else:
                    call.args.append(value)
            need_separator = True

    def keyword(self, call: _Call, depth: int) -> None:
        name = self.advance()
        self.advance()  # '='
        if "." in name.text:
            raise ModelTextError(name.line, name.column, f"{name.text!r} is not an argument name")
        if name.text in call.kwargs:
            raise ModelTextError(name.line, name.column, f"argument {name.text!r} is given twice")
        value = self.value(depth + 1, allow_call=False)
        assert not isinstance(value, _Call)  # value() refuses calls where allow_call is False
        call.kwargs[name.text] = value

    def value(self, depth: int, allow_call: bool) -> Value | _Call:
        token = self.peek()
        self.check_depth(depth, token)
        if token.kind == "number":
            return self.number(self.advance(), 1)
        if token.kind == "punct" and token.text in "+-":
            self.advance()
            sign = -1 if token.text == "-" else 1
            nxt = self.advance()
            if nxt.kind == "number":
                return self.number(nxt, sign)
            if nxt.kind == "name" and nxt.text in _SPECIAL_FLOATS:
                return sign * _SPECIAL_FLOATS[nxt.text]
            raise self.fail(nxt, f"a number after {token.text!r}")
        if token.kind == "string":
            self.advance()
            return token.text[1:-1]
        if token.kind == "name":
            if self.is_punct(self.peek(1), "("):
                if token.text in _SIZE_CALLS:
                    self.advance()
                    self.advance()
                    inner = self.value(depth + 1, allow_call=False)
                    closing = self.advance()
                    if not self.is_punct(closing, ")"):
                        raise self.fail(closing, "')' to close Size(")
                    return inner if isinstance(inner, tuple) else (inner,)
                if not allow_call:
                    raise self.fail(token, "a number, string, bool, None or tuple (not a call)")
                return self.call(depth)
            self.advance()
            if token.text in _CONSTANTS:
                return _CONSTANTS[token.text]
            if token.text in _SPECIAL_FLOATS:
                return _SPECIAL_FLOATS[token.text]
            return token.text
        if token.kind == "punct" and token.text in "([":
            return self.sequence(depth)
        raise self.fail(token, "a value (number, string, True/False/None or tuple)")

    def sequence(self, depth: int) -> Value:
        opening = self.advance()
        closing_text = ")" if opening.text == "(" else "]"
        items: list[Value] = []
        saw_comma = False
        while True:
            token = self.peek()
            if self.is_punct(token, closing_text):
                self.advance()
                break
            if items and not saw_comma:
                raise self.fail(token, f"',' or {closing_text!r}")
            if token.kind == "end":
                raise self.fail(
                    token,
                    f"{closing_text!r} to close the {opening.text!r} at line "
                    f"{opening.line}, column {opening.column}",
                )
            if len(items) >= MAX_ITEMS:
                raise ModelTextError(
                    token.line, token.column, f"more than {MAX_ITEMS} items in one tuple"
                )
            item = self.value(depth + 1, allow_call=False)
            items.append(item)  # type: ignore[arg-type]
            saw_comma = False
            if self.is_punct(self.peek(), ","):
                self.advance()
                saw_comma = True
        # `(x)` is just x, as in Python; `(x,)`, `()` and lists are tuples.
        if opening.text == "(" and len(items) == 1 and not saw_comma:
            return items[0]
        return tuple(items)

    def number(self, token: _Token, sign: int) -> int | float:
        text = token.text
        if len(text) > MAX_NUMBER_CHARS:
            raise ModelTextError(
                token.line,
                token.column,
                f"number with {len(text)} characters is too large: numbers are at most "
                f"{MAX_NUMBER} in size",
            )
        if re.fullmatch(r"[0-9]+", text):
            value: int | float = sign * int(text)
        else:
            value = sign * float(text)
        if abs(value) > MAX_NUMBER:
            raise ModelTextError(
                token.line,
                token.column,
                f"number {text} is too large: numbers are at most {MAX_NUMBER} (2**31) in size",
            )
        return value

    def integer(self, token: _Token) -> int:
        value = self.number(token, 1)
        if not isinstance(value, int):
            raise self.fail(token, "a whole number")
        return value


def _strip_prefix(name: str) -> str:
    for prefix in _TYPE_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    return name.rsplit(".", 1)[-1]


# ----------------------------------------------------------------------------------- build


class _Builder:
    """Turn `_Call`s into `ParsedLayer`s: paths, repeats expanded, names checked, count capped."""

    def __init__(self) -> None:
        self.count = 0

    def layer(self, call: _Call, path: str, name: str) -> ParsedLayer:
        self.count += 1
        if self.count > MAX_LAYERS:
            raise ModelTextError(
                call.line, call.column, f"more than {MAX_LAYERS} layers: paste a smaller model"
            )
        type_name, items, parametrizations = _unwrap_parametrized(call)
        children = self.children(items, path)
        return ParsedLayer(
            path=path,
            name=name,
            type_name=type_name,
            args=tuple(call.args),
            kwargs=dict(call.kwargs),
            children=tuple(children),
            line=call.line,
            column=call.column,
            parametrizations=parametrizations,
        )

    def children(self, items: list[_Child], parent_path: str) -> list[ParsedLayer]:
        built: list[ParsedLayer] = []
        seen: set[str] = set()
        for position, item in enumerate(items):
            for name in self.names(item, position):
                if name in seen:
                    raise ModelTextError(
                        item.line, item.column, f"child name ({name}) appears twice in one module"
                    )
                seen.add(name)
                path = f"{parent_path}.{name}" if parent_path else name
                built.append(self.layer(item.call, path, name))
        return built

    def names(self, item: _Child, position: int) -> list[str]:
        if item.name is None:
            return [str(position)]
        if "." in item.name:
            raise ModelTextError(
                item.line, item.column, f"child name ({item.name}) may not contain '.'"
            )
        if item.repeat == 1:
            return [item.name]
        found = _RANGE_RE.fullmatch(item.name)
        if not found:
            raise ModelTextError(
                item.line,
                item.column,
                f"expected an index range such as (0-3) before '{item.repeat} x'",
            )
        first, last = int(found.group(1)), int(found.group(2))
        if last < first or last - first + 1 != item.repeat:
            raise ModelTextError(
                item.line,
                item.column,
                f"the range ({item.name}) holds {max(0, last - first + 1)} layers but the "
                f"count says {item.repeat}",
            )
        if item.repeat > MAX_LAYERS:
            raise ModelTextError(
                item.line, item.column, f"more than {MAX_LAYERS} layers: paste a smaller model"
            )
        return [str(i) for i in range(first, last + 1)]


_PARAMETRIZED = "Parametrized"


def _unwrap_parametrized(
    call: _Call,
) -> tuple[str, list[_Child], tuple[tuple[str, tuple[str, ...]], ...]]:
    """(type name, children, parametrizations) of a call: `ParametrizedX(...)` with a
    `(parametrizations): ModuleDict((tensor): ParametrizationList((0): Kind() ...))` child, as
    torch.nn.utils.parametrize prints it, is the layer X with its parametrizations set aside
    (they compute the weight, not the output shape). Anything else comes back as it is."""
    if not call.type_name.startswith(_PARAMETRIZED) or len(call.type_name) == len(_PARAMETRIZED):
        return call.type_name, call.children, ()
    holders = [c for c in call.children if c.name == "parametrizations"]
    if len(holders) != 1 or holders[0].repeat != 1:
        return call.type_name, call.children, ()
    holder = holders[0].call
    if holder.type_name != "ModuleDict" or not holder.children or holder.args or holder.kwargs:
        return call.type_name, call.children, ()
    found = []
    for tensor in holder.children:
        chain = tensor.call
        if (
            tensor.name is None
            or tensor.repeat != 1
            or chain.type_name != "ParametrizationList"
            or not chain.children
            or any(step.call.children or step.repeat != 1 for step in chain.children)
        ):  # a repeated step ("3000000 x _SpectralNorm()") is no print of torch's: left as is
            return call.type_name, call.children, ()
        kinds = tuple(step.call.type_name for step in chain.children)
        found.append((tensor.name, kinds))
    rest = [c for c in call.children if c is not holders[0]]
    return call.type_name[len(_PARAMETRIZED) :], rest, tuple(found)


def _check_text(text: object) -> str:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError("text", "the text is not UTF-8: paste plain text") from exc
    if not isinstance(text, str):
        raise ConfigError("text", f"text must be a string, got {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise ConfigError(
            "text",
            f"the text has {len(text):,} characters; at most {MAX_TEXT_CHARS:,} are read. "
            "Paste only the model's print-out",
        )
    bad = _CONTROL_RE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise ModelTextError(
            line, column, f"binary data (character {bad.group(0)!r}): paste plain text"
        )
    return text


def parse_model_text(text: str) -> ParsedLayer:
    r"""Parse `print(model)` output or a list of layers into a tree of `ParsedLayer`s.

    A single top-level container (`Generator(...)`, `Sequential(...)`) becomes the root (path
    ""); top-level layers (a plain list, even of one) become the children "0", "1", ... of a
    synthetic `Sequential` root, as `nn.Sequential(*layers)` would name them. Nothing of the
    text is evaluated.

    Args:
        text: what `print(model)` shows, or one layer per line (`nn.` prefixes, trailing commas
            and `# comments` are fine).

    Returns:
        The root `ParsedLayer`: its `children`, `walk()` and `leaves()` give the tree; each
        layer has its `path` (as `named_modules()` names it), `type_name`, `args` and `kwargs`.

    Raises:
        ConfigError: a `ModelTextError` for anything else, with the line and column and what
            was expected there.

    Example:
        >>> root = parse_model_text("nn.ConvTranspose2d(8, 4, 4, 2, 1)\nnn.ReLU()")
        >>> [(layer.path, layer.type_name, layer.args) for layer in root.leaves()]
        [('0', 'ConvTranspose2d', (8, 4, 4, 2, 1)), ('1', 'ReLU', ())]
        >>> parse_model_text("nn.ConvTranspose2d(8, 4")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        core.converter.model_text.ModelTextError: line 1, column 24: the text ends inside ...
    """
    text = _check_text(text)
    items = _Parser(_tokenize(text)).document()
    builder = _Builder()
    single = items[0].call if len(items) == 1 and items[0].name is None else None
    if single is not None:
        type_name, children, _ = _unwrap_parametrized(single)
        if children or type_name in CONTAINER_TYPES:
            return builder.layer(single, "", "")
    children = builder.children(items, "")
    return ParsedLayer(
        path="", name="", type_name="Sequential", children=tuple(children), synthetic=True
    )


def is_safe_child_name(name: str) -> bool:
    """True when `name` may appear in generated code as a module name (letters, digits, _ -)."""
    return bool(_SAFE_CHILD_NAME_RE.fullmatch(name))
