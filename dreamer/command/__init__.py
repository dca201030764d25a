"""The command line on top: the LightningCLI run and its report, wiring, sweeps, and ``dream()``."""
