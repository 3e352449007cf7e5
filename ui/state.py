"""The one layer configuration shared by all pages, mirrored in the URL both ways.

- `LayerConfig` is the state: torch's `nn.ConvTranspose2d` arguments plus the input size, square
  or per axis. It lives in `st.session_state`, so it survives page switches.
- `layer_sidebar()` draws the widgets that edit it; `reset_all` puts everything back.
- Every run writes the configuration and the current page's own parameters (`page_param` /
  `publish`) to `st.query_params`, and a new session reads them back, so a shared link
  reproduces exactly what the sender saw.
"""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar
from urllib.parse import urlencode

import streamlit as st

from core.errors import ConfigError
from core.geometry.layer import SPATIAL_NAMES, TransposedConv
from core.geometry.output_size import output_size
from core.geometry.repair import DOWNWARD, make_valid
from core.hosted import GENERATOR_LIMITS
from core.parsing import parse_int
from ui import caps

T = TypeVar("T")

AXES = ("H", "W")

_STORE = "_deconv_store"  # canonical values that survive page switches
_RUN_PARAMS = "_deconv_url"  # query parameters published by the current run
_NOTICES = "_deconv_notices"  # messages about link values that were ignored or clamped
_URL_IN = "_deconv_url_in"  # the URL as the current full run found it
_LAYER = "layer"  # key of the LayerConfig inside the store
WIDGET_PREFIX = "layer_"


