"""The built-in signals, one module each (``routing/signal.py`` has the seam): importing this
package registers them."""

from edgesdk.routing.signals import evidence, neighbours, peer, percepts, probe, surface

GENERIC = ("evidence", "surface", "percepts")
"""What every calibration reads: signals that exist for any question."""

__all__ = ["GENERIC", "evidence", "neighbours", "peer", "percepts", "probe", "surface"]
