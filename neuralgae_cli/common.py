"""Shared pieces of the command line: one-line errors, progress bars, option parsing.

Every command module defines ``register(app)`` and wraps its work in
:func:`user_errors`, so a :class:`NeuralgaeError` ends as one line on stderr
with exit status 1, never a traceback.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from typer.core import TyperGroup

try:  # recent typer vendors its own click: its exceptions are the ones raised
    from typer._click import Context, exceptions as click_exceptions
except ImportError:  # pragma: no cover - typer on the real click
    from click import Context, exceptions as click_exceptions

from neuralgae.core.host.components import ProgressCallback
from neuralgae.core.host.errors import NeuralgaeError, spelling
from neuralgae.core.media.images import check_output_folder, image_format

err_console = Console(stderr=True)

DeviceOption = Annotated[
    Optional[str],
    typer.Option(
        "--device",
        envvar="ND_DEVICE",
        show_envvar=True,
        help="Where to run: auto (CUDA, then MPS, then the CPU), cpu, cuda, cuda:N or mps.",
    ),
]
PrecisionOption = Annotated[
    Optional[str],
    typer.Option(
        "--precision",
        envvar="ND_PRECISION",
        show_envvar=True,
        help="The network's precision: auto (the fastest that gives the same picture here), fp32, bf16 or fp16.",
    ),
]


WeightsOption = Annotated[
    Optional[Path],
    typer.Option(
        "--weights",
        help="Weights for --network: a state_dict or checkpoint file (torchvision's own .pth files work), or the "
        "file of --network torchscript. Nothing is ever downloaded (docs/networks.md).",
    ),
]


def network_options(weights: Path | None) -> dict:
    """The options ``--weights`` gives a network (none without it)."""
    return {} if weights is None else {"weights": weights}


def checked_network(host, name: str, weights: Path | None) -> dict:
    """``--network`` and ``--weights`` checked before any work (a missing file is one line); the options to build it with."""
    return host.check_network(name, network_options(weights), where="--weights")


def network_overrides(network: str | None, weights: Path | None) -> list[str]:
    """``--network`` and ``--weights`` of ``nd run`` and ``nd batch`` as spec overrides (``network=...``, ``network.weights=...``)."""
    import json

    out = []
    if network is not None:
        out.append(f"network={json.dumps(network)}")
    if weights is not None:
        out.append(f"network.weights={json.dumps(str(Path(weights).expanduser().absolute()))}")
    return out


def use_device(device: str | None, precision: str | None, host=None):
    """``host`` (default: the process's plugin host), set to run its networks on ``device`` in ``precision`` (checked now)."""
    if host is None:
        from neuralgae.core.host.plugins import default_host

        host = default_host()
    return host.use(device=device, precision=precision)


class _NoticeHandler(logging.Handler):
    """Prints the engine's notices (``neuralgae`` logger) as one line each: ``nd: note: ...``."""

    def emit(self, record: logging.LogRecord) -> None:
        err_console.print(f"[yellow]nd: note:[/] {escape(record.getMessage())}", highlight=False, soft_wrap=True)


def show_notices() -> None:
    """Route the engine's notices to stderr (once per process)."""
    log = logging.getLogger("neuralgae")
    if not any(isinstance(h, _NoticeHandler) for h in log.handlers):
        log.addHandler(_NoticeHandler())
        log.setLevel(logging.INFO)
        log.propagate = False


def fail(message: str) -> typer.Exit:
    """Print ``nd: error: message`` to stderr and return the Exit to raise."""
    err_console.print(f"[bold red]nd: error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def check_output_image(path) -> None:
    """Refuse an output image path before any work: an unknown image type, a folder, or a place that cannot be written."""
    if "\0" in str(path):
        raise NeuralgaeError("-o contains a NUL byte, which no file system allows; choose another name")
    image_format(path)
    check_output_folder(Path(path).parent, what="the folder of -o", fix="choose another place with -o")
    if path.is_dir():
        raise NeuralgaeError(f"output '{path}' is a folder; give a file name such as out.png")


def usage_line(exc: click_exceptions.UsageError) -> str:
    """A command-line mistake (unknown option, bad value, missing argument) as one line with where to look."""
    message = " ".join(exc.format_message().split()).rstrip(".")
    where = exc.ctx.command_path if exc.ctx is not None else "nd"
    return f"{message}; see `{where} --help`"


class OneLineUsageErrors(TyperGroup):
    """The ``nd`` group: a usage error of any command is one ``nd: error:`` line (exit 2), not a box of help.

    Typer draws a usage error as a panel of several lines; nd promises one line
    for every mistake, so both the group's own options and every command's
    are parsed under :func:`usage_line`.
    """

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        with _one_line_usage():
            return super().parse_args(ctx, args)

    def invoke(self, ctx: Context):
        with _one_line_usage():
            return super().invoke(ctx)


@contextlib.contextmanager
def _one_line_usage() -> Iterator[None]:
    try:
        yield
    except click_exceptions.NoArgsIsHelpError:
        raise  # `nd` alone shows the help, as it should
    except click_exceptions.UsageError as exc:
        err_console.print(f"[bold red]nd: error:[/] {escape(usage_line(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None


CLI_SPELLINGS = {
    "resume": "--resume",
    "overwrite": "--overwrite",
    "out": "--out",
    "frames": "--frames",
    "set": "--set",
    "grid": "--grid",
    "images": "--images",
    "classes": "--classes",
    "workers": "--workers",
    "threads_per_worker": "--threads-per-worker",
    "device": "--device ",
    "record": "--record",
    "size": "--size",
    "top": "--top",
    "chapter_size": "--chapter-size",
    "hooks": "`nd plugins --hooks`",
    "network_list": "`nd plugins --kind network`",
    "weights": "--weights ",
}
"""How nd's messages name the engine's options (:func:`neuralgae.core.host.errors.option`): as the flags that set them."""


@contextlib.contextmanager
def user_errors(spellings: dict[str, str] | None = None) -> Iterator[None]:
    """Turn NeuralgaeError into one line on stderr and exit 1; Ctrl-C into exit 130.

    Inside, the engine's messages name options as flags (:data:`CLI_SPELLINGS`,
    with a command's own ``spellings``, e.g. ``{"out": "-o"}``).
    """
    with spelling({**CLI_SPELLINGS, **(spellings or {})}):
        try:
            yield
        except NeuralgaeError as exc:
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            err_console.print("nd: interrupted", highlight=False)
            raise typer.Exit(130) from None


@contextlib.contextmanager
def progress_bar(description: str, *, enabled: bool = True) -> Iterator[ProgressCallback]:
    """A rich progress bar on stderr, yielded as an engine progress callback.

    The bar appears only when the work takes more than a moment and stderr is
    a terminal (or ``enabled`` forces it off).
    """
    if not enabled or not sys.stderr.isatty():
        yield lambda done, total, message="": None
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[message]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )
    task = progress.add_task(description, total=None, message="")
    start = time.monotonic()
    started = False

    def update(done: float, total: int, message: str = "") -> None:
        nonlocal started
        if not started and time.monotonic() - start > 0.5:
            progress.start()
            started = True
        progress.update(task, completed=done, total=total, message=message)

    try:
        yield update
    finally:
        if started:
            progress.stop()
