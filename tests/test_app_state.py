"""The shared layer state: URL both ways, across pages, reset; torch stays out of light pages."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest
from app_support import assert_clean, open_page, run_under_limits
from hypothesis import given
from hypothesis import strategies as st
from tests_paths import ROOT

from core.errors import ConfigError
from core.geometry.output_size import output_size
from core.limits import ENV_VAR, limits_mode
from ui import caps
from ui.state import FIELDS, LayerConfig, current_layer

pair = st.tuples(st.integers(1, 8), st.integers(1, 8))


def layer_error(cfg: LayerConfig) -> str | None:
    """What the page would say is wrong with `cfg`'s layer on its input (None: nothing)."""
    layer, err = current_layer(cfg)
    if err is None:
        try:
            output_size(layer, cfg.input_size)
        except ConfigError as size_err:
            err = size_err
    return None if err is None else err.message


@given(
    per_axis=st.booleans(),
    kernel=pair,
    stride=pair,
    padding=st.tuples(st.integers(0, 8), st.integers(0, 8)),
    size=st.tuples(st.integers(1, caps.MAX_INPUT), st.integers(1, caps.MAX_INPUT)),
    channels=st.tuples(st.integers(1, 64), st.integers(1, 64)),
    bias=st.booleans(),
)
def test_layer_config_survives_the_url(per_axis, kernel, stride, padding, size, channels, bias):
    if not per_axis:
        kernel, stride, padding, size = ((v[0], v[0]) for v in (kernel, stride, padding, size))
    cfg = LayerConfig(
        in_channels=channels[0],
        out_channels=channels[1],
        kernel_size=kernel,
        stride=stride,
        padding=padding,
        input_size=size,
        bias=bias,
        per_axis=per_axis,
    )
    back, notices = LayerConfig.from_query(cfg.to_query())
    if layer_error(cfg) is None:  # a layer torch accepts comes back as it was
        assert not notices
        assert back == cfg
    else:  # one it refuses opens as the nearest valid layer, with a notice per change
        assert notices and layer_error(back) is None


def test_bad_link_values_are_clamped_or_ignored_with_a_notice():
    cfg, notices = LayerConfig.from_query({"k": "99", "s": "two", "n": "3,4,5", "bias": "maybe"})
    assert cfg.kernel_size == (caps.MAX_KERNEL,) * 2
    assert cfg.stride == LayerConfig().stride and cfg.input_size == LayerConfig().input_size
    assert len(notices) == 4


LAX_INTEGERS = ("１２", "1_0", "+3", "٣")  # int() takes all four; a link takes none


@pytest.mark.parametrize("value", LAX_INTEGERS)
def test_link_integers_are_ascii_digits_only(value):
    cfg, notices = LayerConfig.from_query({"k": value, "s": f"2,{value}", "cin": value})
    assert cfg == LayerConfig()
    assert len(notices) == 3
    for notice, name in zip(notices, ("in\\_channels", "kernel\\_size", "stride"), strict=True):
        assert f"{name} must be a whole number written with the digits 0\\-9" in notice, notice
        assert "invalid literal" not in notice


def test_a_link_with_lax_integers_opens_the_defaults_with_a_warning():
    at = open_page("designer", dict(zip(("k", "s", "p", "cin"), LAX_INTEGERS, strict=True)))
    assert_clean(at)
    warning = " ".join(w.value for w in at.warning)
    for key, value in zip(("k", "s", "p", "cin"), LAX_INTEGERS, strict=True):
        assert f"`{key}={value}`" in warning
    assert "invalid literal" not in warning
    assert at.number_input(key="layer_kernel_size").value == LayerConfig().kernel_size[0]
    assert at.query_params["k"] == str(LayerConfig().kernel_size[0])


def test_out_of_range_link_values_are_clamped_to_a_valid_layer():
    """op=9 is above the limit (7), and 7 is still invalid with stride 2: the link gets the
    nearest value torch accepts with the link's other values, and a notice in words."""
    cfg, notices = LayerConfig.from_query({"op": "9"})
    assert cfg.output_padding == (1, 1)
    cfg.layer()  # valid
    (notice,) = notices
    assert notice.startswith("`op=9` from the link does not fit this layer")
    assert "must be smaller than stride 2" in notice and "using 1" in notice


