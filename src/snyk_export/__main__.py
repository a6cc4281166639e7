import sys

from snyk_export.cli import main

sys.exit(main())
