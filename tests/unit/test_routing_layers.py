"""The router's run time never imports its fitting code: a device loads calibrations, it does
not fit them (docs/router.md, "Layout")."""

from __future__ import annotations

import subprocess
import sys


def test_the_run_time_never_imports_the_fitting_code() -> None:
    code = ("import sys\n"
            "import edgesdk.assistant, edgesdk.routing.router, edgesdk.routing.signals\n"
            "from edgesdk.routing.calibration import load\n"
            "load('smollm2-135m-instruct')\n"
            "print(sorted(m for m in sys.modules if m.startswith('edgesdk.routing.fitting')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
