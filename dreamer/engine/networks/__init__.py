"""The network a dream climbs through: built from its name or file (``network``), torchvision's
zoo and its weights (``backbones``), weights files read without running code (``weights``), and
the frozen graph that returns chosen layers' activations (``extractor``)."""
