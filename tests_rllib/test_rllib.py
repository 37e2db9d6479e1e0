"""Ray RLlib: the examples train an iteration on a Ray cluster started as on a real one
(``ray start --head``) and joined with ``--address auto``, each run as a researcher runs it
(``python examples/...``): the same code path as several machines.

RLlib pins its own Gymnasium, so these tests run in their own environment
(``.ci/run`` makes it: ``pip install -e ".[rllib]"``), not in the main test run.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cluster():
    """A one-machine Ray cluster, started and joined as a multi-machine one is."""
    ray_cli = str(Path(sys.executable).with_name("ray"))
    start = [ray_cli, "start", "--head", "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats"]
    subprocess.run(start, check=True, capture_output=True, timeout=180)
    try:
        yield "auto"
    finally:
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True, timeout=180)


def run_example(name: str, address: str) -> str:
    cmd = [sys.executable, f"examples/{name}.py", "--smoke", "--env-runners", "2", "--address", address]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_multi_agent_ppo_with_one_shared_policy_and_action_masking_trains_on_the_cluster(cluster):
    out = run_example("rllib_multi_agent", cluster)
    line = r"iteration 1: ([0-9.]+) env steps, AP 0's episode return (\S+), policies trained \['shared_ap'\]"
    m = re.search(line, out)
    assert m, out
    assert float(m[1]) > 0 and math.isfinite(float(m[2].rstrip(",")))


def test_single_agent_ppo_with_flattened_observations_trains_on_the_cluster(cluster):
    out = run_example("rllib_single_agent", cluster)
    m = re.search(r"iteration 1: ([0-9.]+) env steps, episode return (\S+)", out)
    assert m, out
    assert float(m[1]) > 0 and math.isfinite(float(m[2]))
