"""Hyperparameter validation for the project's estimators, on scikit-learn's own machinery.

Each estimator declares ``_parameter_constraints`` (``Interval``, ``StrOptions``, ...) and
decorates ``fit`` with ``sklearn.base._fit_context``, which calls ``_validate_params``.
scikit-learn then raises its own ``InvalidParameterError`` ("The 'factor' parameter of
IQRClipper must be a float in the range [0.0, inf). Got -1 instead."). ``ConfigParams`` adapts
that error in this one place: the message gains the fix (where the value comes from and its
default), and the error becomes a ``src.errors.InvalidParameterError``, so the CLI prints one
line and exits 2, while it stays the scikit-learn error its estimator checks expect.
"""

from __future__ import annotations

import inspect

from sklearn.utils._param_validation import InvalidParameterError as SklearnInvalidParameterError
from sklearn.utils._param_validation import validate_parameter_constraints

from src.errors import InvalidParameterError

__all__ = ["ConfigParameterError", "ConfigParams"]


class ConfigParameterError(InvalidParameterError, SklearnInvalidParameterError):
    """A hyperparameter from a pipeline config is invalid (both the project's and sklearn's error)."""


def _default(estimator: object, name: str) -> str:
    default = inspect.signature(type(estimator)).parameters[name].default
    return "" if default is inspect.Parameter.empty else f" (its default is {default!r})"


class ConfigParams:
    """Mixin for estimators whose hyperparameters come from ``conf/outliers``, ``conf/scaler``
    or ``conf/model``: scikit-learn's validation, with a message that names the fix."""

    _parameter_constraints: dict = {}

    def _validate_params(self) -> None:
        # Validated one parameter at a time (scikit-learn's own function) so the error knows
        # which parameter failed and can name its default.
        params = self.get_params(deep=False)
        for name, constraints in self._parameter_constraints.items():
            try:
                validate_parameter_constraints(
                    {name: constraints}, {name: params[name]}, caller_name=type(self).__name__
                )
            except SklearnInvalidParameterError as exc:
                raise ConfigParameterError(
                    f"{exc} Fix `{name}` of this step in its pipeline config (conf/outliers, "
                    f"conf/scaler or conf/model, or the command-line override){_default(self, name)}."
                ) from None

    def _invalid(self, name: str, message: str) -> ConfigParameterError:
        """The same error for a rule that spans parameters (e.g. ``lower < upper``)."""
        return ConfigParameterError(
            f"The '{name}' parameter of {type(self).__name__} {message} Fix `{name}` of this "
            f"step in its pipeline config{_default(self, name)}."
        )
