"""AppTest: the model converter shows core's conversion, its code runs, bad pastes are refused."""

from __future__ import annotations

import pytest
import torch
from app_support import (
    another_session_holds_the_slot,
    assert_clean,
    errors,
    open_page,
    run_snippet,
    titles,
)

from core.converter.examples import EXAMPLES
from core.converter.text_conversion import convert_text
from core.replacements.registry import METHODS
from ui import heavy, state


def shape_text(shape) -> str:
    return "—" if shape is None else "(" + ", ".join(map(str, shape)) + ")"


def layer_table(at):
    """The page's first table (a static table; a scrolling one for long models)."""
    return (at.main.table or at.main.dataframe)[0].value


def no_table(at) -> bool:
    return not at.main.table and not at.main.dataframe


def assert_table_is(at, expected) -> None:
    table = layer_table(at)
    assert list(table["layer"]) == [row.path for row in expected.rows]
    assert list(table["after"]) == [row.after for row in expected.rows]
    assert list(table["output before"]) == [shape_text(r.out_shape_before) for r in expected.rows]
    assert list(table["output after"]) == [shape_text(r.out_shape_after) for r in expected.rows]
    assert list(table["status"]) == [row.status for row in expected.rows]


@pytest.mark.parametrize("key", list(EXAMPLES))
def test_examples_match_core_and_the_code_runs(key):
    at = open_page("converter", {"cv_ex": key})
    assert_clean(at)
    assert titles(at) == ["Model converter"]
    example = EXAMPLES[key]
    expected = convert_text(example.text, example.input_shape, "resize-nearest")
    assert_table_is(at, expected)
    code = at.main.code[-1].value
    assert code == expected.code.strip()
    model = run_snippet(code)["model"]
    if expected.trace.clean:  # a U-Net decoder's skips are not in print(model): cannot run
        with torch.no_grad():
            out = model(torch.zeros(example.input_shape))
        assert tuple(out.shape) == expected.output_shape


def test_method_and_shape_change_the_conversion():
    at = open_page("converter")
    at.selectbox(key="cv_method").select("subpixel")
    at.text_input(key="cv_shape").input("2, 256, 5, 5")
    at.run()
    assert_clean(at)
    expected = convert_text(EXAMPLES["article"].text, (2, 256, 5, 5), "subpixel")
    assert_table_is(at, expected)
    model = run_snippet(at.main.code[-1].value)["model"]
    with torch.no_grad():
        assert tuple(model(torch.zeros(2, 256, 5, 5)).shape) == expected.output_shape
    assert at.query_params["cv_method"] == "subpixel"
    assert at.query_params["cv_shape"] == "2, 256, 5, 5"


def test_example_picker_loads_text_and_shape():
    at = open_page("converter")
    at.selectbox(key="cv_ex").select("dcgan").run()
    assert at.text_area(key="cv_text").value == EXAMPLES["dcgan"].text
    assert at.text_input(key="cv_shape").value == "1, 100, 1, 1"
    assert "cv_text" not in at.query_params  # the example's name is enough for the link


@pytest.mark.parametrize(
    ("text", "parameter"),
    [
        ("Generator(\n  (main): Sequential(\n    (0): ConvTranspose2d(100, 512, kernel", "text"),
        ("nn.ConvTranspose2d(99999999999999999999999, 3, 4)", "text"),
        ("(" * 5000, "text"),
        ("\x00\x01garbage" * 1000, "text"),
    ],
)
def test_hostile_or_broken_pastes_get_an_error(text, parameter):
    at = open_page("converter")
    at.text_area(key="cv_text").input(text).run()
    assert_clean(at)
    messages = errors(at)
    assert len(messages) == 1 and messages[0].startswith(f"**{parameter}**")
    assert no_table(at)


def test_bad_input_shape_names_it():
    at = open_page("converter")
    at.text_input(key="cv_shape").input("1, x, 8").run()
    assert_clean(at)
    assert [m.split(" — ")[0] for m in errors(at)] == ["**input_shape**"]


