"""What a run leaves on disk: exported networks (:mod:`.export`), checkpoints (:mod:`.checkpoint`) and the event log
of the run directory (:mod:`.rundir`). Nothing here unpickles or executes anything it reads."""