MAX_ECHO = 40  # characters of a link's value repeated back in a message
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def escape_markdown(text: str) -> str:
    """Text that Streamlit's markdown shows literally: no links, emphasis, LaTeX or HTML.

    Messages can quote what a link or a paste contained; a crafted link must not turn them into
    a live link (phishing) or formatting."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def echo(key: str, raw: object) -> str:
    """`key=value` from a link as an inert code span, shortened to MAX_ECHO characters."""
    text = " ".join(str(raw).split())
    if len(text) > MAX_ECHO:
        text = text[:MAX_ECHO] + "…"
    return f"`{key}={text.replace('`', chr(39))}`"


@dataclass(frozen=True)
class Field:
    """How one layer parameter appears in the URL and in its widget; `limit` is its key in
    `ui.caps.LIMITS` (the maximum's name and how to raise it)."""

    url: str
    label: str
    minimum: int
    maximum: int
    help: str
    limit: str

    def explain_maximum(self) -> str:
        return caps.explain(self.limit)


FIELDS: dict[str, Field] = {
    "in_channels": Field(
        "cin", "in_channels", 1, caps.MAX_CHANNELS, "Input channels (C_in).", "channels"
    ),
    "out_channels": Field(
        "cout", "out_channels", 1, caps.MAX_CHANNELS, "Output channels (C_out).", "channels"
    ),
    "groups": Field(
        "g",
        "groups",
        1,
        caps.MAX_GROUPS,
        "Channel groups: both channel counts must be divisible by it.",
        "groups",
    ),
    "input_size": Field(
        "n",
        "input size (px)",
        1,
        caps.MAX_INPUT,
        "Spatial size of the input feature map, in pixels.",
        "input_size",
    ),
    "kernel_size": Field(
        "k", "kernel_size (px)", 1, caps.MAX_KERNEL, "Kernel extent k.", "kernel_size"
    ),
    "stride": Field("s", "stride (px)", 1, caps.MAX_STRIDE, "Upsampling factor s.", "stride"),
    "padding": Field(
        "p",
        "padding (px)",
        0,
        caps.MAX_PADDING,
        "p pixels are cropped from both ends of each axis of the full output.",
        "padding",
    ),
    "output_padding": Field(
        "op",
        "output_padding (px)",
        0,
        caps.MAX_OUTPUT_PADDING,
        "Extra rows/columns added at the end; must be smaller than stride or dilation.",
        "output_padding",
    ),
    "dilation": Field(
        "d", "dilation (px)", 1, caps.MAX_DILATION, "Spacing between kernel taps.", "dilation"
    ),
}
BIAS_URL = "bias"


@dataclass(frozen=True)
class LayerConfig:
    """What the sidebar edits: a ConvTranspose2d configuration and its input size (H, W)."""

    in_channels: int = 64
    out_channels: int = 32
    kernel_size: tuple[int, int] = (3, 3)
    stride: tuple[int, int] = (2, 2)
    padding: tuple[int, int] = (1, 1)
    output_padding: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    bias: bool = True
    input_size: tuple[int, int] = (16, 16)
    per_axis: bool = False

    def layer(self) -> TransposedConv:
        """The validated core layer; raises core's ConfigError naming the parameter and fix."""
        return TransposedConv.make(
            self.in_channels,
            self.out_channels,
            self.kernel_size,
            self.stride,
            self.padding,
            self.output_padding,
            self.groups,
            self.bias,
            self.dilation,
        )

    def to_query(self) -> dict[str, str]:
        """URL parameters: every value, per-axis ones written as 'H,W'."""
        out: dict[str, str] = {}
        for name, spec in FIELDS.items():
            value = getattr(self, name)
            if isinstance(value, tuple):
                out[spec.url] = ",".join(map(str, value)) if self.per_axis else str(value[0])
            else:
                out[spec.url] = str(value)
        out[BIAS_URL] = "1" if self.bias else "0"
        return out

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> tuple[LayerConfig, list[str]]:
        """Read a configuration from URL parameters; bad or clamped values come back as notices.

        A value outside the app's limits is clamped to the nearest allowed one; where the link's
        values (clamped or not) make a layer torch would refuse (`op=9` clamped to 7, or `op=2`,
        with stride 2), the parameter at fault moves to the nearest valid value given the others
        (`core.geometry.repair`; groups to the largest valid value below), and the notice says so
        in words: a link never opens on a layer error."""
        values: dict[str, Any] = {}
        notices: dict[str, str] = {}  # by parameter name, in FIELDS order
        raws: dict[str, list[int]] = {}  # the numbers the link gave
        per_axis = False
        for name, spec in FIELDS.items():
            raw = params.get(spec.url)
            if raw is None:
                continue
            parts = [part.strip() for part in str(raw).split(",")]
            is_tuple = isinstance(getattr(cls(), name), tuple)
            if len(parts) not in ((1, 2) if is_tuple else (1,)):
                notices[name] = (
                    f"ignored {echo(spec.url, raw)} from the link: give one whole number"
                    + (" or two (H,W)" if is_tuple else "")
                )
                continue
            try:
                numbers = [parse_int(part, name) for part in parts]
            except ConfigError as err:
                notices[name] = (
                    f"ignored {echo(spec.url, raw)} from the link: {escape_markdown(err.message)}"
                )
                continue
            clamped = [min(max(v, spec.minimum), spec.maximum) for v in numbers]
            raws[name] = numbers
            used = ",".join(map(str, clamped))
            if any(v > spec.maximum for v in numbers):
                notices[name] = (
                    f"{echo(spec.url, raw)} from the link is above the limit for `{name}`: "
                    f"using {used}. {escape_markdown(spec.explain_maximum())}."
                )
            elif clamped != numbers:
                notices[name] = (
                    f"{echo(spec.url, raw)} from the link: `{name}` must be at least "
                    f"{spec.minimum}, using {used}."
                )
            if is_tuple:
                per_axis = per_axis or len(clamped) == 2
                values[name] = tuple(clamped) if len(clamped) == 2 else (clamped[0],) * 2
            else:
                values[name] = clamped[0]
        raw_bias = params.get(BIAS_URL)
        if raw_bias is not None:
            if raw_bias in ("0", "1", "true", "false"):
                values["bias"] = raw_bias in ("1", "true")
            else:
                notices[BIAS_URL] = f"ignored {echo(BIAS_URL, raw_bias)} from the link: use 0 or 1"
        cfg = cls(per_axis=per_axis, **values)
        if any(name in values for name in FIELDS):
            # In range or clamped, a link's values may still make a layer torch refuses (`op=2`
            # with stride 2, `s=1` with the default op=1, `g=7` with 64 channels): the nearest
            # valid layer opens instead, with a notice naming each change.
            cfg = cfg._repaired(notices, raws)
        return cfg, list(notices.values())

    def _repaired(self, notices: dict[str, str], raws: Mapping[str, list[int]]) -> LayerConfig:
        """After clamping: the nearest layer torch accepts; each parameter moved gets a notice
        (replacing its clamping notice: the value used is within the limits)."""
        before = self._layer_kwargs()
        bounds = {
            name: (spec.minimum, spec.maximum)
            for name, spec in FIELDS.items()
            if name != "input_size"
        }
        fixed, repairs = make_valid(before, self.input_size, bounds)
        for name in dict.fromkeys(r.parameter for r in repairs):
            spec = FIELDS[name]
            new = fixed[name]
            used = (
                ",".join(map(str, new if self.per_axis else new[:1]))
                if isinstance(new, tuple)
                else str(new)
            )
            asked = raws.get(name)
            old = before[name]
            source = (
                f"{echo(spec.url, ','.join(map(str, asked)))} from the link"
                if asked is not None
                else f"`{name}` {old[0] if isinstance(old, tuple) else old}"
            )
            which = "largest smaller" if name in DOWNWARD else "nearest"
            notices[name] = (
                f"{source} does not fit this layer "
                f"({escape_markdown(self._rule(before, name, asked))}): using {used}, the "
                f"{which} value that does."
            )
        return replace(self, **{r.parameter: fixed[r.parameter] for r in repairs})

    def _rule(self, values: Mapping[str, Any], name: str, asked: list[int] | None) -> str:
        """core's objection to `name` as the link asked for it (the rule, without the fix)."""
        trial = dict(values)
        if asked is not None and isinstance(values[name], tuple):
            trial[name] = tuple(asked) if len(asked) == 2 else (asked[0],) * 2
        elif asked is not None:
            trial[name] = asked[0]
        try:
            output_size(TransposedConv.make(**trial), self.input_size)
        except ConfigError as err:
            return re.split(r"[:;] use ", err.message)[0]
        return f"{name} does not fit the other values"

    def _layer_kwargs(self) -> dict[str, Any]:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "padding": self.padding,
            "output_padding": self.output_padding,
            "groups": self.groups,
            "bias": self.bias,
            "dilation": self.dilation,
        }

    @classmethod
    def from_layer(cls, layer: TransposedConv, input_size: int | tuple[int, int]) -> LayerConfig:
        """The configuration that shows `layer` (a 2D core layer) on `input_size`."""
        sizes = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        spatial = {name: tuple(getattr(layer, name)) for name in SPATIAL_NAMES}
        per_axis = any(len(set(v)) > 1 for v in (*spatial.values(), sizes))
        return cls(
            in_channels=layer.in_channels,
            out_channels=layer.out_channels,
            groups=layer.groups,
            bias=layer.bias,
            input_size=sizes,  # type: ignore[arg-type]
            per_axis=per_axis,
            **spatial,  # type: ignore[arg-type]
        )

    def input_arg(self) -> int | tuple[int, int]:
        """The input size as core takes it: an int when square."""
        return self.input_size if self.per_axis else self.input_size[0]