def test_url_round_trip_with_pasted_text():
    text = "nn.ConvTranspose2d(16, 8, 3, 2, 1, 1)\nnn.ReLU()\nnn.ConvTranspose2d(8, 3, 4, 2, 1)"
    at = open_page("converter")
    at.text_area(key="cv_text").input(text)
    at.text_input(key="cv_shape").input("1, 16, 6, 6")
    at.selectbox(key="cv_method").select(METHODS[1])
    at.run()
    assert state.unpack_text(at.query_params["cv_text"], 20_000) == text  # packed, not plain
    assert at.query_params["cv_ex"] == "custom"
    again = open_page("converter", at.query_params)
    assert_clean(again)
    assert again.text_area(key="cv_text").value == text
    assert again.query_params == at.query_params
    assert_table_is(again, convert_text(text, (1, 16, 6, 6), METHODS[1]))


LAX_INTEGERS = ("１２", "1_0", "+3", "\u0663")  # int() takes all four; the converter takes none


@pytest.mark.parametrize("raw", [f"1, {v}, 8, 8" for v in LAX_INTEGERS] + ["1_000, 4", "1, 2.0, 8"])
def test_input_shape_takes_ascii_digits_only(raw):
    at = open_page("converter")
    at.text_input(key="cv_shape").input(raw).run()
    assert_clean(at)
    (message,) = errors(at)
    assert message.startswith("**input_shape**") and "written with the digits 0\\-9" in message
    assert "invalid literal" not in message
    assert no_table(at)


def test_a_short_link_with_thousands_of_layers_is_refused_quickly():
    """60 characters of `(0-9998): 9999 x Layer(...)` used to render a 9,999-row table and
    3.4 MB of code; the page converts at most caps.MAX_CONVERTER_LAYERS layers."""
    from ui import caps

    text = "G(\n (0-9998): 9999 x ConvTranspose2d(4, 4, 3, 1, 1)\n)"
    at = open_page("converter", {"cv_text": text, "cv_shape": "1, 4, 8, 8"})
    assert_clean(at)
    assert at.text_area(key="cv_text").value == text
    (message,) = errors(at)
    assert message.startswith("**text**") and "9,999 layers" in message
    assert f"at most {caps.MAX_CONVERTER_LAYERS}" in message
    assert no_table(at)
    assert all("ConvTranspose2d" not in block.value for block in at.main.code)


def test_spectral_norm_generator_and_flat_latent_match_core():
    from torch import nn
    from torch.nn.utils import parametrizations

    generator = nn.Sequential(
        parametrizations.spectral_norm(nn.ConvTranspose2d(100, 32, 4, 1, 0)),
        nn.ReLU(),
        parametrizations.spectral_norm(nn.ConvTranspose2d(32, 3, 4, 2, 1)),
        nn.Tanh(),
    )
    text = str(generator)
    at = open_page("converter")
    at.text_area(key="cv_text").input(text)
    at.text_input(key="cv_shape").input("2, 100")
    at.selectbox(key="cv_method").select("subpixel")
    at.run()
    assert_clean(at)
    assert not errors(at)
    expected = convert_text(text, (2, 100), "subpixel")
    assert_table_is(at, expected)
    assert expected.replaced == 2 and expected.trace.assumed_output_shape == (2, 3, 8, 8)
    assert expected.output_shape is None  # the flat latent is viewed: an assumption
    model = run_snippet(at.main.code[-1].value)["model"]
    with torch.no_grad():
        assert tuple(model(torch.zeros(2, 100, 1, 1)).shape) == (2, 3, 8, 8)


def test_an_unknown_layer_that_stops_the_trace_is_a_warning_not_an_input_error():
    text = (
        "nn.ConvTranspose2d(8, 8, 4, 2, 1)\nnn.Fold(output_size=(4, 4), kernel_size=2)\nnn.ReLU()"
    )
    at = open_page("converter")
    at.text_area(key="cv_text").input(text)
    at.text_input(key="cv_shape").input("1, 8, 4, 4")
    at.run()
    assert_clean(at)
    assert not errors(at)
    assert any("Fold" in w.value and "The trace stops at 1" in w.value for w in at.warning)
    assert_table_is(at, convert_text(text, (1, 8, 4, 4), "resize-nearest"))


def test_layers_that_need_a_look_are_named_above_the_table():
    text = "nn.ConvTranspose2d(64, 32, 3, 2, 1, 1)\nMyBlock(foo)\nOtherBlock()\nnn.ReLU()"
    at = open_page("converter", {"cv_text": text, "cv_shape": "1, 64, 16, 16"})
    assert_clean(at)
    warning = [w.value for w in at.warning if "need a look" in w.value]
    assert warning == [
        "2 layers need a look: 1 (unknown), 2 (unknown). Their notes in the table say why."
    ]
    table = layer_table(at)
    assert list(table.columns[:3]) == ["layer", "type", "status"]
    assert at.selectbox(key="cv_ex").value == "custom"  # never a stale example's name


