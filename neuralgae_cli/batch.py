"""`nd batch SPEC`: many variations of one spec (a grid, a folder of photos, a class atlas) on Dask."""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from rich.markup import escape

from neuralgae_cli.common import DeviceOption, PrecisionOption, err_console, network_overrides, progress_bar, use_device, user_errors


def register(app: typer.Typer) -> None:
    @app.command("batch")
    def batch_command(
        spec: str = typer.Argument(..., help="A spec file (TOML) or the name of a built-in spec (`nd specs` lists them)."),
        out: Path | None = typer.Option(None, "--out", "-o", help="Batch folder: one run folder per variation, batch.json and index.html (default runs/SPEC-batch)."),
        grid: list[str] = typer.Option(
            [], "--grid", "-g", metavar="KEY.PATH=V1,V2",
            help="Values to sweep, e.g. --grid renderer.steps=10,20 (repeatable: every combination is one run).",
        ),
        images: Path | None = typer.Option(None, "--images", help="A folder of photos: one run per image (source.image)."),
        classes: str | None = typer.Option(
            None, "--classes", "-c", metavar="LIST",
            help='A class atlas: one run per class (renderer.classes): "all", "goldfish, hen, 100-115" or a file of them.',
        ),
        set_: list[str] = typer.Option([], "--set", "-s", metavar="KEY.PATH=VALUE", help="Override a spec value in every run, as for nd run (repeatable)."),
        frames: int | None = typer.Option(None, "--frames", "-n", min=1, help="Number of frames of every run (overrides the spec)."),
        workers: int | None = typer.Option(None, "--workers", "-w", min=1, help="Worker processes of the local cluster (default: one per core)."),
        threads_per_worker: int | None = typer.Option(None, "--threads-per-worker", "-t", min=1, help="Torch threads of each run (default: the cores shared out between workers)."),
        scheduler: str | None = typer.Option(None, "--scheduler", metavar="tcp://HOST:PORT", help="Run on this existing Dask cluster instead of a local one."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Render every variation again, replacing finished runs."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
        network: str | None = typer.Option(None, "--network", help="Use this network in every run instead of the spec's (as --set network=NAME)."),
        weights: Path | None = typer.Option(None, "--weights", help="Weights file for the network (as --set network.weights=FILE); never downloaded."),
        device: DeviceOption = None,
        precision: PrecisionOption = None,
    ) -> None:
        """Run many variations of a spec at once on Dask, each an `nd run` with its own folder.

        Variations come from --grid (every combination), --images and --classes
        (combined, when several are given). Running the same command again
        skips finished variations and resumes interrupted ones; a failing
        variation is reported and the others complete. The batch folder gets
        index.html, a contact sheet of every variation's last frame.
        """
        from neuralgae.core.runs.batch import (
            absolute_overrides,
            check_axes,
            class_axis,
            dask_cluster,
            gpu_workers,
            grid_axes,
            image_axis,
            load_variation,
            parse_class_selection,
            plan_variations,
            resolve_spec_argument,
            run_batch,
        )
        from neuralgae.core.host.errors import NeuralgaeError
        from neuralgae.core.runs.spec import find_spec, load_spec

        with user_errors():
            if scheduler and workers is not None:
                raise NeuralgaeError(
                    "--workers sizes the local cluster only; with --scheduler, choose the workers where you start them "
                    "(dask worker ADDRESS --nworkers N)"
                )
            host = use_device(device, precision)
            gpus = 0 if scheduler else gpu_workers(device)
            _, _, name = find_spec(spec, host)
            folder = (out or Path("runs") / f"{name}-batch").expanduser().absolute()
            sets = absolute_overrides([*set_, *network_overrides(network, weights)])
            try:  # a mistake in the shared part is one error, not one per variation
                base = load_spec(spec, host=host, overrides=sets, frames=frames, out=folder)
                shared_error = None
            except NeuralgaeError as exc:
                base, shared_error = None, exc
            if base is not None and gpus == 0:
                host.networks_of(base)  # settles the precision here (a measurement, once), not in every worker at once
            if classes is not None and base is not None and "classes" not in host.get("renderer", base.renderer.name).params:
                raise NeuralgaeError(
                    f"--classes needs a renderer that takes classes, such as draw; the spec's renderer "
                    f"'{base.renderer.name}' does not (set one with --set renderer.name=draw)"
                )
            axes = []  # folder names read class, then image, then grid values
            if classes is not None:
                axes.append(class_axis(parse_class_selection(classes)))
            if images is not None:
                axes.append(image_axis(images))
            axes += grid_axes(grid)
            variations = plan_variations(axes, out=folder)
            if shared_error is not None:  # unless the variations complete it (e.g. a grid over renderer.name)
                try:
                    load_variation(spec, variations[0], host=host, base_overrides=sets, frames=frames)
                except NeuralgaeError:
                    raise shared_error from None
            check_axes(spec, axes, host=host, out=folder, base_overrides=sets, frames=frames)
            spec_ref = resolve_spec_argument(spec, host=host)

            def start_cluster(runs: int):
                logging.getLogger("distributed").setLevel(logging.ERROR)  # nd prints its own one-line outcomes
                return dask_cluster(
                    scheduler=scheduler, workers=workers, threads_per_worker=threads_per_worker, most_workers=runs, gpus=gpus
                )

            try:
                with progress_bar(f"batch {name}", enabled=not quiet) as bar:
                    result = run_batch(
                        spec_ref, variations, folder=folder, cluster=start_cluster, base_overrides=sets,
                        frames=frames, overwrite=overwrite, host=host, progress=bar,
                    )
            except KeyboardInterrupt:
                err_console.print("nd: interrupted; run the same command again to continue", highlight=False, soft_wrap=True)
                raise typer.Exit(130) from None
            counts = ", ".join(f"{result.count(s)} {s}" for s in ("done", "skipped", "failed") if result.count(s))
            typer.echo(f"batch of {len(variations)} runs: {counts} in {result.seconds:.0f} s")
            typer.echo(f"wrote {result.index}")
            for failure in result.failures:
                err_console.print(f"[bold red]nd: failed:[/] {escape(f'{failure.name}: {failure.message}')}", highlight=False, soft_wrap=True)
            if result.failures:
                raise typer.Exit(1)
