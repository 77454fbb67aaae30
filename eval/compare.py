"""Compare two systems on the same held-out sentences with a paired bootstrap.
Same as ``marsad compare``: the code is marsad/commands/compare.py.

python eval/compare.py --help
"""

import sys

from marsad.commands.compare import main

if __name__ == "__main__":
    sys.exit(main())
