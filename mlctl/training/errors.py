"""The one error type of training setup."""


class TrainingSetupError(Exception):
    """A problem with the command line, the data or the model that stops training before it starts (one line)."""


class TrainingDivergedError(Exception):
    """A non-finite loss or gradient stopped training (one line: the step, the term, the last good checkpoint)."""
