"""``python -m tui.cli``: how the detached engine and the tests start the command line."""

from __future__ import annotations

import sys

from tui.cli import main

sys.exit(main())
