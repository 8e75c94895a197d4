import sys

from vkzc.cli import main

sys.exit(main())
