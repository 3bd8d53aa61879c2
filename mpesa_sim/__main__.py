import sys

from mpesa_sim.cli import main

sys.exit(main())
