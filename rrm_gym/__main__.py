"""``python -m rrm_gym``: the same commands as ``rrm-gym`` (benchmark, train and evaluate come
from ``agents``, installed with the package; torch is imported only by the commands that train)."""

import sys

from agents.cli import main

sys.exit(main())
