"""What a dream climbs: the objective of a step (``objective``), its terms as written and as
numbers (``objectives``, ``terms``), the layer schedule and keyframes' cross-fades (``schedule``,
``fades``), guides (``guide``) and tiled gradients (``tiling``)."""
