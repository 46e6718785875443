"""Imported by Python at start-up when this folder is first on ``PYTHONPATH`` (see
:func:`chaos.clockjump.stepped_env`): steps this process's wall clock with the chaos suite's
offset file. Not a package: nothing imports it but the interpreter."""

import os

if os.environ.get("CHAOS_CLOCK_OFFSET_FILE"):
    from pathlib import Path

    from chaos.clockjump import install

    install(Path(os.environ["CHAOS_CLOCK_OFFSET_FILE"]))
