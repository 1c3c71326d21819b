"""vidcolor's version, alone in a module that imports nothing.

Modules inside the package import it from here rather than from ``vidcolor`` itself, whose
``__init__`` holds the lazy public API; ``pyproject.toml`` reads it from here too.
"""

__version__ = "0.1.0"
