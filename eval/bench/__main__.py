"""``python -m eval.bench``: see run.py."""

import sys

from eval.bench.run import main

sys.exit(main())