def test_in_range_link_values_that_make_an_invalid_layer_are_repaired_with_a_notice():
    """Each value within its limit, the layer invalid all the same: the largest output_padding
    below max(stride, dilation) (torch's rule), groups the largest divisor of both channel
    counts not above the link's, and the notice says what changed."""
    default = LayerConfig()
    cfg, (notice,) = LayerConfig.from_query({"op": "2"})  # default stride 2
    assert cfg.output_padding == (max(default.stride[0], default.dilation[0]) - 1,) * 2
    assert notice.startswith("`op=2` from the link does not fit this layer") and "using 1" in notice
    cfg, (notice,) = LayerConfig.from_query({"s": "1"})  # the default op 1 no longer fits
    assert cfg.stride == (1, 1) and cfg.output_padding == (0, 0)
    assert notice.startswith(f"`output_padding` {default.output_padding[0]} does not fit")
    assert "using 0" in notice
    cfg, (notice,) = LayerConfig.from_query({"g": "7", "cin": "64", "cout": "48"})
    assert cfg.groups == max(g for g in range(1, 8) if 64 % g == 0 and 48 % g == 0)
    assert notice.startswith("`g=7` from the link does not fit this layer")
    assert f"using {cfg.groups}, the largest smaller value that does" in notice
    for c in (LayerConfig.from_query(q)[0] for q in ({"op": "2"}, {"s": "1"}, {"g": "7"})):
        assert layer_error(c) is None


link_value = st.one_of(st.integers(0, 12), st.integers(0, 20_000)).map(str)


@given(
    values=st.dictionaries(
        st.sampled_from([spec.url for spec in FIELDS.values()]),
        st.one_of(link_value, st.tuples(link_value, link_value).map(",".join)),
    )
)
def test_a_link_never_opens_on_a_layer_error(values):
    cfg, notices = LayerConfig.from_query(values)
    assert layer_error(cfg) is None, values
    assert all("invalid literal" not in n for n in notices)


@pytest.mark.parametrize(
    "query",
    [{"op": "2"}, {"s": "1"}, {"g": "7"}, {"s": "3", "d": "2", "op": "5", "n": "1,1"}],
)
def test_the_designer_opens_a_repaired_link_without_an_error(query):
    at = open_page("designer", query)
    assert_clean(at)
    assert not at.error, [e.value for e in at.error]
    notices = " ".join(w.value for w in at.warning)
    assert "does not fit this layer" in notices and "using" in notices


def test_unknown_replacement_and_chain_picks_in_a_link_get_a_notice():
    at = open_page("designer", {"rep": "zzz"})
    assert_clean(at)
    notices = " ".join(w.value for w in at.warning)
    assert "`rep=zzz` from the link: it is not one of the replacements listed" in notices
    assert at.query_params["rep"] == at.selectbox(key="rep").value
    at = open_page("solver", {"sv_mode": "ends", "sv_chain_pick": "x"})
    assert_clean(at)
    notices = " ".join(w.value for w in at.warning).replace("\\", "")
    assert "`sv_chain_pick=x` from the link: it must be a whole number" in notices
    assert at.selectbox(key="sv_chain_pick").value == 0
    at = open_page("solver", {"sv_mode": "ends", "sv_chain_pick": "3"})
    assert_clean(at)
    assert not at.warning
    assert at.selectbox(key="sv_chain_pick").value == 2  # rank 3, the third listed
    assert at.query_params["sv_chain_pick"] == "3"
    # 7 -> 14 px in one layer: fewer chains than the rank asked for
    query = {"sv_mode": "ends", "sv_from": "7", "sv_to": "14", "sv_layers": "1"}
    at = open_page("solver", {**query, "sv_chain_pick": "20"})
    assert_clean(at)
    notices = " ".join(w.value for w in at.warning)
    assert "`sv_chain_pick=20` from the link: " in notices and "showing the first" in notices
    assert at.selectbox(key="sv_chain_pick").value == 0


def test_link_with_per_axis_values_opens_the_per_axis_widgets():
    query = {
        "k": "3,5",
        "s": "2,1",
        "p": "1,2",
        "op": "1,0",
        "d": "1,1",
        "n": "7,9",
        "cin": "8",
        "cout": "4",
        "g": "2",
        "bias": "0",
    }
    at = open_page("designer", query)
    assert_clean(at)
    assert at.toggle(key="layer_per_axis").value
    assert at.number_input(key="layer_kernel_size_h").value == 3
    assert at.number_input(key="layer_kernel_size_w").value == 5
    assert at.number_input(key="layer_input_size_w").value == 9
    assert at.number_input(key="layer_groups").value == 2
    for key, value in query.items():
        assert at.query_params[key] == value


