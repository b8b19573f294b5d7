"""vlm-car's benchmark scripts (each runs on its own: ``python benchmarks/NAME.py --help``)."""
