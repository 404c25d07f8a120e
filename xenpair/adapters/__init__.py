"""The outside world, one module per thing. Adapters never decide policy."""
