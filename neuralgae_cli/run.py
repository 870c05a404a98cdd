"""`nd run SPEC`: run a pipeline spec; `nd specs`: list the built-in specs."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.host.plugins import PluginError, default_host
from neuralgae_cli.common import (
    DeviceOption,
    PrecisionOption,
    err_console,
    network_overrides,
    progress_bar,
    use_device,
    user_errors,
)


def _resume_command(spec: str, sets: list[str], frames: int | None, out: Path | None) -> str:
    words = ["nd", "run", spec]
    for item in sets:
        words += ["--set", item]
    if frames is not None:
        words += ["--frames", str(frames)]
    if out is not None:
        words += ["--out", str(out)]
    return shlex.join([*words, "--resume"])


def _reinstall_hint(host, spec: str, out: Path | None) -> str:
    """What an earlier run in ``out`` (or the folder of the spec file, as after ``nd run OUT/spec.toml``) used that is missing now."""
    from neuralgae.core.runs.runfolder import read_manifest

    folders = [out] if out is not None else []
    if Path(spec).is_file():
        folders.append(Path(spec).parent)
    for folder in folders:
        try:
            hint = host.reinstall_hint(read_manifest(Path(folder)))
        except (OSError, ValueError):
            continue
        if hint:
            return hint
    return ""


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_command(
        spec: str = typer.Argument(..., help="A spec file (TOML) or the name of a built-in spec (`nd specs` lists them)."),
        set_: list[str] = typer.Option(
            [], "--set", "-s", metavar="KEY.PATH=VALUE",
            help="Override a spec value, e.g. --set renderer.steps=5 --set transforms.0.scale=0.02 (repeatable; values are TOML, bare words are strings).",
        ),
        frames: int | None = typer.Option(None, "--frames", "-n", min=1, help="Number of frames (overrides the spec)."),
        out: Path | None = typer.Option(None, "--out", "-o", help="Output folder (overrides output.dir)."),
        resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run of the same spec in its output folder."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace the run already in the output folder."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
        network: str | None = typer.Option(None, "--network", help="Use this network instead of the spec's (as --set network=NAME)."),
        weights: Path | None = typer.Option(None, "--weights", help="Weights file for the network (as --set network.weights=FILE; relative to the current folder); never downloaded."),
        device: DeviceOption = None,
        precision: PrecisionOption = None,
    ) -> None:
        """Run a pipeline spec: render its frames, then its GIF/MP4.

        Every frame is a zero-padded PNG carrying the recipe that made it; the
        output folder also holds manifest.jsonl and the resolved spec.toml.
        An interrupted run continues with --resume and gives the same frames.
        """
        from neuralgae.core.runs.pipeline import run_spec
        from neuralgae.core.runs.spec import load_spec

        with user_errors():
            host = use_device(device, precision, default_host())
            set_ = [*set_, *network_overrides(network, weights)]
            try:
                loaded = load_spec(spec, host=host, overrides=set_, frames=frames, out=out)
            except NeuralgaeError as exc:
                missing = "unknown " in str(exc) or "is not installed" in str(exc)  # a component or the network
                hint = _reinstall_hint(host, spec, out) if missing else ""
                if not hint:
                    raise
                raise NeuralgaeError(f"{exc}{hint}") from None
            try:
                with progress_bar(loaded.name, enabled=not quiet) as bar:
                    run = run_spec(loaded, host=host, resume=resume, overwrite=overwrite, progress=bar)
            except KeyboardInterrupt:
                err_console.print(
                    f"nd: interrupted; continue with: {_resume_command(spec, set_, frames, out)}",
                    highlight=False, soft_wrap=True,
                )
                raise typer.Exit(130) from None
            except PluginError as exc:  # inside a plugin, mid-run: the frames so far are kept
                raise PluginError(
                    f"{exc}; fix or remove the plugin, then continue with: {_resume_command(spec, set_, frames, out)}"
                ) from None
            rendered = len(run.records)
            what = f"{rendered} frame{'s' if rendered != 1 else ''}"
            if run.resumed:
                what += f" (resumed after {run.start})"
            typer.echo(f"wrote {what} to {run.dir}")
            for path in run.outputs:
                typer.echo(f"wrote {path}")

    @app.command("specs")
    def specs_command() -> None:
        """List the built-in pipeline specs (`nd run NAME` runs one)."""
        with user_errors():
            specs = default_host().specs
            if not specs:
                typer.echo("no specs installed")
                return
            width = max(len(n) for n in specs)
            for name, entry in specs.items():
                source = "" if entry.source == "built-in" else f"  [{entry.source}]"
                typer.echo(f"{name:<{width}}  {entry.description}{source}")
