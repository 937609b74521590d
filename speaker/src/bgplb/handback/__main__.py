import sys

from bgplb.handback.cli import main

sys.exit(main())
