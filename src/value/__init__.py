"""What each customer and segment is worth: P(alive), expected purchases and lifetime value.

Buy-till-you-die models from pymc-marketing (BG/NBD or Pareto/NBD for purchase counts and
P(alive), Gamma-Gamma for spend) fitted on the cleaned transaction log, next to the
segmentation: :func:`src.value.job.estimate_value` is the one entry point the sweep calls.
The library is the optional ``value`` extra; :func:`require` imports it lazily and says how to
install it.
"""

from __future__ import annotations

from types import ModuleType

from src.errors import SegmentationError

INSTALL_HINT = 'pip install -e ".[value]"'


def require() -> ModuleType:
    """``pymc_marketing.clv``, or a clear error naming the extra when it is not installed."""
    try:
        from pymc_marketing import clv
    except ImportError as exc:
        raise SegmentationError(
            f"The customer value model (value.enabled=true) needs pymc-marketing, which is not "
            f"installed ({exc.msg}). Install the extra with `{INSTALL_HINT}`, or switch it off "
            "with value=none."
        ) from None
    return clv
