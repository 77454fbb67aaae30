"""Train the joint tagger + relation model from a YAML config.
Same as ``marsad train``: the code is marsad/commands/train.py.

python train/train.py --help
accelerate launch train/train.py --config configs/default.yaml   # GPUs, mixed precision

"""

import sys

from marsad.commands.train import main

if __name__ == "__main__":
    sys.exit(main())
