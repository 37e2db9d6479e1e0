"""Packaged scenario files (installed as ``rrm_gym.scenarios``)."""
