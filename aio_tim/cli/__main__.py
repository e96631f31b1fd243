"""`python -m aio_tim.cli ...` runs `aio-tim ...`."""

import sys

from .main import main

sys.exit(main())
