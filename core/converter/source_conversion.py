"""Convert a model's source file: every ConvTranspose2d call rewritten, everything else kept.

`convert_source(source, method)` parses a Python file with LibCST (never imports or runs it),
finds every call that resolves to `torch.nn.ConvTranspose2d` (`nn.ConvTranspose2d(...)`,
`torch.nn.ConvTranspose2d(...)`, an imported `ConvTranspose2d(...)` under any alias), and
replaces it by the chosen method's replacement expression. Channel arguments stay the
expressions the user wrote (`ngf * 8`); the geometry (kernel_size, stride, padding,
output_padding, dilation, groups) must be a literal, a tuple of literals or a module-level
constant, because the replacement's own geometry is computed from it. A call whose geometry is
not known is left as it is, with a comment on its line (above the header for a call in a `for`,
`if`, `with` or `def` line), and listed with the reason. After `from torch.nn import *` a bare
`ConvTranspose2d(...)` is torch's. A helper class takes a name the file does not use. Exact methods
that need a helper class get it inserted once after the imports; needed imports are added once.
Formatting, comments, `forward()` and every other line are kept byte for byte.

Bounded before anything is parsed (size, bracket nesting, indentation, literal length, unary
operators in a row), so a hostile file fails fast with a `ConfigError` naming the line and
column. Lines that hold no ConvTranspose2d call are set aside before LibCST reads the file (see
`_pruned`), so a large file costs about what its calls cost.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import io
import re
import tokenize
from dataclasses import dataclass
from typing import Any

import libcst as cst
from libcst.metadata import (
    GlobalScope,
    MetadataWrapper,
    PositionProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from core.errors import ConfigError
from core.geometry.layer import TransposedConv
from core.replacements import registry

MAX_SOURCE_CHARS = 200_000  # as the printout box
MAX_NESTING = 64  # brackets inside brackets
MAX_INDENT_LEVELS = 32  # blocks inside blocks
MAX_LITERAL_CHARS = 64  # digits of one number
MAX_UNARY_CHAIN = 64  # unary operators in a row (`not not ...`, `- - ...`)
UNARY = frozenset(("-", "+", "~", "not", "await", "lambda"))
STAR_MODULES = ("torch.nn", "torch.nn.modules", "torch.nn.modules.conv")  # export ConvTranspose2d
TARGET = "torch.nn.ConvTranspose2d"
# torch's arguments, in order (ConvTranspose2d.__init__)
ARGUMENTS = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "output_padding",
    "groups",
    "bias",
    "dilation",
    "padding_mode",
)
GEOMETRY = ("kernel_size", "stride", "padding", "output_padding", "dilation", "groups")
DEFAULTS: dict[str, Any] = {
    "stride": 1,
    "padding": 0,
    "output_padding": 0,
    "groups": 1,
    "dilation": 1,
    "padding_mode": "zeros",
}
CARRIED = ("bias", "device", "dtype")  # passed on to the replacement's Conv2d as written
COMMENT = "# Deconv Lab: not converted:"
TOO_DEEP = (
    "the source holds an expression nested too deeply for Python's parser to read (more than "
    f"{MAX_NESTING} brackets, {MAX_UNARY_CHAIN} unary operators or a few thousand chained "
    "operations): split the expression"
)


class SourceError(ConfigError):
    """A source file that cannot be read, with the 1-based line and column of the fault."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__("source", f"line {line}, column {column}: {message}")
        self.line = line
        self.column = column


