"""Packaged training configs (installed as ``agents.configs``): ``rrm-gym train --config NAME``
loads ``NAME.yaml`` from here when NAME is not a file."""
