"""``dreamer app``: a local web page on the same engine as the command line (the ``app`` extra)."""