@dataclass(frozen=True)
class SourceCall:
    """One ConvTranspose2d call of the file: where it is, what it was, what it became.

    `replacement` is None where the call was left as it is (`reason` says why); `method` is the
    method used (a stride-1 layer gets its exact sub-pixel equivalent under a resize method).
    """

    line: int
    column: int
    original: str
    replacement: str | None
    method: str | None
    exact: bool | None
    reason: str = ""

    @property
    def converted(self) -> bool:
        return self.replacement is not None

    def as_dict(self) -> dict:
        return {
            "line": self.line,
            "column": self.column,
            "original": self.original,
            "replacement": self.replacement,
            "method": self.method,
            "exact": self.exact,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class SourceConversion:
    """What `convert_source` did: the new text, a unified diff, one row per call, and for the
    exact methods a snippet that carries a trained original model's weights into the rewritten
    one (`weight_code`; empty for the resize methods, whose weights are a fit, not a copy)."""

    method: str
    source: str
    new_source: str
    diff: str
    calls: tuple[SourceCall, ...]
    weight_code: str = ""

    @property
    def converted(self) -> int:
        return sum(call.converted for call in self.calls)

    def as_dict(self) -> dict:
        return {
            "method": self.method,
            "new_source": self.new_source,
            "diff": self.diff,
            "converted": self.converted,
            "calls": [call.as_dict() for call in self.calls],
            "weight_code": self.weight_code,
        }


# ------------------------------------------------------------------------------------- bounds


def check_source(source: object) -> str:
    """The source as text, bounded: size, nesting, indentation and number length, so that the
    parser is never handed a file built to exhaust it.

    Args:
        source: the file's text (str, or UTF-8 bytes).

    Returns:
        The text, once it is known to parse.

    Raises SourceError (line, column) or ConfigError otherwise.
    """
    return _checked(source)[0]


def _checked(source: object) -> tuple[str, ast.Module]:
    """`check_source`, with the compiler's syntax tree of the text."""
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError("source", "the source is not UTF-8 text: upload a .py file") from exc
    if not isinstance(source, str):
        raise ConfigError("source", f"source must be text, got {type(source).__name__}")
    if len(source) > MAX_SOURCE_CHARS:
        raise ConfigError(
            "source",
            f"the source has {len(source):,} characters; at most {MAX_SOURCE_CHARS:,} are read: "
            "convert the file that defines the model, not a bundle",
        )
    if "\x00" in source:
        raise ConfigError("source", "the source holds binary data (a NUL byte): upload a .py file")
    depth = indents = unary = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            line, column = token.start[0], token.start[1] + 1
            if token.string in UNARY and token.type in (tokenize.OP, tokenize.NAME):
                unary += 1
                if unary > MAX_UNARY_CHAIN:
                    raise SourceError(
                        line,
                        column,
                        f"more than {MAX_UNARY_CHAIN} unary operators (`not`, `-`, `+`, `~`) in "
                        "a row: too deep to read; simplify the expression",
                    )
                continue
            if token.type not in (tokenize.NL, tokenize.COMMENT) and token.string != ":":
                unary = 0
            if token.type == tokenize.OP and token.string in "([{":
                depth += 1
                if depth > MAX_NESTING:
                    raise SourceError(line, column, f"brackets nested deeper than {MAX_NESTING}")
            elif token.type == tokenize.OP and token.string in ")]}":
                depth -= 1
            elif token.type == tokenize.INDENT:
                indents += 1
                if indents > MAX_INDENT_LEVELS:
                    raise SourceError(
                        line, column, f"blocks nested deeper than {MAX_INDENT_LEVELS} levels"
                    )
            elif token.type == tokenize.DEDENT:
                indents -= 1
            elif token.type == tokenize.NUMBER and len(token.string) > MAX_LITERAL_CHARS:
                raise SourceError(
                    line, column, f"a number of {len(token.string):,} characters: too long to read"
                )
    except (tokenize.TokenError, SyntaxError):
        pass  # the compiler's parser below says where, more precisely than the tokenizer
    try:  # bounded above: only the syntax is read, nothing runs
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as exc:
        line, column = _error_position(exc)
        raise SourceError(line, column, f"this is not valid Python: {_error_text(exc)}") from exc
    except (RecursionError, MemoryError) as exc:
        raise ConfigError("source", TOO_DEEP) from exc
    return source, tree


def _error_position(exc: BaseException) -> tuple[int, int]:
    if isinstance(exc, SyntaxError):
        return exc.lineno or 1, exc.offset or 1
    return 1, 1


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return exc.msg
    return str(exc.args[0]) if exc.args else type(exc).__name__


def parse_source(source: str) -> cst.Module:
    """Parse (never run) a checked source; SourceError with the line and column otherwise."""
    return _parsed(source)[0]


def _parsed(source: str) -> tuple[cst.Module, ast.Module]:
    """`parse_source`, with the compiler's syntax tree of the same text."""
    text, tree = _checked(source)
    try:
        return cst.parse_module(text), tree
    except cst.ParserSyntaxError as exc:
        raise SourceError(exc.raw_line, exc.raw_column + 1, exc.message) from exc
    except (RecursionError, MemoryError) as exc:
        raise ConfigError("source", TOO_DEEP) from exc


# ------------------------------------------------------------------------------------- values


_UNREADABLE = (ValueError, SyntaxError, TypeError, MemoryError, RecursionError)


def _literal(node: cst.BaseExpression) -> Any:
    """The value of a literal expression (numbers, tuples, strings, bools, None), or raise."""
    return _allowed_literal(ast.literal_eval(cst.Module([]).code_for_node(node).strip()))


def _allowed_literal(value: Any) -> Any:
    """`value` where it is a literal the geometry may hold (ints, bools, strings, None, tuples
    of ints); ValueError otherwise."""
    if isinstance(value, tuple) and not all(isinstance(v, (int, bool)) for v in value):
        raise ValueError(value)
    if not isinstance(value, (int, bool, str, tuple, type(None))):
        raise ValueError(value)
    return value


def module_constants(tree: ast.Module) -> dict[str, Any]:
    """Module-level names assigned exactly once to a literal (`NGF = 64`, `K = (4, 4)`).

    Args:
        tree: the file's syntax tree (`ast.parse`).

    Returns:
        name -> value, for the names assigned once at the top level to a literal.
    """
    values: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for statement in tree.body:
        targets: list[ast.expr] = []
        value = None
        if isinstance(statement, ast.Assign):
            targets, value = list(statement.targets), statement.value
        elif isinstance(statement, ast.AnnAssign):
            targets, value = [statement.target], statement.value
        elif isinstance(statement, ast.AugAssign):
            targets = [statement.target]
        for target in targets:
            if not isinstance(target, ast.Name):
                continue
            counts[target.id] = counts.get(target.id, 0) + 1
            if value is not None and len(targets) == 1:
                with contextlib.suppress(*_UNREADABLE):
                    values[target.id] = _ast_literal(value)
    return {name: value for name, value in values.items() if counts.get(name) == 1}


def _ast_literal(node: ast.expr) -> Any:
    """`_literal` for a node of the compiler's tree."""
    return _allowed_literal(ast.literal_eval(node))


# ------------------------------------------------------------------------------------- pruning
#
# LibCST's parse, its scope, name and position metadata and its code generation cost about a
# millisecond per line; a model file is mostly lines that hold no ConvTranspose2d call. Before
# LibCST sees the file, every run of whole lines that cannot hold one (the compiler's syntax tree
# says so, in milliseconds) is swapped for a stand-in of as many lines that binds the same names;
# the original text is put back, untouched, after the rewrite.


STAND_IN = "__deconv_lab_"  # the stand-ins' names; a file that uses it is not pruned
COMPOUND = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.AsyncFor,
    ast.While, ast.With, ast.AsyncWith, ast.Try, ast.TryStar, ast.Match,
)  # fmt: skip


