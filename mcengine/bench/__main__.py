import sys

from mcengine.bench.suite import main

sys.exit(main())
