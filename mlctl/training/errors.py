"""The error types of training: bad setup, a diverged run, a full disk."""


class TrainingSetupError(Exception):
    """A problem with the command line, the data or the model that stops training before it starts (one line)."""


class TrainingDivergedError(Exception):
    """A non-finite loss or gradient stopped training (one line: the step, the term, the last good checkpoint)."""


class DiskFullError(Exception):
    """The disk filled while a checkpoint or the model was saved (one line: the directory being written)."""