def _candidate_names(tree: ast.Module) -> frozenset[str]:
    """Names a ConvTranspose2d call may be spelled with: the class's own name and the aliases
    it is imported under."""
    name = TARGET.rpartition(".")[2]
    names = {name}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names.update(a.asname for a in node.names if a.asname and a.name == name)
    return frozenset(names)


def _spelled(call: ast.Call, names: frozenset[str]) -> bool:
    """Whether a call is spelled like ConvTranspose2d (`nn.ConvTranspose2d`, an alias)."""
    func = call.func
    return (isinstance(func, ast.Name) and func.id in names) or (
        isinstance(func, ast.Attribute) and func.attr in names
    )


def _may_call(node: ast.AST, names: frozenset[str]) -> bool:
    """Whether a statement holds a call spelled like ConvTranspose2d."""
    return any(isinstance(inner, ast.Call) and _spelled(inner, names) for inner in ast.walk(node))


def _binds(node: ast.AST) -> bool:
    return any(
        isinstance(inner, (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.NamedExpr))
        or (isinstance(inner, ast.Name) and not isinstance(inner.ctx, ast.Load))
        for inner in ast.walk(node)
    )


def _stand_in(statement: ast.stmt, names: frozenset[str]) -> list[str] | None:
    """The names a statement without a ConvTranspose2d call binds (it is pruned), or None where
    it is kept: it may hold a call, binds names otherwise than `a = b = value`, or is a string
    (a docstring)."""
    if isinstance(statement, COMPOUND) or _may_call(statement, names):
        return None  # a compound statement keeps its header; its body is pruned on its own
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
        return None
    if not _binds(statement):
        return []
    if (
        isinstance(statement, ast.Assign)
        and all(isinstance(t, ast.Name) for t in statement.targets)
        and not _binds(statement.value)
    ):
        return [t.id for t in statement.targets]  # type: ignore[attr-defined]
    return None