def _long_model_text(chars: int) -> str:
    """A real-looking printout of about `chars` characters: a long plain chain."""
    lines = ["Sequential("]
    i = 0
    while sum(len(line) + 1 for line in lines) < chars - 40:
        lines.append(
            f"  ({i}): ConvTranspose2d(8, 8, kernel_size=(3, 3), stride=(1, 1), padding=1)"
        )
        i += 1
    lines.append(")")
    return "\n".join(lines)


def test_a_20000_character_paste_round_trips_through_the_link():
    from ui import caps

    text = _long_model_text(caps.MAX_MODEL_TEXT)[: caps.MAX_MODEL_TEXT]
    text = text[: text.rfind("\n")] + "\n)"
    assert caps.MAX_MODEL_TEXT - 100 < len(text) <= caps.MAX_MODEL_TEXT
    at = open_page("converter", {"cv_shape": "1, 8, 4, 4"})
    at.text_area(key="cv_text").input(text).run()
    assert_clean(at)
    link = dict(at.query_params)
    assert "cv_omitted" not in link and len(link["cv_text"]) < len(text)
    again = open_page("converter", link)
    assert_clean(again)
    assert again.text_area(key="cv_text").value == text  # the same model, not the example
    assert again.selectbox(key="cv_ex").value == "custom"
    assert_table_is(again, convert_text(text, (1, 8, 4, 4), "resize-nearest"))


def test_a_text_that_cannot_fit_in_a_link_is_said_to_be_missing_not_replaced():
    import random

    rng = random.Random(0)  # incompressible: random CJK characters in a comment
    comment = "# " + "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(19_000))
    text = comment + "\nnn.ConvTranspose2d(8, 4, 4, 2, 1)"
    at = open_page("converter")
    at.text_area(key="cv_text").input(text).run()
    assert_clean(at)
    link = dict(at.query_params)
    assert "cv_text" not in link and link["cv_omitted"] == str(len(text))
    again = open_page("converter", link)
    assert_clean(again)
    assert again.text_area(key="cv_text").value == ""  # no other model in silence
    assert any("too long to travel in a link" in w.value for w in again.warning)


@pytest.mark.parametrize("raw", ["z1.!!!", "z1." + "A" * 40, "z1.eJzLSM3JyVcozy/KSQEAGgQEXQ=="])
def test_a_damaged_packed_link_is_a_notice(raw):
    at = open_page("converter", {"cv_text": raw, "cv_ex": "custom"})
    assert_clean(at)
    assert any("cv_text" in w.value for w in at.warning)


def test_editing_the_text_names_it_yours_and_the_shape_follows_its_first_layer():
    at = open_page("converter")
    assert at.selectbox(key="cv_ex").value == "article"
    at.text_area(key="cv_text").input("nn.ConvTranspose2d(100, 64, 4, 1, 0)\nnn.ReLU()").run()
    assert_clean(at)
    assert at.selectbox(key="cv_ex").value == "custom"
    assert at.text_input(key="cv_shape").value == "1, 100, 1, 1"
    assert any("Suggested" in c.value and "latent" in c.value for c in at.caption)
    at.text_input(key="cv_shape").input("4, 100, 1, 1").run()  # typed: kept from now on
    at.text_area(key="cv_text").input("nn.Linear(32, 64)").run()
    assert at.text_input(key="cv_shape").value == "4, 100, 1, 1"
    assert not any("Suggested" in c.value for c in at.caption)


