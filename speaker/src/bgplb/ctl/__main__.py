import sys

from bgplb.ctl import main

sys.exit(main())
