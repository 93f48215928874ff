"""Where the config and templates are when nothing says otherwise.

In the container they are `/config` and `/app/templates` (set by the Dockerfile through
MENTORING_CONFIG_DIR and MENTORING_TEMPLATES_DIR). From a checkout, `./config` and
`./templates` in the working directory, else the ones beside the installed source tree.
"""

from __future__ import annotations

import os
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def _pick(env: str, name: str) -> Path:
    configured = os.environ.get(env)
    if configured:
        return Path(configured)
    local = Path.cwd() / name
    if local.is_dir():
        return local
    return _SOURCE_ROOT / name


def default_config_dir() -> Path:
    return _pick("MENTORING_CONFIG_DIR", "config")


def default_templates_dir() -> Path:
    return _pick("MENTORING_TEMPLATES_DIR", "templates")


def builtin_templates_dir() -> Path:
    """The templates shipped beside the source (a program's own folder may lack a newer one,
    such as the report's, which is then taken from here)."""
    return _SOURCE_ROOT / "templates"
