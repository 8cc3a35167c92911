"""mcengine's benchmark suite and its plain-numpy reference implementation."""