def _pruned(source: str, tree: ast.Module) -> tuple[str, list[tuple[str, str]]]:
    """The source with every run of whole lines that holds no ConvTranspose2d call swapped for
    a stand-in of as many lines binding the same names (line numbers, and columns elsewhere,
    unchanged), and the (stand-in, original text) pairs to swap back after the rewrite."""
    if STAND_IN in source:
        return source, []
    names = _candidate_names(tree)
    # the names a stand-in must still bind: those its calls read (the scope of a constant, of
    # `nn` or of an alias decides whether a call is converted), not every local variable
    read = {
        inner.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _spelled(node, names)
        for inner in ast.walk(node)
        if isinstance(inner, ast.Name)
    }
    starts = [0]  # offset of each line, as the compiler counts lines
    for match in re.finditer(r"\r\n?|\n", source):
        starts.append(match.end())

    def offset(line: int, column: int) -> int:  # the compiler's columns are UTF-8 bytes
        text = source[starts[line - 1] : starts[line - 1] + column + 1]
        return starts[line - 1] + len(text.encode("utf-8")[:column].decode("utf-8", "replace"))

    runs: list[tuple[ast.stmt, ast.stmt, list[str]]] = []
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if not isinstance(body, list):
                continue
            run: list[ast.stmt] = []
            bound: list[str] = []
            for i, statement in enumerate(body):
                following = body[i + 1] if i + 1 < len(body) else None
                alone = following is None or following.lineno > (statement.end_lineno or 0)
                taken = _stand_in(statement, names) if alone else None
                if taken is not None and (not run or statement.lineno > (run[-1].end_lineno or 0)):
                    run.append(statement)
                    bound += [name for name in taken if name in read]
                    continue
                if run:
                    runs.append((run[0], run[-1], bound))
                run, bound = [], []
            if run:
                runs.append((run[0], run[-1], bound))
    pairs: list[tuple[str, str]] = []
    pieces: list[str] = []
    at = 0
    spans = sorted(
        (offset(first.lineno, first.col_offset), first, last, bound) for first, last, bound in runs
    )
    for n, (begin, first, last, bound) in enumerate(spans):
        end = offset(last.end_lineno or 0, last.end_col_offset or 0)
        newlines = "\n" * ((last.end_lineno or 0) - first.lineno)
        assigns = "".join(f"; {name} = {STAND_IN}_" for name in bound)
        stand_in = f"({STAND_IN}{n}__{newlines}){assigns}"
        pieces += [source[at:begin], stand_in]
        pairs.append((stand_in, source[begin:end]))
        at = end
    pieces.append(source[at:])
    return "".join(pieces), pairs


def _restored(code: str, pairs: list[tuple[str, str]]) -> str | None:
    """The rewritten code with the original lines back in place of their stand-ins; None where
    a stand-in is not found exactly once (the caller converts without pruning)."""
    pieces = []
    at = 0
    for stand_in, original in pairs:
        found = code.find(stand_in, at)
        if found < 0:
            return None
        pieces += [code[at:found], original]
        at = found + len(stand_in)
    pieces.append(code[at:])
    text = "".join(pieces)
    return None if STAND_IN in text else text


# ------------------------------------------------------------------------------------- rewrite


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