def test_out_of_range_link_shows_a_warning_not_an_exception():
    at = open_page("designer", {"k": "1000", "cin": "-3"})
    assert_clean(at)
    warning = " ".join(w.value for w in at.warning)
    assert "k=1000" in warning and "cin=-3" in warning
    assert at.number_input(key="layer_kernel_size").value == FIELDS["kernel_size"].maximum
    assert at.query_params["k"] == str(FIELDS["kernel_size"].maximum)


def test_the_layer_is_shared_by_all_pages_and_survives_pages_without_widgets():
    at = open_page("designer")
    at.number_input(key="layer_kernel_size").set_value(6).run()
    for page, has_widgets in (
        ("overlap", True),
        ("converter", False),
        ("solver", False),
        ("generator", True),
        ("designer", True),
    ):
        at.switch_page(f"pages/{page}.py").run()
        assert_clean(at)
        if has_widgets:
            assert at.number_input(key="layer_kernel_size").value == 6
        if page != "converter":
            assert at.query_params["k"] == "6"
        else:
            assert "k" not in at.query_params  # the converter does not use the layer


def test_reset_clears_layer_and_page_state():
    at = open_page("overlap", {"k": "5", "ov_anim_n": "2", "ov_methods": "subpixel"})
    at.sidebar.button[0].click().run()
    assert_clean(at)
    assert LayerConfig.from_query(at.query_params)[0] == LayerConfig()
    assert at.query_params["ov_methods"] == "subpixel,resize-nearest"
    assert at.query_params["ov_anim_n"] != "2"


LIGHT_PAGES = ["designer", "overlap", "solver", "presets", "converter"]