# --------------------------------------------------------------------------- session store


def _store() -> dict[str, Any]:
    return st.session_state.setdefault(_STORE, {})


def _notices() -> list[str]:
    return st.session_state.setdefault(_NOTICES, [])


def config() -> LayerConfig:
    """The shared configuration: kept in the session, read from the URL on a session's first run."""
    store = _store()
    if _LAYER not in store:
        cfg, notices = LayerConfig.from_query(_url_in())
        store[_LAYER] = cfg
        _notices().extend(notices)
    return store[_LAYER]


def _clear_layer_widgets() -> None:
    for key in [k for k in st.session_state if str(k).startswith(WIDGET_PREFIX)]:
        del st.session_state[key]


def set_config(cfg: LayerConfig) -> None:
    """Replace the shared configuration (presets, solver links); the widgets follow."""
    _store()[_LAYER] = cfg
    _clear_layer_widgets()


def load_config(cfg: LayerConfig, page_keys: Mapping[str, Any] | None = None) -> None:
    """Callback for "open in designer" buttons: set the layer and, optionally, page values."""
    set_config(cfg)
    for key, value in (page_keys or {}).items():
        _store()[key] = value
        if key in st.session_state:
            del st.session_state[key]
    st.query_params.clear()
    st.session_state[_URL_IN] = {}


def set_page_values(values: Mapping[str, Any]) -> None:
    """From a callback: give page widgets new values (kept, and in the URL, like page_param's)."""
    for key, value in values.items():
        _store()[key] = value
        st.session_state[key] = value


