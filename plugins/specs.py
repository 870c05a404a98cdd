"""Built-in pipeline specs: every ``*.toml`` file in the ``specs`` folder beside this module.

``nd run zoom`` runs ``specs/zoom.toml``; ``nd specs`` lists them with the
``description`` each file declares. A third-party plugin ships its own specs
the same way.
"""

from __future__ import annotations

from pathlib import Path

from neuralgae.core.host.hookspecs import hookimpl

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

SPEC_FOLDER = Path(__file__).with_name("specs")


def _description(path: Path) -> str:
    """The spec's ``description`` (validated, like the rest, when it is run)."""
    try:
        return str(tomllib.loads(path.read_text(encoding="utf-8")).get("description", ""))
    except (OSError, tomllib.TOMLDecodeError):
        return ""


@hookimpl
def register_specs(register):
    for path in sorted(SPEC_FOLDER.glob("*.toml")):
        register(path.stem, path, description=_description(path))
