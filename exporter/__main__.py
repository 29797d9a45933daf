"""Run `python -m exporter` like the `tps-exporter` command."""

import sys

from exporter.cli import main

sys.exit(main())
