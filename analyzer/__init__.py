"""Image Factory analyzer: enrollment, discovery, dependency graph and state for base-image rebuilds."""

__version__ = "0.1.0"
