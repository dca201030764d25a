"""Photos: the data module that plans and batches them, and the writer of their dreams."""
