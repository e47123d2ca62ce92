"""`python -m kerasaudio.cli ...`: the `kerasaudio` command (`kerasaudio.cli.main`)."""

import sys

from kerasaudio.cli import main

if __name__ == "__main__":
    sys.exit(main())
