"""Five-fold grouped cross-validation of a config against two baselines, side by side.
Same as ``marsad crossval``: the code is marsad/commands/crossval.py.

python eval/crossval.py --help
"""

import sys

from marsad.commands.crossval import main

if __name__ == "__main__":
    sys.exit(main())
