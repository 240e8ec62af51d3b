"""`python -m weakpose <command>`: the same as the `weakpose` console script."""

import sys

from weakpose.cli import main

sys.exit(main())
