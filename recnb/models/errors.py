"""Errors that say what to do, not just what broke."""


class ModelNotAvailableError(OSError):
    """A model could not be found locally and could not be downloaded."""

    def __init__(self, name: str, kind: str, bundled: str, cause: Exception | None = None):
        msg = (
            f"The {kind} {name!r} is not available offline (not a local folder and not in the Hugging Face "
            f"cache, and the hub could not be reached"
            + (f": {type(cause).__name__}: {str(cause).splitlines()[0][:200]}" if cause else "")
            + f"). Use the bundled one instead: {bundled}, or download {name!r} once while online."
        )
        super().__init__(msg)


class QuantizationUnavailableError(RuntimeError):
    """4-bit loading was asked for where it cannot work (no CUDA, no bitsandbytes)."""
