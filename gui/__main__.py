"""`python -m gui [SPEC]` starts the desktop app."""

from gui.app import main

raise SystemExit(main())
