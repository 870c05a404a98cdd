"""Hook specifications: every way a plugin can extend Neuralgae, documented where declared.

A plugin is a module (or object) with functions marked ``@hookimpl`` whose
names match the hooks below. Third-party plugins are found through the
``neuralgae`` entry-point group; the built-in ones in ``neuralgae.plugins``
use exactly the same hooks.

Registration hooks receive a ``register`` callback rather than returning
values, so the host can validate each component when it is registered and
record which plugin provided it (a name two plugins register is ambiguous:
using it is an error naming both).

Components are plain functions. Their *inputs* are positional parameters;
their *user parameters* are keyword-only parameters with type annotations and
defaults, which the host reads to validate specs and to document the
component (``nd plugins NAME``). The first line of the docstring is the
component's summary.
"""

from __future__ import annotations

import pluggy

PROJECT = "neuralgae"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- registration -----------------------------------------------------------


@hookspec
def register_networks(register):
    """Register networks that renderers can dream with.

    :param register: ``register(name, factory, *, description="",
        family=False, members=None, check=None)`` where ``factory()`` returns
        an object satisfying :class:`neuralgae.core.Network`.
        Factories are called lazily, the first time a run asks for that
        network, and the result is cached (per name and options).

        *Options*: the factory's keyword-only parameters are the network's
        options, which a spec gives as ``network = { name = "...", weights
        = "w.pth" }`` and ``--weights FILE`` gives as ``weights``. An option
        annotated ``pathlib.Path`` is a file, relative to the spec that names
        it (to the current folder on the command line), refused before any
        work when it does not exist; one without a default is required.

        *Families*: with ``family=True``, ``name`` is a prefix and the
        networks are ``NAME:MEMBER`` (``torchvision:googlenet``); the factory
        is called as ``factory(member, **options)``. ``members()`` returns the
        member names (for listing, near-miss suggestions and checking a
        spec); without it any member is passed to the factory.

        ``check`` (optional) is called like the factory (``check(**options)``,
        a family's ``check(member, **options)``) when a spec or command is
        checked, before any work: it raises ``NeuralgaeError`` for what would
        make the factory fail, cheaply (a missing package or weights file).
        Names contain neither ``:`` nor ``+`` (``+`` joins an ensemble).
    """


@hookspec
def register_transforms(register):
    """Register inter-frame transforms for animation loops.

    :param register: ``register(function, *, name=None)``. ``function(image,
        ctx, **params)`` takes a float32 (H, W, 3) image in [0, 1] and a
        :class:`neuralgae.core.FrameContext` and returns a new
        image of the same shape and dtype. Its keyword-only parameters are the
        parameters a spec may set. ``name`` defaults to the function's name.
    """


@hookspec
def register_samplers(register):
    """Register category samplers: how the classes of the next frame are chosen.

    :param register: ``register(function, *, name=None)``. ``function(probs,
        ctx, **params)`` takes the classification of the last frame (a float
        array of 1000 probabilities) and a
        :class:`neuralgae.core.SamplerContext`, and returns a list
        of ``(class_index, weight)`` pairs for the next frame.
    """


@hookspec
def register_renderers(register):
    """Register renderers: what turns the current image into the next frame.

    :param register: ``register(function, *, name=None)``. ``function(image,
        ctx, **params)`` takes a float32 (H, W, 3) image and a
        :class:`neuralgae.core.RenderContext` (network, classes,
        rng, progress) and returns the rendered image. A renderer may carry
        ``function.check_params(**params)``, a cheap check of its limits
        that raises ``NeuralgaeError``; schedules of its parameters are
        tried against it before any frame is rendered.
    """


@hookspec
def register_text_generators(register):
    """Register text generators that write prose or verse from a run's class lists.

    :param register: ``register(function, *, name=None)``. ``function(frames,
        ctx, **params)`` takes the list of per-frame class lists and a
        :class:`neuralgae.core.TextContext` and returns one passage of text
        per frame.
    """


@hookspec
def register_specs(register):
    """Register named pipeline specs that ``nd run NAME`` can run.

    :param register: ``register(name, path, *, description="")`` where
        ``path`` is a TOML spec file shipped with the plugin.
    """


# -- run events ----------------------------------------------------------------


@hookspec
def run_started(run):
    """Called once when a pipeline run starts (or resumes), before the first frame.

    :param run: the :class:`neuralgae.core.Run` (spec, output folder,
        first frame index).
    """


@hookspec
def frame_written(run, frame):
    """Called after each frame has been written to disk and recorded in the manifest.

    Use it for custom outputs (uploading, extra files, live previews).

    :param run: the current run.
    :param frame: the :class:`neuralgae.core.FrameRecord` just written
        (index, path, image array, classes, parameters).
    """


@hookspec
def run_finished(run):
    """Called once after the last frame of a run and its animations (not when it is interrupted).

    :param run: the finished run; ``run.outputs`` lists the GIF/MP4 written.
    """
