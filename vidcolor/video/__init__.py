"""Video: decoding and encoding with PyAV, temporal stabilization, the streaming pipeline."""
