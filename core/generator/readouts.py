"""How the generator's numbers read on the page: the short texts of its metrics, chosen from the
numbers here so that the page does no arithmetic of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.generator.measures import CheckerboardNumbers

if TYPE_CHECKING:  # for the annotation only: readouts stays light
    from core.generator.flat import FlatPanel


def share_text(share: float) -> str:
    """A share as a percentage, with a third decimal below 0.1 %.

    Args:
        share: a fraction, 0..1.

    Returns:
        e.g. "12.34%", "0.042%".
    """
    return f"{share:.2%}" if share >= 0.001 else f"{share:.3%}"


def ratio_text(ratio: float) -> str:
    """A ratio with one decimal below 10, none (thousands separated) from 10 up.

    Args:
        ratio: a non-negative ratio.

    Returns:
        e.g. "0.4", "1,234".
    """
    return f"{ratio:,.0f}" if ratio >= 10 else f"{ratio:.1f}"


def strength_text(numbers: CheckerboardNumbers) -> str:
    """A variant's checkerboard strength, three decimals, or "n/a" where it could not be probed.

    Args:
        numbers: the variant's checkerboard numbers.

    Returns:
        e.g. "0.812", "n/a".
    """
    return "n/a" if numbers.strength is None else f"{numbers.strength:.3f}"


def energy_text(numbers: CheckerboardNumbers, stride: int) -> str:
    """A variant's checkerboard energy as a percentage (`share_text`); "n/a" for stride 1.

    Args:
        numbers: the variant's checkerboard numbers.
        stride: the generator's stride.

    Returns:
        e.g. "3.21%", "n/a".
    """
    return share_text(numbers.energy) if stride > 1 else "n/a"


def noise_ratio_text(numbers: CheckerboardNumbers) -> str | None:
    """A variant's checkerboard energy against white noise's, e.g. "123 × white noise".

    Args:
        numbers: the variant's checkerboard numbers.

    Returns:
        The text, or None where there is no ratio (stride 1).
    """
    ratio = numbers.energy_vs_noise
    return None if ratio is None else f"{ratio_text(ratio)} × white noise"


def zoom_text(zoom: int) -> str:
    """How a picture is enlarged, for its caption.

    Args:
        zoom: the whole enlargement factor.

    Returns:
        e.g. "actual size", "shown 8× (each pixel an 8 × 8 square)".
    """
    if zoom == 1:
        return "actual size"
    article = "an" if str(zoom)[0] == "8" or zoom in (11, 18) else "a"
    return f"shown {zoom}× (each pixel {article} {zoom} × {zoom} square)"


def crop_text(box: tuple[int, int, int, int], zoom: int) -> str:
    """Where a crop lies in its picture and how it is enlarged.

    Args:
        box: (top, left, height, width) in the picture's pixels.
        zoom: the crop's enlargement.

    Returns:
        e.g. "rows 22–41, columns 22–41: shown 8× (each pixel an 8 × 8 square)".
    """
    top, left, height, width = box
    return f"rows {top}–{top + height - 1}, columns {left}–{left + width - 1}: {zoom_text(zoom)}"


def flat_panel_text(panel: FlatPanel) -> str:
    """What one flat-input panel shows, from its numbers.

    Args:
        panel: one variant's `core.generator.flat.FlatPanel`.

    Returns:
        e.g. "flat: every interior pixel −0.41 · layer strength 0.000" or "grid: phase means
        −1.00 to 0.72 · this channel's spread 0.965 · layer strength 0.884".
    """
    strength = "n/a" if panel.strength is None else f"{panel.strength:.3f}"
    if panel.flat:
        return f"flat: every interior pixel {panel.high:.2f} · layer strength {strength}"
    means = panel.phase_means
    return (
        f"grid: phase means {means.min():.2f} to {means.max():.2f} · this channel's spread "
        f"{panel.channel_spread:.3f} · layer strength {strength}"
    )
