"""`nd book RUN_DIR`: the illustrated book of a chain run (and its classes.txt)."""

from __future__ import annotations

from pathlib import Path

import typer

from neuralgae.core.chain.book import DEFAULT_CHAPTER_SIZE
from neuralgae.core.host.plugins import default_host
from neuralgae_cli.common import user_errors


def parse_params(items: list[str], where: str) -> dict:
    """``["words=8", "tone=\"dark\""]`` -> ``{"words": 8, "tone": "dark"}`` (TOML values, never evaluated)."""
    from neuralgae.core.host.errors import NeuralgaeError
    from neuralgae.core.runs.spec import parse_value

    values = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise NeuralgaeError(f"--param {item}: write NAME=VALUE, e.g. --param words=8 (the parameters of {where}: `nd plugins`)")
        values[key.strip()] = parse_value(raw.strip())
    return values


def make_book(
    run_dir: Path, *, text: str, seed: int, out: Path | None, chapter_size: int, title: str,
    params: dict | None = None, host=None,
) -> Path:
    """Write classes.txt into the run and the book into ``out`` (default RUN_DIR/book); return index.html."""
    import numpy as np

    from neuralgae.core.chain.book import book_frames, build_book, write_classes_txt
    from neuralgae.core.host.components import bind_params
    from neuralgae.core.host.errors import NeuralgaeError
    from neuralgae.core.media.images import check_output_folder
    from neuralgae.core.runs.runfolder import read_manifest
    from neuralgae.core.chain.textgen import TextContext

    host = host or default_host()
    generator = host.get("text_generator", text)
    bound = bind_params(generator, params or {}, where=f"text generator '{text}'")
    frames = book_frames(run_dir)  # every frame checked to be an image inside the run
    if out is None:
        from neuralgae.core.runs.runfolder import inside

        out = inside(run_dir, "book", "the book folder")  # a link there would write outside the run
    check_output_folder(out, what="book folder", fix="choose another with --out")
    ctx = TextContext(rng=np.random.default_rng(seed))
    try:
        passages = generator([list(f.classes) for f in frames], ctx, **bound)
    except NeuralgaeError:
        raise
    except Exception as exc:
        raise NeuralgaeError(f"text generator '{text}' (from {generator.source}) failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(passages, (list, tuple)) or not all(isinstance(p, str) for p in passages):
        raise NeuralgaeError(f"text generator '{text}' (from {generator.source}) must return a list of strings, one per frame")
    write_classes_txt(run_dir, read_manifest(run_dir))  # only once everything is known to work
    return build_book(frames, passages, out, title=title, chapter_size=chapter_size)


def register(app: typer.Typer) -> None:
    @app.command("book")
    def book_command(
        run_dir: Path = typer.Argument(..., help="The output folder of a chain run (`nd run neuralgae`), finished or not."),
        text: str = typer.Option("verse", "--text", "-t", help="Text generator: verse, prose, or one a plugin adds (`nd plugins`)."),
        seed: int = typer.Option(0, "--seed", min=0, help="Seed of the text: the same seed writes the same book."),
        out: Path | None = typer.Option(None, "--out", "-o", help="Folder for the book (default RUN_DIR/book)."),
        chapter_size: int = typer.Option(DEFAULT_CHAPTER_SIZE, "--chapter-size", min=1, help="Frames per chapter page."),
        title: str = typer.Option("Neuralgae", "--title", help="The book's title."),
        param: list[str] = typer.Option([], "--param", "-p", metavar="NAME=VALUE",
                                        help="A parameter of the text generator, e.g. --param words=8 (`nd plugins verse` lists them)."),
    ) -> None:
        """Write the illustrated book of a chain run: each frame's image, classes and a passage of text.

        Also writes RUN_DIR/classes.txt ('frame_00000.png: class, class, ...').
        The book is a folder (index.html, chapter pages, images/) that opens from disk.
        """
        with user_errors():
            params = parse_params(param, f"text generator '{text}'")
            index = make_book(run_dir, text=text, seed=seed, out=out, chapter_size=chapter_size, title=title, params=params)
            typer.echo(f"wrote {index}")
