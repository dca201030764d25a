"""The user's files: finding inputs, planning a run, deciding what may be written (and writing it
atomically), image I/O, the bundled presets and samples, and isolated child processes."""