class _Rewriter(cst.CSTTransformer):
    """Replace every call that resolves to torch.nn.ConvTranspose2d; note the ones it cannot."""

    METADATA_DEPENDENCIES = (QualifiedNameProvider, ScopeProvider, PositionProvider)

    def __init__(
        self,
        method: str,
        constants: dict[str, Any],
        *,
        star: bool = False,
        taken: frozenset[str] = frozenset(),
    ) -> None:
        """Args:
        method: the replacement method.
        constants: the module-level constants (`module_constants`).
        star: the file star-imports torch.nn, so a bare `ConvTranspose2d` is torch's.
        taken: names the file defines or imports (a helper class takes another name).
        """
        super().__init__()
        self.method = method
        self.constants = constants
        self.star = star
        self.taken = taken
        self.calls: list[SourceCall] = []
        self.helpers: dict[str, str] = {}  # class name -> its source, each inserted once
        # one dict per statement being visited (id(call) -> its comment, until placed): a call
        # left as it is gets its comment on the statement that holds it, compound or simple
        self.pending: list[dict[int, str]] = [{}]

    def _is_target(self, node: cst.Call) -> bool:
        names = self.get_metadata(QualifiedNameProvider, node.func, set())
        if any(q.name == TARGET for q in names):
            return True
        bare = isinstance(node.func, cst.Name) and node.func.value == TARGET.rpartition(".")[2]
        return self.star and bare and not names  # unbound here: the star import brings it

    def _helper_name(self, name: str) -> str:
        """`name`, or `name_2`, `name_3`, ... where the file already uses `name`."""
        candidate, n = name, 1
        while candidate in self.taken:
            n += 1
            candidate = f"{name}_{n}"
        return candidate

    def _value(self, node: cst.BaseExpression) -> Any:
        """A literal, or a module-level constant that this name really refers to."""
        if isinstance(node, cst.Name) and node.value not in ("True", "False", "None"):
            scope = self.get_metadata(ScopeProvider, node, None)
            if scope is None or node.value not in self.constants:
                raise ValueError(node.value)
            assignments = list(scope[node.value])
            if len(assignments) != 1 or not isinstance(assignments[0].scope, GlobalScope):
                raise ValueError(node.value)
            return self.constants[node.value]
        return _literal(node)

    def _bind(self, node: cst.Call) -> dict[str, cst.Arg]:
        if any(arg.star for arg in node.args):
            raise ValueError("it passes *args or **kwargs")
        bound: dict[str, cst.Arg] = {}
        positional = [a for a in node.args if a.keyword is None]
        if len(positional) > len(ARGUMENTS):
            raise ValueError("it has more positional arguments than ConvTranspose2d takes")
        for name, arg in zip(ARGUMENTS, positional, strict=False):
            bound[name] = arg
        for arg in node.args:
            if arg.keyword is not None:
                key = arg.keyword.value
                if key in bound:
                    raise ValueError(f"it gives {key} twice")
                if key not in (*ARGUMENTS, "device", "dtype"):
                    raise ValueError(f"{key}= is not an argument of ConvTranspose2d")
                bound[key] = arg
        for name in ("in_channels", "out_channels", "kernel_size"):
            if name not in bound:
                raise ValueError(f"it does not give {name}")
        return bound

    def _convert(self, node: cst.Call) -> tuple[str, str, bool]:
        """(expression, method used, exact) or ValueError/ConfigError with the reason."""
        from core.converter.text_conversion import method_for

        bound = self._bind(node)
        geometry: dict[str, Any] = {}
        for name in GEOMETRY:
            if name not in bound:
                geometry[name] = DEFAULTS[name]
                continue
            written = _code(bound[name].value).strip()
            try:
                geometry[name] = self._value(bound[name].value)
            except _UNREADABLE:
                raise ValueError(
                    f"{name} is `{written[:40]}`, not a literal or a module-level constant: write "
                    "the number, or a constant defined once at the top of the file"
                ) from None
        if "padding_mode" in bound:
            try:
                mode = self._value(bound["padding_mode"].value)
            except (ValueError, SyntaxError, TypeError):
                raise ValueError("padding_mode is not a literal") from None
            if mode != "zeros":
                raise ValueError(
                    f"padding_mode={mode!r}: torch's ConvTranspose2d takes only 'zeros', so "
                    "this call fails in torch already; use padding_mode='zeros'"
                )
        groups = geometry["groups"]
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise ValueError(f"groups must be a positive integer, got {groups!r}")
        layer = TransposedConv.make(
            groups,
            groups,
            geometry["kernel_size"],
            geometry["stride"],
            geometry["padding"],
            geometry["output_padding"],
            groups,
            True,
            geometry["dilation"],
        )
        used, _ = method_for(layer, self.method)
        record = registry.method(used)
        extra = {k: _code(bound[k].value).strip() for k in CARRIED if k in bound}
        cin = _code(bound["in_channels"].value).strip()
        cout = _code(bound["out_channels"].value).strip()
        expression = record.expression(record, layer, cin, cout, extra)
        text = expression.text
        if expression.helper is not None:
            name, helper = expression.helper
            free = self._helper_name(name)
            if free != name:  # the file has its own class of that name: the helper takes another
                pattern = re.compile(rf"\b{re.escape(name)}\b")
                text, helper = pattern.sub(free, text), pattern.sub(free, helper)
            self.helpers[free] = helper
        return text, used, record.exact

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if not self._is_target(original):
            return updated
        position = self.get_metadata(PositionProvider, original).start
        text = _code(original).strip()
        try:
            expression, used, exact = self._convert(original)
        except (ValueError, ConfigError) as exc:
            reason = exc.message if isinstance(exc, ConfigError) else str(exc)
            self.calls.append(
                SourceCall(position.line, position.column + 1, text, None, None, None, reason)
            )
            self.pending[-1][id(original)] = f"{COMMENT} {_short(reason)}"
            return updated
        self.calls.append(
            SourceCall(position.line, position.column + 1, text, expression, used, exact)
        )
        return cst.parse_expression(expression)

    def leave_Arg(self, original: cst.Arg, updated: cst.Arg) -> cst.Arg:
        """A call left as it is, inside a multi-line argument list: the comment goes on its own
        line, after its comma."""
        note = self.pending[-1].pop(id(original.value), None)
        if note is None:
            return updated
        comma = updated.comma
        if (
            isinstance(comma, cst.Comma)
            and isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace)
            and comma.whitespace_after.first_line.comment is None
        ):
            first = comma.whitespace_after.first_line.with_changes(
                whitespace=cst.SimpleWhitespace("  "), comment=cst.Comment(note)
            )
            after = comma.whitespace_after.with_changes(first_line=first)
            return updated.with_changes(comma=comma.with_changes(whitespace_after=after))
        self.pending[-1][id(original.value)] = note  # the statement takes it
        return updated

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            self.pending.append({})
        return super().on_visit(node)

    def on_leave(self, original: Any, updated: Any) -> Any:
        result = super().on_leave(original, updated)
        if not isinstance(original, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            return result
        notes = list(self.pending.pop().values())
        if not notes:
            return result
        if isinstance(result, cst.SimpleStatementLine):
            return self._noted_line(result, notes)
        # a call in a header (`for`, `if`, `with`, a default argument): a comment line above it
        comments = [cst.EmptyLine(comment=cst.Comment(note)) for note in notes]
        return result.with_changes(leading_lines=[*result.leading_lines, *comments])

    def _noted_line(
        self, updated: cst.SimpleStatementLine, notes: list[str]
    ) -> cst.SimpleStatementLine:
        trailing = updated.trailing_whitespace
        if len(notes) == 1 and trailing.comment is None:
            comment = trailing.with_changes(
                whitespace=cst.SimpleWhitespace("  "), comment=cst.Comment(notes[0])
            )
            return updated.with_changes(trailing_whitespace=comment)
        comments = [cst.EmptyLine(comment=cst.Comment(note)) for note in notes]
        return updated.with_changes(leading_lines=[*updated.leading_lines, *comments])


def _short(reason: str) -> str:
    """The first clause of a reason, for a comment in the user's code (the rows have it all)."""
    return " ".join(reason.split(": ")[0].split())[:120]


# ------------------------------------------------------------------------------------- imports


def _star_imports_torch_nn(tree: ast.Module) -> bool:
    """Whether the file runs `from torch.nn import *` (or from torch.nn.modules[.conv])."""
    return any(
        isinstance(node, ast.ImportFrom)
        and node.level == 0
        and node.module in STAR_MODULES
        and any(alias.name == "*" for alias in node.names)
        for node in tree.body
    )


def _names_used(tree: ast.Module) -> frozenset[str]:
    """Every name the file defines, imports or reads, anywhere."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return frozenset(names)


def _bound_names(module: cst.Module) -> dict[str, str]:
    """Module-level names bound by imports: name -> what it imports ("torch.nn", ...)."""
    names: dict[str, str] = {}
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Import):
                for alias in small.names:
                    full = _code(alias.name)
                    if alias.asname is not None:
                        names[_code(alias.asname.name)] = full
                    else:
                        names[full.split(".")[0]] = full.split(".")[0]
            elif isinstance(small, cst.ImportFrom) and small.module is not None:
                base = _code(small.module)
                if isinstance(small.names, cst.ImportStar):
                    continue
                for alias in small.names:
                    full = f"{base}.{_code(alias.name)}"
                    bound = _code(alias.asname.name) if alias.asname else _code(alias.name)
                    names[bound] = full
    return names


def _needed_imports(module: cst.Module, helpers: dict[str, str], any_converted: bool) -> list[str]:
    """Import lines the rewritten code needs and the file lacks; ConfigError where a needed name
    is bound to something else."""
    if not any_converted:
        return []
    wanted = {"nn": ("torch.nn", "from torch import nn")}
    if helpers:
        wanted["torch"] = ("torch", "import torch")
        wanted["F"] = ("torch.nn.functional", "import torch.nn.functional as F")
    bound = _bound_names(module)
    lines = []
    for name, (full, line) in wanted.items():
        if name not in bound:
            lines.append(line)
        elif bound[name] != full:
            raise ConfigError(
                "source",
                f"the rewritten code needs `{name}` to be {full}, but the file binds `{name}` to "
                f"{bound[name]}: import it as {name} (or rename yours)",
            )
    return sorted(lines, key=lambda text: (text.startswith("from"), text))


def _insert_at(module: cst.Module) -> int:
    """Index in the module body after the docstring, __future__ imports and the imports."""
    index = 0
    for i, statement in enumerate(module.body):
        if isinstance(statement, cst.SimpleStatementLine) and all(
            isinstance(s, (cst.Import, cst.ImportFrom))
            or (isinstance(s, cst.Expr) and isinstance(s.value, cst.SimpleString) and i == 0)
            for s in statement.body
        ):
            index = i + 1
        else:
            break
    return index


def _with_preamble(module: cst.Module, imports: list[str], helpers: dict[str, str]) -> cst.Module:
    if not imports and not helpers:
        return module
    at = _insert_at(module)
    added: list[cst.BaseStatement] = [cst.parse_statement(line + "\n") for line in imports]
    for name, text in sorted(helpers.items()):
        helper = cst.parse_module(text.strip("\n") + "\n").body
        first = helper[0]
        lines = [cst.EmptyLine(), cst.EmptyLine(), *_helper_comment(name)]
        added.append(first.with_changes(leading_lines=lines))
        added.extend(helper[1:])
    body = list(module.body)
    if at < len(body) and helpers:  # two blank lines after a class, the next line's comments kept
        kept = list(body[at].leading_lines)
        while kept and kept[0].comment is None:
            kept.pop(0)
        body[at] = body[at].with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine(), *kept])
    return module.with_changes(body=[*body[:at], *added, *body[at:]])


def _helper_comment(name: str) -> list[cst.EmptyLine]:
    return [
        cst.EmptyLine(
            comment=cst.Comment(f"# {name}: added by Deconv Lab, an exact ConvTranspose2d stand-in")
        )
    ]


# ------------------------------------------------------------------------------------- weights

_WEIGHTS = '''
import torch
from torch import nn


def load_from_original(new_model: nn.Module, original_model: nn.Module) -> None:
    """Copy a trained original model's weights into the rewritten one (Deconv Lab, exact).

    Build both: `original_model` from the file before the rewrite, with your checkpoint loaded
    (`original_model.load_state_dict(torch.load(...))`), and `new_model` from the rewritten
    file with the same arguments. Every ConvTranspose2d of the original that the rewrite
    replaced becomes, at the same path, the replacement that computes exactly the same thing;
    a ConvTranspose2d left as it is (still one in the new model) and all other weights are
    copied unchanged.
    """
    replaced = {}
    for path, layer in original_model.named_modules():
        if type(layer) is nn.ConvTranspose2d:
            if type(new_model.get_submodule(path)) is not nn.ConvTranspose2d:
                replaced[path] = layer
    state = {
        key: value
        for key, value in original_model.state_dict().items()
        if key.rpartition(".")[0] not in replaced
    }
    for path, layer in replaced.items():
        conv, name = _replacement_conv(new_model.get_submodule(path))
        prefix = (path + "." if path else "") + name
        weight, bias = _exact_weights(layer, conv)
        state[prefix + "weight"] = weight
        if bias is not None:
            state[prefix + "bias"] = bias
    new_model.load_state_dict(state)


def _replacement_conv(target: nn.Module) -> tuple[nn.Module, str]:
    """The Conv2d that holds a replacement's weights, and its name inside the replacement."""
    if hasattr(target, "conv"):  # SubPixelConvTranspose2d, ZeroInsertionConvTranspose2d
        return target.conv, "conv."
    if isinstance(target, nn.Sequential):  # Conv2d + PixelShuffle
        return target[0], "0."
    return target, ""  # a stride-1 layer: one Conv2d


def _regroup(weight: torch.Tensor, groups: int) -> torch.Tensor:
    """ConvTranspose2d layout (in, out/g, kh, kw) -> Conv2d layout (out, in/g, kh, kw)."""
    cin, cout_g, kh, kw = weight.shape
    w = weight.reshape(groups, cin // groups, cout_g, kh, kw).transpose(1, 2)
    return w.reshape(groups * cout_g, cin // groups, kh, kw)


def _exact_weights(layer: nn.ConvTranspose2d, conv: nn.Conv2d):
    """The Conv2d weight and bias that make the replacement compute exactly what `layer` does."""
    w = _regroup(layer.weight.detach(), layer.groups)
    if conv.weight.shape == w.shape:  # zero insertion, or stride 1: the flipped kernel
        return w.flip(-2, -1), layer.bias
    (sh, sw), (dh, dw) = layer.stride, layer.dilation
    cout, cin_g, kh, kw = w.shape
    rh, rw = dh * (kh - 1) // sh, dw * (kw - 1) // sw
    phases = w.new_zeros(cout, sh, sw, cin_g, rh + 1, rw + 1)
    for jh in range(kh):
        for jw in range(kw):
            # tap j lands j*dilation output pixels after its input pixel: in phase
            # (j*dilation) % stride, (j*dilation) // stride input pixels later
            ph, pw = jh * dh % sh, jw * dw % sw
            th, tw = rh - jh * dh // sh, rw - jw * dw // sw
            phases[:, ph, pw, :, th, tw] = w[:, :, jh, jw]
    bias = None if layer.bias is None else layer.bias.detach().repeat_interleave(sh * sw)
    return phases.reshape(cout * sh * sw, cin_g, rh + 1, rw + 1), bias
'''


# ------------------------------------------------------------------------------------- convert


def _rewrite(text: str, tree: ast.Module, method: str) -> tuple[str, tuple[SourceCall, ...]]:
    """The rewritten text (helper classes and imports added) and its calls, in order.

    Args:
        text: the checked source, or its pruned form (same lines).
        tree: the compiler's tree of the original source.
        method: the replacement method.
    """
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        raise SourceError(exc.raw_line, exc.raw_column + 1, exc.message) from exc
    except (RecursionError, MemoryError) as exc:
        raise ConfigError("source", TOO_DEEP) from exc
    rewriter = _Rewriter(
        method, module_constants(tree), star=_star_imports_torch_nn(tree), taken=_names_used(tree)
    )
    try:
        rewritten = MetadataWrapper(module, unsafe_skip_copy=True).visit(rewriter)
    except (RecursionError, MemoryError) as exc:
        raise ConfigError("source", TOO_DEEP) from exc
    calls = tuple(sorted(rewriter.calls, key=lambda c: (c.line, c.column)))
    imports = _needed_imports(module, rewriter.helpers, any(call.converted for call in calls))
    return _with_preamble(rewritten, imports, rewriter.helpers).code, calls


def convert_source(source: str, method: str, *, name: str = "model.py") -> SourceConversion:
    """Rewrite every ConvTranspose2d call of a model's source file with `method`.

    Args:
        source: the text of a Python file (parsed, never imported or run).
        method: one of core.replacements.registry.METHODS.
        name: the file's name in the diff's header (`patch -p0` applies it to that path).

    Returns:
        A `SourceConversion`: the new text, a unified diff, one row per call, and for exact
        methods the weight-transfer snippet.

    Raises ConfigError for a file that does not parse (with the line and column), one over the
    size and nesting caps, a bad method, or a file that binds `nn` (or, for helper classes,
    `torch`/`F`) to something else.

    Example:
        >>> src = "from torch import nn\\nup = nn.ConvTranspose2d(64, 32, 4, 2, 1)\\n"
        >>> print(convert_source(src, "resize-nearest").new_source, end="")
        from torch import nn
        up = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(64, 32, kernel_size=3, padding=1))
    """  # noqa: E501
    record = registry.method(method)
    source, tree = _checked(source)
    if TARGET.rpartition(".")[2] not in source:  # nothing to find: LibCST is the slow part
        return SourceConversion(method, source, source, "", ())
    pruned, pairs = _pruned(source, tree)
    new_source, calls = _rewrite(pruned, tree, method)
    restored = _restored(new_source, pairs) if pairs else new_source
    if restored is None:  # a stand-in did not come back as it went: convert the whole file
        new_source, calls = _rewrite(source, tree, method)
    else:
        new_source = restored
    converted = any(call.converted for call in calls)
    diff = "".join(
        difflib.unified_diff(
            source.splitlines(keepends=True),
            new_source.splitlines(keepends=True),
            fromfile=name,
            tofile=name,
        )
    )
    exact = record.exact and converted
    return SourceConversion(
        method, source, new_source, diff, calls, _WEIGHTS.lstrip("\n") if exact else ""
    )