def reset_all() -> None:
    """Callback of the reset button: defaults everywhere, URL emptied."""
    page_keys = [k for k in _store() if k != _LAYER]
    st.session_state[_STORE] = {}
    _clear_layer_widgets()
    for key in page_keys:
        if key in st.session_state:
            del st.session_state[key]
    st.session_state[_NOTICES] = []
    st.query_params.clear()
    st.session_state[_URL_IN] = {}


# --------------------------------------------------------------------------- URL mirroring


def begin_run() -> None:
    """Start of a full script run: note the URL as it arrives (pages read their parameters from
    this snapshot, so a fragment that writes the URL mid-run loses nothing), and forget the
    previous run's published parameters."""
    st.session_state[_URL_IN] = st.query_params.to_dict()
    st.session_state[_RUN_PARAMS] = {}


def _url_in() -> dict[str, str]:
    snapshot = st.session_state.get(_URL_IN)
    return st.query_params.to_dict() if snapshot is None else snapshot


def url_value(key: str) -> str | None:
    """`key`'s value in the URL this run started from (a shared link), or None."""
    return _url_in().get(key)


def publish(key: str, text: str | None) -> None:
    """Put `key=text` in this run's URL (None leaves it out)."""
    params = st.session_state.setdefault(_RUN_PARAMS, {})
    if text is None:
        params.pop(key, None)
    else:
        params[key] = text


def sync_url() -> None:
    """Write the published parameters to the URL when they differ from it."""
    params = dict(st.session_state.get(_RUN_PARAMS, {}))
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)


def page_param(key: str, default: T, parse: Callable[[str], T]) -> None:
    """Give the widget with `key` its starting value, kept across pages and mirrored in the URL.

    Order: the widget's own state, the value kept from an earlier visit, the URL (a shared
    link), the default. `parse` raises ValueError for values it refuses (they become notices).
    Call `remember(key, fmt)` after drawing the widget (fmt writes the value for the URL).
    """
    if key in st.session_state:
        return
    store = _store()
    if key in store:
        st.session_state[key] = store[key]
        return
    raw = _url_in().get(key)
    value = default
    if raw is not None:
        try:
            value = parse(raw)
        except ConfigError as err:
            link_notice(key, raw, err.message)
        except ValueError as exc:  # the page's parsers say what they want in words
            link_notice(key, raw, str(exc))
        except (TypeError, KeyError, IndexError):
            link_notice(key, raw, "it is not a value this page knows")
    st.session_state[key] = value
    store[key] = value


def remember(key: str, fmt: Callable[[Any], str] = str) -> Any:
    """Keep the widget's current value for later visits and publish it in the URL."""
    value = st.session_state.get(key)
    _store()[key] = value
    publish(key, None if value is None else fmt(value))
    return value


def link_notice(key: str, raw: object, why: str) -> None:
    """Tell the user, above the page, that the link's `key=raw` was not used and `why` (plain
    words, e.g. "it is not one of this layer's replacements")."""
    _notices().append(f"ignored {echo(key, raw)} from the link: {_plain(why)}")


def keep_previous(key: str, fmt: Callable[[Any], str] = str) -> None:
    """For a widget whose typed value was refused: the last accepted value stays kept and in the
    URL (a link never carries a refused value)."""
    value = _store().get(key)
    publish(key, None if value is None else fmt(value))


# Python's own exception texts, which a notice must never show (a page's parser that lets one
# through gets a plain sentence instead).
_PYTHON_TEXT = re.compile(
    r"invalid literal|could not convert|base 10|unpack|object|not subscriptable|Traceback",
    re.IGNORECASE,
)


def _plain(message: str) -> str:
    """`message` for a notice: escaped markdown, or a plain sentence where it is Python's."""
    if _PYTHON_TEXT.search(message):
        return "it is not a value this page knows"
    return escape_markdown(message)


