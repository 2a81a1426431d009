"""ce-drill: check an incident-response manual's promises, simulated and for real.

The application layer: the CLI, Prometheus/Alertmanager config generation,
the local staging stack, Chaos Toolkit activities, the drill judge and the
reports.  The pure model lives in :mod:`sim`; this package depends on it,
never the reverse.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ce-drill")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
