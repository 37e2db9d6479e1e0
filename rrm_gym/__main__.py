import sys

from rrm_gym.cli import main

sys.exit(main())
