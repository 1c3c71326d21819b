"""A stand-in for torchvision, whose PyPI wheel does not load beside the CPU torch here.
DDColor's inference and export never call it: basicsr.utils only imports make_grid and two
transforms at module level."""
__version__ = "stub"
