"""Stand-in for get-pip.py, which ansible-test downloads from a host this machine cannot reach: bootstrap pip with
ensurepip instead. scripts/sanity.sh puts it where ansible-test looks for its cached copy."""

import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
