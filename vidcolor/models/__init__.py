"""Networks, backbones and the on-disk model format."""
