"""Scenario configuration: schema, validation and loading."""

from rrm_gym.config.loader import ScenarioError, load_scenario, packaged_scenarios, scenario_from_dict
from rrm_gym.config.schema import Scenario

__all__ = ["Scenario", "ScenarioError", "load_scenario", "packaged_scenarios", "scenario_from_dict"]
