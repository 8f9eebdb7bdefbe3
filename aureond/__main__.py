import sys

from aureond.cli import main

sys.exit(main())
