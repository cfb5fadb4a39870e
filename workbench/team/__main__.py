"""``python -m workbench.team start`` starts a throwaway PostgreSQL + PostGIS with a team
store and prints its URL; ``python -m workbench.team stop DIR`` stops and removes it."""

import sys

from workbench.team._server import main

sys.exit(main(sys.argv[1:]))
