"""Fitting the router: the numerics (``logistic``), the metrics, and the modelling choices
(``fit``). Never imported at run time: a device loads calibrations, it does not fit them."""
