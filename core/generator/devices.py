"""Where and how the generator runs: device choice (CUDA, then MPS, then the CPU), precision,
CPU threads and determinism.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

import torch
from torch import nn

from core.errors import ConfigError
from core.generator.config import PRECISIONS, int_in, one_of
from core.generator.model import Generator


def available_devices() -> list[str]:
    """Device names this machine can run: "cpu", then "cuda:0", ..., then "mps" if present.

    Returns:
        The names, "cpu" first.
    """
    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        names.append("mps")
    return names


def pick_device(preference: str | torch.device = "auto") -> torch.device:
    """The device to run on: with "auto", CUDA if available, else Apple MPS, else the CPU.

    Args:
        preference: "auto", "cpu", "cuda", "cuda:N", "mps" (or a torch.device).

    Returns:
        The torch device.

    Raises:
        ConfigError: (parameter "device") naming what is missing and what is available.
    """
    if isinstance(preference, torch.device):
        preference = str(preference)
    if not isinstance(preference, str):
        raise ConfigError("device", f"device must be a string such as 'auto', got {preference!r}")
    name = preference.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(
            "device", f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'; got {preference!r}"
        ) from exc
    if device.type == "cpu":
        return device
    available = ", ".join(available_devices())
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                "device",
                f"CUDA was requested but no CUDA GPU is usable here (available: "
                f"{available}); choose 'auto' or 'cpu'",
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(
                "device",
                f"{name} does not exist: this machine has "
                f"{torch.cuda.device_count()} CUDA device(s) (available: {available})",
            )
        return device
    if device.type == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(
                "device",
                f"Apple MPS was requested but is not available here (available: "
                f"{available}); choose 'auto' or 'cpu'",
            )
        return device
    raise ConfigError(
        "device", f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'; got {preference!r}"
    )


def resolve_precision(device: torch.device, precision: str = "auto") -> str:
    """The autocast precision to use: "float32", "float16" or "bfloat16".

    "auto": bfloat16 on CUDA GPUs that support it (else float16), float16 on MPS, float32 on
    the CPU. float16/bfloat16 are GPU-only here (ConfigError on the CPU).

    Args:
        device: the device the run uses.
        precision: one of PRECISIONS.

    Returns:
        The precision to run in.
    """
    one_of("precision", precision, PRECISIONS)
    if device.type == "cpu":
        if precision in ("float16", "bfloat16"):
            raise ConfigError(
                "precision",
                f"{precision} autocast is offered on a GPU only; use 'float32' or 'auto' on "
                "the CPU",
            )
        return "float32"
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    check = getattr(torch.amp.autocast_mode, "is_autocast_available", None)
    return "float16" if check is not None and check(device.type) else "float32"


# torch CPU threads for a render or fit: small generators gain little from more, and on a busy
# shared CPU extra threads spin and wait (see bench/bench_generator.py).
CPU_THREADS = 1


def device_label(
    device: torch.device, precision: str = "float32", threads: int | None = None
) -> str:
    """A line for the page, e.g. "CUDA GPU: NVIDIA H100 80GB HBM3, bfloat16 autocast".

    Args:
        device: the device the run uses.
        precision: the precision it runs in.
        threads: the CPU threads a run uses (default: torch's current number).

    Returns:
        The label.
    """
    if device.type == "cuda":
        name = f"CUDA GPU: {torch.cuda.get_device_name(device)}"
    elif device.type == "mps":
        name = "Apple GPU (MPS)"
    else:
        threads = threads or torch.get_num_threads()
        name = f"CPU, {threads} torch thread{'s' if threads != 1 else ''}"
    return f"{name}, {precision} autocast" if precision != "float32" else f"{name}, float32"


def autocast_context(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """torch.autocast to `precision` on `device` (nothing to do for float32).

    Args:
        device: the device the run uses.
        precision: "float32", "float16" or "bfloat16".

    Returns:
        The context manager.
    """
    if precision == "float32":
        return contextlib.nullcontext()
    dtype = torch.float16 if precision == "float16" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype)


@contextlib.contextmanager
def cpu_thread_limit(device: torch.device, threads: int | None) -> Iterator[None]:
    """Run with `threads` torch CPU threads, then restore the previous number.

    Small generators gain little from intra-op threads, and on a shared, busy CPU extra
    threads spin and wait: one thread can be several times faster there (see bench/).
    The setting is process-wide, so take `core.hosted.heavy_run_slot` around the run.

    Args:
        device: the device the run uses (only the CPU is limited).
        threads: 1..256 torch threads, or None to keep torch's setting.
    """
    if threads is not None:
        threads = int_in("cpu_threads", threads, 1, 256)
    if threads is None or device.type != "cpu":
        yield
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


@contextlib.contextmanager
def deterministic_algorithms(device: torch.device) -> Iterator[None]:
    """Deterministic cuDNN kernels for the duration of a run (results repeat for a seed).

    Args:
        device: the device the run uses (only CUDA needs it).
    """
    if device.type != "cuda":
        yield
        return
    saved = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved


def synchronize(device: torch.device) -> None:
    """Wait for `device`'s queued work to finish (for honest timings on a GPU).

    Args:
        device: the device the run uses.
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _device_of(model: nn.Module) -> torch.device | None:
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return None


def on_device(model: Generator, device: torch.device) -> Generator:
    """`model` itself when it already lives on `device`, else a copy moved there: a shared
    (cached) model is never moved under another session's feet.

    Args:
        model: a generator, perhaps shared.
        device: the device the run uses.

    Returns:
        A generator on `device`.
    """
    current = _device_of(model)
    if current is None or _same_device(current, device):
        return model
    return copy.deepcopy(model).to(device)


def _same_device(a: torch.device, b: torch.device) -> bool:
    if a.type != b.type:
        return False
    if a.type == "cuda":
        index = torch.cuda.current_device() if torch.cuda.is_available() else 0
        return (a.index if a.index is not None else index) == (
            b.index if b.index is not None else index
        )
    return True
