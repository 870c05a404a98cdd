"""Neuralgae's engine: networks, objectives, renderers, runs and the plugin host.

This package is the public API. Everything a plugin author or a Python user
needs is importable from here, and only from here is it promised to stay::

    from neuralgae.core import hookimpl, FrameContext, Range, NeuralgaeError   # a plugin
    from neuralgae.core import load_network, dream, DreamSettings, build_objective, parse_layer_selections

The modules behind these names are the engine's own layout and may move.
(``neuralgae.core.dream`` and ``neuralgae.core.classify`` are the functions
here; their modules are ``neuralgae.core.optvis.dream`` and ``neuralgae.core.nets.classify``.)
"""

from __future__ import annotations

# writing plugins
from .nets.classes import ClassNames
from .host.components import Choice, Finite, FrameContext, NonFinite, Range, RenderContext, SamplerContext, Shape
from .host.errors import NeuralgaeError
from .host.hookspecs import hookimpl
from .host.plugins import PluginError, PluginHost, default_host, load_network
from .runs.schedule import FrameSignals
from .chain.textgen import TextContext

# networks
from .nets.module_network import ModuleNetwork, module_network
from .nets.network import LayerInfo, Network, parse_layer_selections
from .nets.placement import place_network

# classes and classifying
from .nets.classes import ImageNetClass, class_names, imagenet_classes, lookup_class, parse_class_list
from .nets.classify import class_probabilities, classify, top_classes

# dreaming and drawing
from .optvis.dream import DreamSettings, build_objective, dream
from .optvis.draw import DrawTarget, render_draw, start_canvas, targets_from_classes
from .optvis.draw_schedule import PRESETS, DrawSettings

# images and animations
from .media.images import load_image, read_metadata, save_image
from .media.movie import list_frames, read_animation, write_animation

# specs and runs
from .runs.pipeline import Run, run_spec
from .runs.runfolder import FrameRecord, read_manifest
from .runs.spec import Spec, load_spec, validate_spec

# batches
from .runs.batch import class_axis, dask_cluster, grid_axes, image_axis, parse_class_selection, plan_variations, run_batch

# a process that renders step after step (what nd does when it starts)
from .nets.memory import keep_freed_memory
from .optvis.tensors import flush_denormals

# the live stream
from .stream.stream import StreamRenderer, StreamSettings, SubjectQueue
from .stream.stream_live import LiveStream

__all__ = [
    "Choice", "ClassNames", "DrawSettings", "DrawTarget", "DreamSettings", "Finite", "FrameContext", "FrameRecord",
    "FrameSignals", "ImageNetClass", "LayerInfo", "LiveStream", "ModuleNetwork", "Network", "NeuralgaeError", "NonFinite", "PRESETS",
    "PluginError", "PluginHost", "Range", "RenderContext", "Run", "SamplerContext", "Shape", "Spec", "StreamRenderer",
    "StreamSettings", "SubjectQueue", "TextContext",
    "build_objective", "class_axis", "class_names", "class_probabilities", "classify", "dask_cluster", "default_host",
    "dream", "flush_denormals", "grid_axes", "hookimpl", "image_axis", "imagenet_classes", "keep_freed_memory", "list_frames", "load_image", "load_network",
    "load_spec", "lookup_class", "module_network", "parse_class_list", "parse_class_selection", "parse_layer_selections", "place_network",
    "plan_variations", "read_animation", "read_manifest", "read_metadata", "render_draw", "run_batch", "run_spec",
    "save_image", "start_canvas", "targets_from_classes", "top_classes", "validate_spec", "write_animation",
]
