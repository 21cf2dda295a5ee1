"""``python -m optlab.report FOLDER``: rebuild report.html and report.md."""
import sys

from . import main

sys.exit(main())
