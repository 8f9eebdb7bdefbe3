import sys

from aureond.devnet.demo import main

sys.exit(main())
