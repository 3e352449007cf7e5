"""How the generator's numbers read on the page: the short texts of its metrics, chosen from the
numbers here so that the page does no arithmetic of its own.
"""

from __future__ import annotations

from core.generator.measures import CheckerboardNumbers


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
