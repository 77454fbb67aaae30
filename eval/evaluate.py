"""Score a checkpoint on held-out sentences.
Same as ``marsad evaluate``: the code is marsad/commands/evaluate.py.

python eval/evaluate.py --help
"""

import sys

from marsad.commands.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
