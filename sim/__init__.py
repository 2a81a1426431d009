"""The simulated half of ce-drill: a pure model of incident response.

``sim`` knows nothing of files beyond its own YAML inputs, of processes or of
terminals.  It holds the manual's promises (:class:`Playbook`) and, built on
them, the discrete-event model of incidents, alerts, responders and rollbacks.
"""

from sim.errors import InputError
from sim.loader import load_playbook
from sim.model import SimResult, simulate
from sim.playbook import Playbook
from sim.world import World

__all__ = ["InputError", "Playbook", "SimResult", "World", "load_playbook", "simulate"]