def bounded_int(minimum: int, maximum: int, limit: str | None = None) -> Callable[[str], int]:
    """A `parse` for page_param: a whole number in ASCII digits (`core.parsing.parse_int`;
    spaces around it are allowed) from `minimum` to `maximum`. `limit`: the key in
    `ui.caps.LIMITS` (or "generator.<name>", `ui.caps.find`) when the maximum is one of the
    app's limits (the notice explains it)."""

    def parse(raw: str) -> int:
        try:
            value = parse_int(raw.strip(), "value")
        except ConfigError:
            raise ValueError("it must be a whole number written with the digits 0-9") from None
        if value < minimum:
            raise ValueError(f"it must be at least {minimum}")
        if value > maximum:
            if limit is None:
                raise ValueError(f"it can be at most {maximum}")
            raise ValueError(f"it is above the limit: {caps.explain(limit)}")
        return value

    return parse


def int_choice(choices: list[int] | tuple[int, ...]) -> Callable[[str], int]:
    """A `parse` for page_param: one of the whole numbers a select box offers."""

    def parse(raw: str) -> int:
        try:
            value = parse_int(raw.strip(), "value")
        except ConfigError:
            raise ValueError("it must be a whole number written with the digits 0-9") from None
        if value not in choices:
            raise ValueError(f"use one of {', '.join(map(str, choices))}")
        return value

    return parse


def flag(raw: str) -> bool:
    """A `parse` for page_param: 1 (on) or 0 (off)."""
    if raw not in ("0", "1"):
        raise ValueError("use 1 (on) or 0 (off)")
    return raw == "1"


def one_of(options: list[str] | tuple[str, ...]) -> Callable[[str], str]:
    """A `parse` for page_param: one of the allowed strings."""

    def parse(raw: str) -> str:
        if raw not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return raw

    return parse


# Long texts (a pasted model) travel in the link deflated and base64url-encoded. Servers and
# browsers take URLs of 64 KiB and more; this leaves room for the other parameters.
MAX_PACKED_CHARS = 32_000
_PACK_PREFIX = "z1."  # format tag, so that a later format can be told apart


def pack_text(text: str) -> str | None:
    """`text` compressed for a URL parameter (zlib, base64url), or None where even compressed
    it is longer than MAX_PACKED_CHARS."""
    packed = _PACK_PREFIX + base64.urlsafe_b64encode(zlib.compress(text.encode(), 9)).decode()
    return packed if len(packed) <= MAX_PACKED_CHARS else None


def unpack_text(raw: str, max_chars: int) -> str:
    """The text `pack_text` packed; ValueError (in plain words) for anything else, or for a text
    longer than `max_chars` (decompression stops there: a small link cannot inflate to
    gigabytes)."""
    if not raw.startswith(_PACK_PREFIX) or len(raw) > MAX_PACKED_CHARS:
        raise ValueError("it is not a model text packed by Deconv Lab")
    try:
        data = base64.urlsafe_b64decode(raw[len(_PACK_PREFIX) :].encode("ascii"))
        inflater = zlib.decompressobj()
        plain = inflater.decompress(data, 4 * max_chars + 1)
        if inflater.unconsumed_tail or not inflater.eof:
            raise ValueError("the packed text is damaged or too long")
        text = plain.decode("utf-8")
    except (ValueError, UnicodeError, zlib.error) as exc:
        raise ValueError("the packed model text in the link is damaged") from exc
    if len(text) > max_chars:
        raise ValueError(f"the text is longer than {max_chars:,} characters")
    return text


def text_from_link(raw: str, max_chars: int) -> str:
    """A long text from a link: packed by `pack_text`, or plain (as older links held it).

    Args:
        raw: the link's value.
        max_chars: the longest text accepted.

    Returns:
        The text; ValueError (in plain words) for a damaged or too long one.
    """
    if raw.startswith(_PACK_PREFIX):
        return unpack_text(raw, max_chars)
    return bounded_text(raw, max_chars)


def bounded_text(raw: str, max_chars: int) -> str:
    """`raw` where it is at most `max_chars` characters long; ValueError (in plain words)
    otherwise."""
    if len(raw) > max_chars:
        raise ValueError(f"longer than {max_chars:,} characters")
    return raw


def publish_packed(key: str, omitted_key: str, text: str | None) -> bool:
    """Put `text` (None: nothing to carry) in the URL under `key`, packed (`pack_text`); where
    even packed it is too long, put its length under `omitted_key` instead, so that whoever opens
    the link is told it was left out (`omitted_notice`), never shown another text in silence.

    Args:
        key: the URL parameter of the packed text.
        omitted_key: the URL parameter saying the text was left out.
        text: the text to carry, or None.

    Returns:
        True where the text was left out of the link.
    """
    packed = None if text is None else pack_text(text)
    omitted_length = None if text is None or packed is not None else str(len(text))
    publish(key, packed)
    publish(omitted_key, omitted_length)
    return omitted_length is not None


