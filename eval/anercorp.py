"""Cross-domain check on ANERcorp (CAMeL Lab split): a checkpoint on ACTOR/LOCATION, or an
auxiliary stage on its own four types. Same as ``marsad anercorp``: the code is
marsad/commands/anercorp.py.

python eval/anercorp.py --help
"""

import sys

from marsad.commands.anercorp import main

if __name__ == "__main__":
    sys.exit(main())
