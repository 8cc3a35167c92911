"""The JSON documents that ``--json`` prints: a public schema, one encoder per result kind.

Conventions, shared by every document:

- **Estimate objects.** A Monte Carlo figure is ``{"estimate": x, "standard_error": s}``,
  with ``"ci95": [low, high]`` where the study has a 95% interval (order-statistic intervals
  for quantiles, Wilson intervals for shares of paths, bootstrap intervals for indices).
  A few documents name the estimate after what it is (``"probability"``, ``"mean"``).
- **Undefined is null.** What cannot be estimated (a NaN, e.g. a standard error from one
  path) is ``null``, never ``NaN`` (:func:`json_ready`; :func:`dumps` refuses a NaN left over).
  An open end of a target's interval is ``null`` too.
- **Units.** Returns, quantiles, VaR/CVaR and drawdowns are fractions (0.164 is 16.4% a
  year), probabilities are shares of paths, never percent as the tables print them; a
  validation target's figures are in its ``"unit"``.
- **Run header.** ``"scenario"``, ``"seed"`` and ``"n_paths"`` where one run is reported;
  ``"seed"`` and ``"n_paths"`` (per scenario or grid point) for studies of several.

The documents: ``run``/``summarize`` (:func:`summary_to_json`, described in README.md, "JSON
output"); ``explain`` (:func:`waterfall_to_json`); ``compare`` and ``sweep``
(:func:`comparison_to_json`); ``sensitivity`` (:func:`tornado_to_json` with ``"sobol"`` and
``"shapley"`` from :func:`indices_to_json`); ``voi`` (:func:`voi_to_json`); ``check``
(:func:`check_to_json`); ``verdict`` (:func:`verdict_to_json`). Each encoder's docstring
gives its keys.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

from mcengine.present.format import comparison_rows, output_dim, target_unit

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "dumps",
    "json_ready",
    "summary_to_json",
    "waterfall_to_json",
    "comparison_to_json",
    "tornado_to_json",
    "indices_to_json",
    "voi_to_json",
    "check_to_json",
    "verdict_to_json",
]


def json_ready(doc):
    """``doc`` with every NaN or infinite float replaced by ``None`` (JSON ``null``): what
    cannot be estimated is undefined, and JSON has no NaN."""
    if isinstance(doc, dict):
        return {k: json_ready(v) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [json_ready(v) for v in doc]
    if isinstance(doc, float) and not math.isfinite(doc):
        return None
    return doc


def dumps(doc) -> str:
    """JSON for people and programs: indented, undefined figures null, never NaN."""
    return json.dumps(json_ready(doc), indent=2, allow_nan=False)


def _estimate_json(table: xr.Dataset, value: str, error: str | None = None, **where) -> dict:
    """``{"estimate", "standard_error"}`` of ``table[value]`` at ``where``; the error is
    ``table[error]``, by default the variable ``value + "_standard_error"``."""
    error = error or f"{value}_standard_error"
    return {
        "estimate": float(table[value].sel(where)),
        "standard_error": float(table[error].sel(where)),
    }


def _run_header(table: xr.Dataset) -> dict:
    return {
        "scenario": str(table.attrs.get("scenario_name", "")),
        "seed": int(table.attrs.get("seed", -1)),
        "n_paths": int(table.attrs.get("n_paths", 0)),
    }


def _joint_to_json(table: xr.Dataset) -> dict:
    def pairs(name: str, dim: str) -> dict:
        return {str(key): _estimate_json(table, name, **{dim: key}) for key in table[dim].values}

    out = {
        "correlation_pearson": table["correlation_pearson"].values.tolist(),
        "p_all_lose": _estimate_json(table, "p_all_lose"),
        "portfolio_weights": list(table.attrs.get("portfolio_weights", [])),
        "portfolio": pairs("portfolio", "portfolio_statistic"),
        "crash_year_probability": pairs("crash_year_probability", "year"),
        "conditional_mean": {
            str(c): {
                str(s): _estimate_json(table, "conditional_mean", segment=s, condition=c)
                for s in table["segment"].values
            }
            for c in table["condition"].values
        },
    }
    if "correlation_spearman" in table:
        out["correlation_spearman"] = table["correlation_spearman"].values.tolist()
    return out


def _fan_to_json(table: xr.Dataset) -> dict:
    return {
        "years": [int(y) for y in table["year"].values],
        "quantiles": [float(q) for q in table["quantile"].values],
        "wealth": {
            str(s): table["fan_wealth"].sel(segment=s).values.tolist()
            for s in table["segment"].values
        },
        "drivers": {
            str(d): table["fan_drivers"].sel(driver=d).values.tolist()
            for d in table["driver"].values
        },
        "relative_error_bound": float(table.attrs["fan_relative_error_bound"]),
    }


def summary_to_json(table: xr.Dataset, *, elapsed: float | None = None) -> dict:
    """The summary (documented in README "JSON output"): the run header,
    ``quantile_error_bound``, ``p_crash``, ``segments -> statistic -> estimate object``;
    with a portfolio ``joint``, with a fan chart ``fan``; ``sampler``, the stopping rule's
    attributes when there is one, and ``elapsed_seconds`` when ``elapsed`` is given."""
    segments = {}
    for seg in table["segment"].values:
        segments[str(seg)] = {
            str(stat): {
                **_estimate_json(table, "estimate", "standard_error", segment=seg, statistic=stat),
                "ci95": [
                    float(table["ci_low"].sel(segment=seg, statistic=stat)),
                    float(table["ci_high"].sel(segment=seg, statistic=stat)),
                ],
            }
            for stat in table["statistic"].values
        }
    doc = {
        **_run_header(table),
        "quantile_error_bound": float(table.attrs.get("quantile_error_bound", 0.0)),
        "p_crash": {
            **_estimate_json(table, "p_crash"),
            "ci95": [float(v) for v in table["p_crash_ci"].values],
        },
        "segments": segments,
    }
    if "portfolio" in table:
        doc["joint"] = _joint_to_json(table)
    if "fan_wealth" in table:
        doc["fan"] = _fan_to_json(table)
    doc["sampler"] = str(table.attrs.get("sampler", "pseudo"))
    stopping = ("stopping", "target_met", "stop_statistic", "target_se", "rel_tol")
    for key in (*stopping, "standard_errors"):
        if key in table.attrs:
            doc[key] = table.attrs[key]
    if elapsed is not None:
        doc["elapsed_seconds"] = elapsed
    return doc


def waterfall_to_json(table: xr.Dataset) -> dict:
    """The contributions: the run header and ``segments -> part -> estimate object``, with
    the ``mean_annual_return`` they add up to."""
    return {
        **_run_header(table),
        "segments": {
            str(seg): {
                **{
                    str(part): _estimate_json(table, "contribution", segment=seg, component=part)
                    for part in table["component"].values
                },
                "mean_annual_return": _estimate_json(
                    table, "estimate", "standard_error", segment=seg, statistic="mean"
                ),
            }
            for seg in table["segment"].values
        },
    }


def comparison_to_json(table: xr.Dataset, dim: str = "scenario") -> dict:
    """The comparison (or a sweep: ``dim``, its keys joined by ``|``): ``seed``, ``n_paths``
    and ``rows``, one per scenario or grid point: its ``label``, ``p_crash`` and ``segments
    -> statistic -> estimate object`` with the ``difference`` from the first row and its
    ``difference_standard_error``."""
    labels, rows, row_dim = comparison_rows(table, dim)
    out = []
    for i, label in enumerate(labels):
        row = rows.isel({row_dim: i})
        entry = {"label": label, "p_crash": float(row["p_crash"]), "segments": {}}
        for seg in table["segment"].values:
            at = row.sel(segment=seg)
            entry["segments"][str(seg)] = {
                str(k): {
                    **_estimate_json(at, "estimate", "standard_error", statistic=k),
                    "difference": float(at["difference"].sel(statistic=k)),
                    "difference_standard_error": float(
                        at["difference_standard_error"].sel(statistic=k)
                    ),
                }
                for k in table["statistic"].values
            }
        out.append(entry)
    return {"seed": int(table.attrs["seed"]), "n_paths": int(table.attrs["n_paths"]), "rows": out}


def tornado_to_json(table: xr.Dataset) -> dict:
    """The tornado: the run header and ``inputs``, each with its ``input``, ``label`` and
    ``segments -> low/high -> {"mean", "standard_error"}`` (its bottom and top decile)."""
    return {
        **_run_header(table),
        "inputs": [
            {
                "input": str(name),
                "label": str(table["label"].sel(input=name).values),
                "segments": {
                    str(seg): {
                        side: {
                            "mean": float(table["mean"].sel(input=name, segment=seg, side=side)),
                            "standard_error": float(
                                table["standard_error"].sel(input=name, segment=seg, side=side)
                            ),
                        }
                        for side in ("low", "high")
                    }
                    for seg in table["segment"].values
                },
            }
            for name in table["input"].values
        ],
    }


def indices_to_json(table: xr.Dataset, names=("first_order", "total")) -> dict:
    """Each input's indices per segment (``names``: ``("shapley",)`` for Shapley effects),
    with their 95% intervals and standard errors; undefined ones as null: ``method`` and
    ``inputs -> input -> {"kind", segment -> index -> estimate object}``."""
    dim = output_dim(table)
    return {
        "method": str(table.attrs["method"]),
        "inputs": {
            str(name): {
                "kind": str(table["kind"].sel(input=name).values),
                **{
                    str(seg): {
                        index: {
                            **_estimate_json(table, index, input=name, **{dim: seg}),
                            "ci95": [
                                float(v)
                                for v in table[f"{index}_ci"].sel({"input": name, dim: seg})
                            ],
                        }
                        for index in names
                    }
                    for seg in table[dim].values
                },
            }
            for name in table["input"].values
        },
    }


def voi_to_json(table: xr.Dataset) -> dict:
    """The value of information: the run header, the decision's settings, the allocation
    without information (``weights``, ``value``), ``evpi`` and ``evppi`` per input
    (estimate objects with the share of ``decision_changes`` and the informed ``weights``)."""
    a = table.attrs
    return {
        **_run_header(table),
        **{k: a[k] for k in ("objective", "risk_aversion", "alpha", "decisions", "step", "method")},
        "weights": table["weights"].values.tolist(),
        "value": float(table["value"]),
        "evpi": {
            **_estimate_json(table, "evpi"),
            "weights": table["weights_perfect"].values.tolist(),
        },
        "evppi": [
            {
                "input": str(name),
                "kind": str(table["kind"].sel(input=name).values),
                **_estimate_json(table, "evppi", input=name),
                "decision_changes": float(table["decision_changes"].sel(input=name)),
                "weights": table["weights_informed"].sel(input=name).values.tolist(),
            }
            for name in table["input"].values
        ],
    }


def check_to_json(table: xr.Dataset) -> dict:
    """The validation report: the run header, ``targets``, ``all_passed`` and ``results``,
    one per target: its estimate object with ``ci95``, ``interval`` (an open end is null),
    ``unit``, ``rule``, ``passed``, ``mapping`` and ``source``."""

    def text(name: str, target) -> str:
        return str(table[name].sel(target=target).values)

    def pair(low: str, high: str, target) -> list[float]:
        return [float(table[low].sel(target=target)), float(table[high].sel(target=target))]

    return {
        **_run_header(table),
        "targets": str(table.attrs["targets"]),
        "all_passed": bool(table.attrs["all_passed"]),
        "results": [
            {
                "target": str(name),
                "label": text("label", name),
                "description": text("description", name),
                **_estimate_json(table, "estimate", "standard_error", target=name),
                "ci95": pair("ci_low", "ci_high", name),
                "interval": pair("low", "high", name),  # an open end (a criterion's) is null
                "unit": target_unit(table.sel(target=name)),
                "rule": text("rule", name),
                "passed": bool(table["passed"].sel(target=name)),
                "mapping": text("mapping", name),
                "source": {
                    "title": text("source_title", name),
                    "publisher": text("source_publisher", name),
                    "year": int(table["source_year"].sel(target=name)),
                    "measured": text("measured", name),
                },
            }
            for name in table["target"].values
        ],
    }


def _shares_to_json(table: xr.Dataset, dim: str, prefix: str) -> dict:
    """Per scenario, per value of ``dim`` (orderings or events): the share with its
    standard error and 95% interval (variables prefixed ``prefix``)."""
    return {
        str(s): {
            str(key): {
                "probability": float(at[f"{prefix}probability"].sel({dim: key})),
                "standard_error": float(at[f"{prefix}standard_error"].sel({dim: key})),
                "ci95": [
                    float(at[f"{prefix}ci_low"].sel({dim: key})),
                    float(at[f"{prefix}ci_high"].sel({dim: key})),
                ],
            }
            for key in table[dim].values
        }
        for s in table["scenario"].values
        for at in [table.sel(scenario=s)]
    }


def verdict_to_json(table: xr.Dataset, attribution: dict | None = None) -> dict:
    """Each scenario's probability per ordering with its standard error and 95% interval:
    ``seed``, ``n_paths``, the ``essay``'s ordering, ``scenarios`` and ``events`` (scenario
    -> ordering or event -> ``{"probability", "standard_error", "ci95"}``); ``attribution``:
    per scenario, its indices (:func:`indices_to_json`)."""
    return {
        "seed": int(table.attrs["seed"]),
        "n_paths": int(table.attrs["n_paths"]),
        "essay": str(table["ordering"].values[table["essay"].values][0]),
        "scenarios": _shares_to_json(table, "ordering", ""),
        "events": _shares_to_json(table, "event", "event_"),
        "attribution": {
            str(scenario): indices_to_json(
                indices, ("shapley",) if "shapley" in indices else ("first_order", "total")
            )
            for scenario, indices in (attribution or {}).items()
        },
    }
