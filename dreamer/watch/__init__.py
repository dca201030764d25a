"""Watching a dream grow: metrics, TensorBoard images and the progress bar, each a listener of the
dream's owner (``dreamer.engine.contract.octaves.OctaveWalk``)."""
