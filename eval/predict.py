"""Run a checkpoint over text: ``marsad predict --checkpoint DIR [--input FILE] [--output FILE]``.
Same as ``marsad predict``: the code is marsad/commands/predict.py.

python eval/predict.py --help
"""

import sys

from marsad.commands.predict import main

if __name__ == "__main__":
    sys.exit(main())