def test_light_pages_do_not_import_torch():
    """Run each page in turn in a fresh interpreter; after each, look at sys.modules."""
    script = (
        "import sys\n"
        f"sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(ROOT / 'app.py')!r}, default_timeout=60).run()\n"
        f"for page in {LIGHT_PAGES!r}:\n"
        "    at.switch_page(f'pages/{page}.py').run()\n"
        "    assert not at.exception, [e.value for e in at.exception]\n"
        "    assert len(at.title) == 1 and not at.error\n"
        "    print(page, 'torch' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == [w for page in LIGHT_PAGES for w in (page, "False")]


def test_streamlit_config_for_the_hosted_demo():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["browser"]["gatherUsageStats"] is False
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["maxUploadSize"] <= 10  # MB: uploads are small target images
    assert "base" not in config.get("theme", {})  # follow the viewer's light or dark setting
    assert config["theme"]["light"]["primaryColor"] and config["theme"]["dark"]["primaryColor"]


# ----------------------------------------------------------------------------- links and limits

# Python's own exception texts (a KeyError's is the bare key, quoted).
PYTHON_TEXT = ("invalid literal", "base 10", "Traceback", "KeyError", "could not convert", ": 'x'")


def test_op_9_opens_a_valid_layer_with_a_notice_in_words():
    at = open_page("designer", {"op": "9"})
    assert_clean(at)
    assert not at.error  # the page opens on a layer torch accepts
    warning = " ".join(w.value for w in at.warning)
    assert "`op=9` from the link does not fit this layer" in warning
    assert at.number_input(key="layer_output_padding").value == 1


@pytest.mark.parametrize(
    ("page", "key"),
    [
        ("overlap", "ov_stack"),
        ("overlap", "ov_anim_n"),
        ("overlap", "ov_stages"),
        ("overlap", "ov_methods"),
        ("generator", "gen_ch"),
        ("generator", "gen_stages"),
        ("solver", "sv_layers"),
        ("solver", "sv_from"),
        ("designer", "ds_want"),
    ],
)
@pytest.mark.parametrize("value", ["x", "99999", "4.2.1.0.1_99.2.1.0.1", "-1"])
def test_link_values_get_notices_in_plain_words(page, key, value):
    at = open_page(page, {key: value})
    assert_clean(at)
    notices = " ".join(w.value for w in at.warning)
    for text in PYTHON_TEXT:
        assert text not in notices, notices
    if f"`{key}=" in notices:
        assert "from the link" in notices


def test_a_stack_link_above_the_limit_names_it():
    too_many = "_".join(["4.2.1.0.1"] * caps.MAX_STACK_LAYERS)
    at = open_page("overlap", {"ov_stack": too_many, "ov_anim_n": "99", "ov_stages": "x"})
    assert_clean(at)
    notices = " ".join(w.value for w in at.warning).replace("\\", "")
    assert f"{caps.MAX_STACK_LAYERS + 1} layers are above the limit" in notices
    assert "DECONV_LAB_LIMITS=local" in notices
    assert "`ov_stages=x` from the link: use 1 (on) or 0 (off)" in notices
    assert "at most 8, got 99" in notices


def test_the_overlap_stack_refuses_a_typed_value_above_the_limit():
    at = open_page("overlap")
    at.number_input(key="ov_l0_k").set_value(99).run()
    assert_clean(at)
    messages = [e.value.replace("\\", "") for e in at.error]
    assert any(m.startswith("kernel_size 99 is above the limit") for m in messages), messages
    assert at.query_params["ov_stack"] != ""  # the last accepted stack stays in the link


LIMITS_SCRIPT = """
import sys
sys.path[:0] = [{root!r}, {tests!r}]
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({app!r}, default_timeout=60)
at.query_params.update({{"n": "1000", "k": "40"}})
at.run()
assert not at.exception, [e.value for e in at.exception]
print("ERRORS", [e.value for e in at.error])
print("WARNINGS", [w.value for w in at.warning])
print("METRICS", [m.value for m in at.metric])
at.number_input(key="layer_input_size").set_value(100000).run()
print("TYPED", [e.value for e in at.error])
"""


def run_with_limits(setting: str | None) -> str:
    script = LIMITS_SCRIPT.format(
        root=str(ROOT), tests=str(ROOT / "tests"), app=str(ROOT / "app.py")
    )
    return run_under_limits(script, setting).replace("\\\\", "")


def test_local_limits_are_one_setting_away_and_messages_say_which_limits_apply():
    default = run_with_limits(None)
    assert "the default limit (the hosted demo's)" in default
    assert "DECONV_LAB_LIMITS=local streamlit run app.py" in default
    assert "METRICS []" not in default  # clamped link: the page shows the clamped layer
    hosted = run_with_limits("hosted")
    assert "the hosted demo's limit for" in hosted and "default limit" not in hosted
    local = run_with_limits("local")
    assert "WARNINGS []" in local  # n=1000 and k=40 are within the local limits
    assert "1000 × 1000 px" in local  # the layer really runs on 1000 px
    assert "the local limit for the input size" in local and "hosted demo" not in local
    bogus = run_with_limits("lcoal")
    assert "is not a setting Deconv Lab knows" in bogus


def test_limits_mode_reads_one_setting():
    assert limits_mode({}).name == "default"
    assert limits_mode({ENV_VAR: "local"}).local
    assert limits_mode({ENV_VAR: " Hosted "}).name == "hosted"
    odd = limits_mode({ENV_VAR: "lots"})
    assert odd.name == "default" and "lots" in odd.problem
    for key, lim in caps.LIMITS.items():
        assert lim.local >= lim.hosted, key
        assert "hosted demo's limit" in lim.explain(limits_mode({ENV_VAR: "hosted"}))
        assert "hosted demo" not in lim.explain(limits_mode({ENV_VAR: "local"}))


def test_a_channel_count_the_generator_does_not_offer_is_named_not_swapped_in_silence():
    """gen_ch=17 used to pass the range check and then fall back to 8 in the select box."""
    at = open_page("generator", {"gen_ch": "17"})
    assert_clean(at)
    notices = " ".join(w.value for w in at.warning)
    assert "ignored `gen_ch=17` from the link: use one of 8, 16, 32, 64, 128, 256" in notices
    assert at.selectbox(key="gen_ch").value == 64  # the default, said so


# ----------------------------------------------------------------------------- number boxes


def unbounded_boxes(at) -> list:
    """The number boxes without bounds of their own (`ui.inputs.int_input` and the sidebar's)."""
    return [box for box in at.number_input if box.key and not box.proto.has_min]


@pytest.mark.parametrize("page", ["designer", "overlap", "generator", "solver"])
def test_every_unbounded_number_box_has_its_own_value_as_its_default(page):
    """A browser that falls back to a box's default sends back the value the box holds, never
    Streamlit's 0 (`ui.state.box_default`): checked on opening and after a change."""
    at = open_page(page, {"gen_mode": "fit"} if page == "generator" else None)
    boxes = unbounded_boxes(at)
    assert len(boxes) >= 5, [box.key for box in boxes]
    for box in boxes:
        assert box.proto.default == box.value, box.key
    key, value = boxes[0].key, boxes[0].value + 1
    at.number_input(key=key).set_value(value).run()
    changed = {box.key: box for box in unbounded_boxes(at)}
    assert changed[key].value == value and changed[key].proto.default == value
    for box in changed.values():
        assert box.proto.default == box.value, box.key