def test_a_skip_stops_the_trace_and_one_click_continues_it():
    at = open_page("converter", {"cv_ex": "unet"})
    assert_clean(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Output shape"] == "not known"
    warning = next(w.value for w in at.warning if "The trace stops at" in w.value)
    assert "concatenation" in warning and "convert\\_model" in warning
    at.button(key="cv_continue").click().run()
    assert_clean(at)
    assert at.text_area(key="cv_known").value == "ups.0.conv.block.0 = 1, 256, 16, 16"
    table = layer_table(at)
    row = table[table["layer"] == "ups.0.conv.block.0"].iloc[0]
    assert row["status"] == "assumed" and row["output before"] == "(1, 128, 16, 16)"


def test_bad_known_shapes_name_the_parameter():
    at = open_page("converter", {"cv_ex": "unet", "cv_known": "nowhere = 1, 2"})
    assert_clean(at)
    (message,) = errors(at)
    assert message.startswith("**shapes\\_at**") or message.startswith("**shapes_at**")


def test_known_shapes_take_ascii_digits_only():
    at = open_page("converter", {"cv_ex": "unet"})
    for value in LAX_INTEGERS:
        at.text_area(key="cv_known").input(f"ups.0.conv.block.0 = 1, {value}, 16, 16").run()
        assert_clean(at)
        (message,) = errors(at)
        assert message.startswith(("**shapes\\_at**", "**shapes_at**")), message
        assert "written with the digits 0\\-9" in message and "invalid literal" not in message


@pytest.mark.parametrize("method", ["subpixel", "resize-nearest"])
def test_check_with_torch_measures_the_conversion(method):
    at = open_page("converter", {"cv_method": method})
    at.button(key="cv_run").click().run()
    assert_clean(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["torch: output before"] == metrics["torch: output after"] == "(1, 3, 64, 64)"
    (success,) = [s.value for s in at.success]
    assert "every traced shape equals torch's" in success
    assert ("exact" in success) == (method == "subpixel")


def test_a_check_waits_its_turn_in_the_heavy_queue_showing_its_place(monkeypatch):
    """While another session's run holds the heavy-run slot, Check with torch lines up (it is
    not refused after a few seconds) and says where it is in the queue; it runs once the slot
    is free."""
    shown = []

    def waiting_text(what: str, ahead: int, waited: float) -> str:
        shown.append((what, ahead))
        return f"waiting: {what}, {ahead} ahead"

    monkeypatch.setattr(heavy, "waiting_text", waiting_text)
    at = open_page("converter", {"cv_method": "subpixel"})
    with another_session_holds_the_slot(release_after=1.0):
        at.button(key="cv_run").click().run()
    assert_clean(at)
    assert ("check", 1) in shown
    assert not errors(at)
    assert "every traced shape equals torch's" in at.success[0].value


def test_check_with_torch_is_refused_for_custom_modules_with_the_reason():
    at = open_page("converter", {"cv_ex": "dcgan"})
    assert_clean(at)
    assert "cv_run" not in [b.key for b in at.button]
    assert any(
        "Not available" in c.value and "is not in the printout" in c.value for c in at.caption
    )


# ----------------------------------------------------------------------------- source file mode


def test_the_source_mode_rewrites_the_example_file_as_core_does():
    from core.converter.examples import SOURCE_EXAMPLE as EXAMPLE
    from core.converter.source_conversion import convert_source

    at = open_page("converter", {"cv_mode": "source", "cv_method": "resize-nearest"})
    assert_clean(at)
    expected = convert_source(EXAMPLE, "resize-nearest")
    table = layer_table(at)
    assert list(table["line"]) == [call.line for call in expected.calls]
    assert list(table["becomes"]) == [call.replacement for call in expected.calls]
    (diff,) = [c.value for c in at.main.code if c.language == "diff"]
    assert diff == expected.diff.strip("\n")
    assert {m.label: m.value for m in at.metric}["Rewritten"] == str(expected.converted)


def test_the_source_mode_gives_the_weight_snippet_for_exact_methods():
    from core.converter.examples import SOURCE_EXAMPLE as EXAMPLE
    from core.converter.source_conversion import convert_source

    at = open_page("converter", {"cv_mode": "source", "cv_method": "subpixel"})
    assert_clean(at)
    snippet = convert_source(EXAMPLE, "subpixel").weight_code
    assert any(c.value == snippet.strip("\n") for c in at.main.code)


def test_a_pasted_file_that_does_not_parse_names_its_line():
    at = open_page("converter", {"cv_mode": "source"})
    at.text_area(key="cv_src").input("import torch\ndef f(:\n    pass\n").run()
    assert_clean(at)
    (message,) = errors(at)
    assert message.startswith("**source**") and "line 2, column 7" in message
    assert no_table(at)


def test_switching_modes_keeps_the_method_and_the_link_says_the_mode():
    at = open_page("converter")
    at.selectbox(key="cv_method").select("zero-insertion").run()
    at.segmented_control(key="cv_mode").set_value("source").run()
    assert_clean(at)
    assert at.selectbox(key="cv_method").value == "zero-insertion"
    assert at.query_params["cv_mode"] == "source"
    assert "cv_src" not in at.query_params  # the example file: its absence is enough


MY_SOURCE = """\
import torch.nn as nn


class Mine(nn.Module):
    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(8, 4, 4, 2, 1)  # my own model, not the example
"""


def test_a_pasted_source_file_round_trips_through_the_link():
    from core.converter.source_conversion import convert_source

    at = open_page("converter", {"cv_mode": "source", "cv_method": "subpixel"})
    at.text_area(key="cv_src").input(MY_SOURCE).run()
    assert_clean(at)
    link = dict(at.query_params)
    assert state.unpack_text(link["cv_src"], 200_000) == MY_SOURCE  # packed, not plain
    assert "cv_src_omitted" not in link and link["cv_mode"] == "source"
    again = open_page("converter", link)  # a fresh session: the receiver
    assert_clean(again)
    assert again.text_area(key="cv_src").value == MY_SOURCE  # the sender's file, not the example
    (diff,) = [c.value for c in again.main.code if c.language == "diff"]
    assert diff == convert_source(MY_SOURCE, "subpixel").diff.strip("\n")
    assert dict(again.query_params) == link


def test_a_source_file_too_long_for_a_link_is_said_to_be_missing_not_replaced():
    import random

    rng = random.Random(0)  # incompressible: random CJK characters in a comment
    comment = "# " + "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(19_000))
    source = comment + "\n" + MY_SOURCE
    at = open_page("converter", {"cv_mode": "source"})
    at.text_area(key="cv_src").input(source).run()
    assert_clean(at)
    link = dict(at.query_params)
    assert "cv_src" not in link and link["cv_src_omitted"] == str(len(source))
    assert any("does not fit in a link" in c.value for c in at.caption)
    again = open_page("converter", link)
    assert_clean(again)
    assert again.text_area(key="cv_src").value == ""  # no other model in silence
    assert any("too long to travel in a link" in w.value for w in again.warning)


def test_a_damaged_source_link_is_a_notice():
    at = open_page("converter", {"cv_mode": "source", "cv_src": "z1.!!!"})
    assert_clean(at)
    assert any("cv_src" in w.value and "damaged" in w.value for w in at.warning)


def test_the_check_shows_a_progress_bar_from_the_start_moved_per_layer(monkeypatch):
    """The bar is drawn before the first layer is converted (a slow first layer no longer looks
    stuck), moves once per ConvTranspose2d as convert_model reports it, and goes at the end."""
    from ui import heavy

    drawn: list[tuple] = []

    class Recording(heavy.LayerProgress):
        def __init__(self, placeholder, what="Converting"):
            class Spy:  # the page's placeholder, every draw noted
                def progress(self, value, text):
                    drawn.append((value, text))
                    placeholder.progress(value, text=text)

                def empty(self):
                    drawn.append(("empty",))
                    placeholder.empty()

            super().__init__(Spy(), what)

    monkeypatch.setattr(heavy, "LayerProgress", Recording)
    at = open_page("converter", {"cv_method": "subpixel"})
    assert drawn == []  # no check yet, no bar
    at.button(key="cv_run").click().run()
    assert_clean(at)
    layers = EXAMPLES["article"].text.count("ConvTranspose2d(")
    assert layers >= 2
    assert drawn[0] == (0.0, "Converting: building the model…")  # before the first layer
    steps = drawn[1:-1]
    assert [value for value, _ in steps] == [done / layers for done in range(1, layers + 1)]
    for i, (_, text) in enumerate(steps, 1):
        assert text.startswith(f"Converting {i}/{layers}: ")
    assert drawn[-1] == ("empty",)
    assert not at.get("progress")  # gone once the check is done


def test_layer_progress_hears_convert_model_once_per_layer():
    from torch import nn

    from core.converter.live import convert_model
    from ui.heavy import LayerProgress

    class Placeholder:
        def __init__(self):
            self.values: list[float] = []
            self.emptied = False

        def progress(self, value, text):
            self.values.append(value)

        def empty(self):
            self.emptied = True

    model = nn.Sequential(
        nn.ConvTranspose2d(4, 4, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(4, 2, 3, 1, 1)
    )
    placeholder = Placeholder()
    progress = LayerProgress(placeholder)
    assert placeholder.values == [0.0]  # drawn before any layer
    convert_model(model, "subpixel", progress=progress)
    assert progress.updates == [(1, 2, "0"), (2, 2, "2")]
    assert placeholder.values == [0.0, 0.5, 1.0]
    progress.close()
    assert placeholder.emptied
