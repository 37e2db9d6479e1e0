"""World state and time: the wireless simulation and what it lets an AP sense."""

from rrm_gym.sim.simulation import INTERFERER_KINDS, Sensing, WirelessSimulation

__all__ = ["INTERFERER_KINDS", "Sensing", "WirelessSimulation"]
