"""The Massive (Polygon.io) provider: wire models, decoder, sans-I/O session."""
