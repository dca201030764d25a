"""Image maths: the pyramid (``pyramid``), jitter (``jitter``), the step's filters (``filters``) and
the spaces a dream's parameter may live in (``parametrisation``)."""