def omitted_notice(omitted_key: str, key: str, message: str) -> None:
    """Show `message` where the opened link says its text was left out (`publish_packed`) and
    the widget `key` holds no text of its own."""
    if url_value(omitted_key) is not None and not st.session_state[key]:
        st.warning(message, icon=":material/link_off:")


def link_for(cfg: LayerConfig, page: str = "", extra: Mapping[str, str] | None = None) -> str:
    """A relative link that opens `page` (url_path; '' is the designer) showing `cfg`.

    Relative ('./page?...') so it also works when the app is served under a base path.
    """
    params = {**cfg.to_query(), **(extra or {})}
    return f"./{page}?{urlencode(params)}"


def show_notices(where: Any = st) -> None:
    """Show (once) what was ignored or clamped from a shared link."""
    notices = _notices()
    if notices:
        where.warning(
            "Some values in the link were not used:\n\n" + "\n".join(f"- {n}" for n in notices)
        )
        st.session_state[_NOTICES] = []


# --------------------------------------------------------------------------- the sidebar


def _widget_key(name: str, axis: int | None = None) -> str:
    return WIDGET_PREFIX + name + ("" if axis is None else f"_{AXES[axis].lower()}")


def box_default(key: str | None, fallback: int | None) -> int | None:
    """The default to give a keyed number box: the value it holds now (session state), else
    `fallback`.

    Streamlit's default for a `number_input` without a value is 0, and its browser side commits
    the default wherever a box has no number of its own (an emptied box on Enter or blur; a box
    drawn again without its stored value). Under load a dilation once arrived as 0 that way and
    was refused ("must be at least 1, got 0"). With its own value as the default, such a
    fallback changes nothing: an emptied box goes back to what it held.
    (`global.disableWidgetStateDuplicationWarning` in `.streamlit/config.toml`: a default beside
    a value set in session state is intended here.)
    """
    if key is not None and isinstance(st.session_state.get(key), int):
        return st.session_state[key]
    return fallback


def _int_widget(
    container: Any, name: str, start: int, axis: int | None = None, label: str | None = None
) -> int:
    """A sidebar number box without bounds of its own: a value outside the field's range is
    kept as typed, and `current_layer` refuses it with a message naming the rule or limit."""
    spec = FIELDS[name]
    key = _widget_key(name, axis)
    if key not in st.session_state:
        st.session_state[key] = start
    return int(
        container.number_input(
            label or spec.label,
            value=box_default(key, start),
            step=1,
            key=key,
            help=f"{spec.help} At most {spec.maximum:,} ({caps.MODE.words()}).",
        )
    )


def limits_panel(where: Any) -> None:
    """The app's limits in force and the one setting that raises them (`ui.caps`)."""
    if caps.MODE.problem:
        where.warning(escape_markdown(caps.MODE.problem), icon=":material/warning:")
    with where.expander("Limits", icon=":material/straighten:"):
        if caps.MODE.local:
            where_text = (
                f"The local limits are on ({caps.ENV_VAR}=local). Larger layers: use core's "
                "Python API."
            )
        else:
            name = "the hosted demo's" if caps.MODE.name == "hosted" else "the default ones"
            where_text = (
                f"These limits are {name}, which keep one request cheap on the hosted demo. "
                "Running the app on your own machine? Raise them with one setting: "
                f"`{caps.ENV_VAR}=local streamlit run app.py`."
            )
        st.caption(where_text)
        every = [*caps.LIMITS.values(), *GENERATOR_LIMITS.values()]
        st.markdown(
            "\n".join(
                f"- {lim.what}: **{lim.value(caps.MODE):,}{lim.unit}**"
                + ("" if caps.MODE.local else f" (local: {lim.local:,}{lim.unit})")
                for lim in every
            )
        )


def _reset_button(bar: Any) -> None:
    bar.button(
        "Reset everything",
        on_click=reset_all,
        width="stretch",
        help="Back to the defaults on every page; the URL is cleared.",
    )


