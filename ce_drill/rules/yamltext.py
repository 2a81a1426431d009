"""Deterministic YAML for generated configuration, as Prometheus and Alertmanager read it.

Prometheus, promtool and Alertmanager parse YAML with Go's YAML 1.1-flavoured
parser, where an unquoted ``yes`` or ``on`` is a boolean and ``010`` an octal
number.  ruamel.yaml, told to write YAML 1.1, quotes exactly those strings;
mappings keep the order the generator built them in.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from ruamel.yaml import YAML


def _plain(data: object) -> object:
    """Tuples and other sequences as lists, mappings as dicts (what the safe dumper represents)."""
    if isinstance(data, Mapping):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, Sequence) and not isinstance(data, str):
        return [_plain(v) for v in data]
    return data


def dump(data: object) -> str:
    """``data`` (mappings, sequences and scalars) as block-style YAML 1.1."""
    yaml = YAML(typ="safe", pure=True)
    yaml.version = (1, 1)
    yaml.default_flow_style = False
    yaml.allow_unicode = True
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.width = 4096  # long PromQL and descriptions stay on one line
    out = io.StringIO()
    yaml.dump(_plain(data), out)
    # The "%YAML 1.1" directive and document marker are for us, not for the Go parsers.
    text = out.getvalue()
    return text.split("---\n", 1)[1] if text.startswith("%YAML") else text
