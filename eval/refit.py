"""Refit finished cross-validation runs on train + dev and score them on test, beside the originals.
Same as ``marsad refit``: the code is marsad/commands/refit.py.

python eval/refit.py --help
"""

import sys

from marsad.commands.refit import main

if __name__ == "__main__":
    sys.exit(main())
