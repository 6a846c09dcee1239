"""`python -m fastcore`: the httpd-style command line."""
from fastcore.cli import main

raise SystemExit(main())