def layer_sidebar() -> LayerConfig:
    """Draw the layer widgets in the sidebar, store and publish what they say, return it."""
    cfg = config()
    bar = st.sidebar
    bar.markdown("### Layer · `nn.ConvTranspose2d`")
    per_key = _widget_key("per_axis")
    if per_key not in st.session_state:
        st.session_state[per_key] = cfg.per_axis
    per_axis = bar.toggle(
        "Per axis (H, W)",
        key=per_key,
        help="Give kernel, stride, padding, ... separately for height and width.",
    )
    left, right = bar.columns(2)
    in_channels = _int_widget(left, "in_channels", cfg.in_channels)
    out_channels = _int_widget(right, "out_channels", cfg.out_channels)
    left, right = bar.columns(2)
    groups = _int_widget(left, "groups", cfg.groups)
    bias_key = _widget_key("bias")
    if bias_key not in st.session_state:
        st.session_state[bias_key] = cfg.bias
    right.markdown("<div style='height: 1.9rem'></div>", unsafe_allow_html=True)
    bias = right.checkbox("bias", key=bias_key)
    values: dict[str, tuple[int, int]] = {}
    for name in ("input_size", *SPATIAL_NAMES):
        current = getattr(cfg, name)
        if per_axis:
            left, right = bar.columns(2)
            label = FIELDS[name].label
            values[name] = (
                _int_widget(left, name, current[0], 0, f"{label} · H"),
                _int_widget(right, name, current[1], 1, f"{label} · W"),
            )
        else:
            value = _int_widget(bar, name, current[0])
            values[name] = (value, value)
    new = LayerConfig(
        in_channels=in_channels,
        out_channels=out_channels,
        groups=groups,
        bias=bool(bias),
        per_axis=bool(per_axis),
        **values,
    )  # type: ignore[arg-type]
    _store()[_LAYER] = new
    for key, text in new.to_query().items():
        publish(key, text)
    _reset_button(bar)
    bar.caption("The page's URL holds this configuration: copy it to share exactly this view.")
    return new


def publish_layer() -> LayerConfig:
    """For pages without the layer widgets: keep the shared layer in the URL all the same."""
    cfg = config()
    for key, text in cfg.to_query().items():
        publish(key, text)
    return cfg


def layer_summary() -> LayerConfig:
    """Sidebar for pages that load layers rather than edit them: the current one, and reset."""
    cfg = publish_layer()
    bar = st.sidebar
    bar.markdown("### Current layer")
    layer, err = current_layer(cfg)
    if layer is not None:
        size = " × ".join(map(str, cfg.input_size))
        bar.code(layer.torch_repr(), language="python", wrap_lines=True)
        bar.caption(f"on a {size} px input · edit it in the Layer designer")
    elif err is not None:
        show_error(err, bar)
    _reset_button(bar)
    return cfg


def current_layer(
    cfg: LayerConfig | None = None,
) -> tuple[TransposedConv | None, ConfigError | None]:
    """The validated layer for `cfg` (default: the shared one), or the ConfigError explaining why
    torch would refuse it."""
    cfg = cfg or config()
    err = limit_error(cfg)
    if err is not None:
        return None, err
    try:
        return cfg.layer(), None
    except ConfigError as err:
        return None, err


def limit_error(cfg: LayerConfig) -> ConfigError | None:
    """The first value of `cfg` above the app's limits, as a ConfigError naming the parameter,
    the limit and how to raise it; None when every value is within them (values below a
    parameter's minimum are core's to refuse, with torch's rule)."""
    for name, spec in FIELDS.items():
        value = getattr(cfg, name)
        values = (value if cfg.per_axis else value[:1]) if isinstance(value, tuple) else (value,)
        for v in values:
            if v > spec.maximum:
                return ConfigError(
                    name, f"{name} {v:,} is above the limit: {spec.explain_maximum()}"
                )
    return None


def show_error(err: ConfigError, where: Any = st) -> None:
    """st.error naming the parameter, with core's message (the rule and the fix)."""
    name = (
        err.parameter
        if re.fullmatch(r"[\w\[\]]{1,64}", err.parameter)
        else escape_markdown(err.parameter)
    )
    where.error(
        f"**{name}** — {escape_markdown(err.message)}",
        icon=":material/error:",
    )
