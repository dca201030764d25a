"""The run contract: what flows from the data to the dream (``batch``, ``outline``), the owner of
the dream in progress and its octaves (``octaves``, ``events``), the owner ↔ module boundary
(``step``), the base of every data module (``source``) and what callbacks report (``accounts``)."""
