"""Physical vetting penalties applied to blended class probabilities (Dagster-free).

The rules live in a versioned YAML (`exo_assets/data/config/vetting.yaml`, see its comments). Each
rule tests one numeric feature (`op` ">", ">=", "<", "<=" against `threshold`, or "outside" the
closed interval `thresholds: [low, high]`) and, when triggered, adds its `weight` to the row's
penalty. A NaN feature never triggers. Version 2 adds per-mission thresholds (`threshold_by_mission`,
set on simulated injections by `exo-assets bench vetting`; `VettingConfig.for_mission` resolves them),
the injection record of each rule (`injection`) and of the file (`fitted`), and the stage's fitted
`temperature` and `bias` (`exo_assets.models.vetting_fit` fits weights, bias and temperature on
out-of-fold predictions).

Operation (in logit space, after the blend):

    logits = temperature x log(clip(p, 1e-12, 1))
    logits[:, c] += bias + penalty   for every negative class c (default ["FP"])
    p' = softmax(logits)

Adding w to every negative class equals subtracting w from every other (planet) class, because
softmax is shift invariant: the odds (planet classes) : (negative classes) are multiplied by
exp(-penalty), the ratios within each group (e.g. CP : PC) are unchanged, rows sum to 1, and with
temperature 1 and bias 0 (version-1 files) a row without flags is returned exactly as given.

The negative classes come from the YAML (`negative_classes`, default ["FP"]); a caller whose labels
differ (e.g. the TESS vetting set PC / EB / J) passes `negative_classes=["EB", "J"]` to
`apply_vetting`. At least one of them must be among the classes, and not all classes may be negative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from exo_assets.models.calibration import EPS

SUPPORTED_VERSIONS: frozenset[int] = frozenset({1, 2})
COMPARISON_OPS: frozenset[str] = frozenset({">", ">=", "<", "<="})
OPS: frozenset[str] = COMPARISON_OPS | {"outside"}
_RULE_KEYS = {
    "flag",
    "feature",
    "op",
    "threshold",
    "thresholds",
    "weight",
    "description",
    "threshold_by_mission",
    "injection",
}
_TOP_KEYS = {"version", "negative_classes", "rules", "temperature", "bias", "fitted", "mission"}


class VettingConfigError(ValueError):
    """A vetting configuration that does not follow the schema."""


def default_config_path() -> Path:
    """The packaged vetting YAML."""
    return Path(str(resources.files("exo_assets") / "data" / "config" / "vetting.yaml"))


@dataclass(frozen=True)
class VettingRule:
    """One flag: `feature op threshold` (or outside `thresholds`) adds `weight` to the logit penalty."""

    flag: str
    feature: str
    op: str
    weight: float
    threshold: float | None = None
    thresholds: tuple[float, float] | None = None
    description: str = ""
    threshold_by_mission: dict = field(default_factory=dict, compare=False)
    injection: dict = field(default_factory=dict, compare=False)

    def for_mission(self, mission: str) -> VettingRule:
        """This rule with the threshold(s) set on `mission`'s injections (unchanged when it has none)."""
        t = self.threshold_by_mission.get(mission)
        if t is None:
            return self
        kw = {"thresholds": (float(t[0]), float(t[1]))} if self.op == "outside" else {"threshold": float(t)}
        return replace(self, **kw)

    def triggered(self, values: np.ndarray) -> np.ndarray:
        """Boolean per value (NaN -> False)."""
        v = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(v)
        with np.errstate(invalid="ignore"):
            if self.op == "outside":
                assert self.thresholds is not None  # set for every "outside" rule
                lo, hi = self.thresholds
                hit = (v < lo) | (v > hi)
            else:
                t = self.threshold
                assert t is not None  # set for every comparison rule
                if self.op == ">":
                    hit = v > t
                elif self.op == ">=":
                    hit = v >= t
                elif self.op == "<":
                    hit = v < t
                else:
                    hit = v <= t
        return hit & finite

    def to_dict(self) -> dict:
        d = {"flag": self.flag, "feature": self.feature, "op": self.op, "weight": float(self.weight)}
        if self.op == "outside":
            assert self.thresholds is not None  # set for every "outside" rule
            d["thresholds"] = [float(t) for t in self.thresholds]
        else:
            assert self.threshold is not None  # set for every comparison rule
            d["threshold"] = float(self.threshold)
        if self.description:
            d["description"] = self.description
        if self.threshold_by_mission:
            d["threshold_by_mission"] = dict(self.threshold_by_mission)
        if self.injection:
            d["injection"] = dict(self.injection)
        return d


@dataclass(frozen=True)
class VettingConfig:
    """A validated vetting configuration.

    Attributes:
        version: schema version of the YAML.
        rules: the rules, in file order.
        negative_classes: classes that receive the penalty (default ("FP",)).
        source: where it was read from ('' when built from a dict).
    """

    version: int
    rules: tuple[VettingRule, ...]
    negative_classes: tuple[str, ...] = ("FP",)
    source: str = field(default="", compare=False)
    temperature: float = 1.0
    bias: float = 0.0
    fitted: dict = field(default_factory=dict, compare=False)
    mission: str = ""

    def for_mission(self, mission: str) -> VettingConfig:
        """The configuration with every rule's threshold set on `mission`'s injections."""
        return replace(self, rules=tuple(r.for_mission(mission) for r in self.rules), mission=mission)

    @property
    def flags(self) -> list[str]:
        return [r.flag for r in self.rules]

    def to_dict(self) -> dict:
        """JSON/YAML-serialisable dict (what `from_dict` reads)."""
        d = {"version": int(self.version), "negative_classes": list(self.negative_classes)}
        if self.version >= 2:
            d.update(temperature=float(self.temperature), bias=float(self.bias))
            if self.mission:
                d["mission"] = self.mission
            if self.fitted:
                d["fitted"] = self.fitted
        d["rules"] = [r.to_dict() for r in self.rules]
        return d

    @classmethod
    def from_dict(cls, data, source: str = "", known_features=None) -> VettingConfig:
        """Validate a parsed configuration.

        Args:
            data: the parsed YAML / JSON mapping.
            source: label used in error messages.
            known_features: when given, every rule's feature must be one of them.

        Raises:
            VettingConfigError (a ValueError) naming the offending rule and key.
        """
        where = f" in {source}" if source else ""

        def err(msg: str) -> VettingConfigError:
            return VettingConfigError(f"vetting config{where}: {msg}")

        if not isinstance(data, dict):
            raise err(f"top level must be a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - _TOP_KEYS)
        if unknown:
            raise err(f"unknown top-level keys {unknown} (allowed: {sorted(_TOP_KEYS)})")
        if "version" not in data:
            raise err("missing 'version'")
        version = data["version"]
        if isinstance(version, bool) or not isinstance(version, int) or version not in SUPPORTED_VERSIONS:
            raise err(f"unsupported version {version!r} (supported: {sorted(SUPPORTED_VERSIONS)})")
        neg = data.get("negative_classes", ["FP"])
        if isinstance(neg, str):
            neg = [neg]
        if not isinstance(neg, list) or not neg or not all(isinstance(c, str) and c for c in neg):
            raise err(f"'negative_classes' must be a non-empty list of class names, got {neg!r}")
        rules_raw = data.get("rules")
        if not isinstance(rules_raw, list):
            raise err(f"'rules' must be a list, got {type(rules_raw).__name__}")
        known = None if known_features is None else set(known_features)
        rules, seen = [], set()
        for i, raw in enumerate(rules_raw):
            name = f"rule #{i}"
            if not isinstance(raw, dict):
                raise err(f"{name} must be a mapping, got {type(raw).__name__}")
            if isinstance(raw.get("flag"), str) and raw["flag"]:
                name = f"rule #{i} ({raw['flag']!r})"
            bad = sorted(set(raw) - _RULE_KEYS)
            if bad:
                raise err(f"{name}: unknown keys {bad} (allowed: {sorted(_RULE_KEYS)})")
            for key in ("flag", "feature", "op", "weight"):
                if key not in raw:
                    raise err(f"{name}: missing '{key}'")
            flag, feature, op = raw["flag"], raw["feature"], raw["op"]
            if not isinstance(flag, str) or not flag.isidentifier():
                raise err(f"{name}: 'flag' must be an identifier-like string, got {flag!r}")
            if flag in seen:
                raise err(f"{name}: duplicate flag {flag!r}")
            seen.add(flag)
            if not isinstance(feature, str) or not feature:
                raise err(f"{name}: 'feature' must be a column name, got {feature!r}")
            if known is not None and feature not in known:
                raise err(f"{name}: unknown feature {feature!r} (not a numeric feature-table column)")
            if op not in OPS:
                raise err(f"{name}: unknown op {op!r} (allowed: {sorted(OPS)})")
            weight = _number(raw["weight"])
            if weight is None or weight < 0:
                raise err(f"{name}: 'weight' must be a finite number >= 0, got {raw['weight']!r}")
            threshold = thresholds = None
            if op == "outside":
                if "threshold" in raw:
                    raise err(f"{name}: op 'outside' takes 'thresholds: [low, high]', not 'threshold'")
                t = raw.get("thresholds")
                vals = [_number(v) for v in t] if isinstance(t, list) else []
                nums = [v for v in vals if v is not None]
                if len(vals) != 2 or len(nums) != 2 or not nums[0] < nums[1]:
                    raise err(
                        f"{name}: op 'outside' needs 'thresholds: [low, high]' with finite low < high, "
                        f"got {t!r}"
                    )
                thresholds = (nums[0], nums[1])
            else:
                if "thresholds" in raw:
                    raise err(f"{name}: op {op!r} takes a single 'threshold', not 'thresholds'")
                if "threshold" not in raw:
                    raise err(f"{name}: missing 'threshold'")
                threshold = _number(raw["threshold"])
                if threshold is None:
                    raise err(f"{name}: 'threshold' must be a finite number, got {raw['threshold']!r}")
            desc = raw.get("description", "")
            if not isinstance(desc, str):
                raise err(f"{name}: 'description' must be text")
            per = raw.get("threshold_by_mission", {}) or {}
            if not isinstance(per, dict):
                raise err(f"{name}: 'threshold_by_mission' must map mission -> threshold")
            for m, t in per.items():
                vals = [_number(v) for v in t] if isinstance(t, list) else [_number(t)]
                nums = [v for v in vals if v is not None]
                want = 2 if op == "outside" else 1
                if len(vals) != want or len(nums) != want or (want == 2 and not nums[0] < nums[1]):
                    shape = "[low, high]" if want == 2 else "a number"
                    raise err(f"{name}: threshold_by_mission[{m!r}] must be {shape}, got {t!r}")
            inj = raw.get("injection", {}) or {}
            if not isinstance(inj, dict):
                raise err(f"{name}: 'injection' must be a mapping (the record of the injections)")
            rules.append(
                VettingRule(
                    flag=flag,
                    feature=feature,
                    op=op,
                    weight=weight,
                    threshold=threshold,
                    thresholds=thresholds,
                    description=desc,
                    threshold_by_mission=dict(per),
                    injection=dict(inj),
                )
            )
        temperature = _number(data.get("temperature", 1.0))
        bias = _number(data.get("bias", 0.0))
        if temperature is None or temperature <= 0:
            raise err(f"'temperature' must be a finite number > 0, got {data.get('temperature')!r}")
        if bias is None:
            raise err(f"'bias' must be a finite number, got {data.get('bias')!r}")
        fitted = data.get("fitted", {}) or {}
        if not isinstance(fitted, dict):
            raise err("'fitted' must be a mapping (what the rules were fitted on)")
        mission = data.get("mission", "") or ""
        if not isinstance(mission, str):
            raise err(f"'mission' must be text, got {mission!r}")
        return cls(
            version=version,
            rules=tuple(rules),
            negative_classes=tuple(neg),
            source=source,
            temperature=temperature,
            bias=bias,
            fitted=dict(fitted),
            mission=mission,
        )


def _number(value) -> float | None:
    """A finite float, or None (bools and strings are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def load_vetting_config(path: str | Path | None = None, validate_features: bool = True) -> VettingConfig:
    """Read and validate a vetting YAML (default: the packaged one).

    Args:
        path: YAML file; None -> `default_config_path()`.
        validate_features: check each rule's feature against the feature table's numeric columns
            (`exo_assets.science.features.MODEL_FEATURES`).

    Raises:
        FileNotFoundError for a missing file, VettingConfigError (ValueError) for bad YAML or schema.
    """
    path = Path(path) if path is not None else default_config_path()
    text = path.read_text()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise VettingConfigError(f"vetting config in {path}: not valid YAML: {exc}") from exc
    known = None
    if validate_features:
        from exo_assets.science.features import MODEL_FEATURES

        known = MODEL_FEATURES
    return VettingConfig.from_dict(data, source=str(path), known_features=known)


@dataclass
class VettingResult:
    """Output of `apply_vetting`.

    Attributes:
        proba: (n, k) probabilities after the penalties (rows sum to 1).
        flags: one boolean column per rule (named by its flag), index aligned with the features.
        penalty: total logit penalty per row (sum of the weights of triggered rules), same index.
        negative_classes: the classes that received the penalty.
    """

    proba: np.ndarray
    flags: pd.DataFrame
    penalty: pd.Series
    negative_classes: list[str]


def apply_vetting(
    proba: np.ndarray,
    features: pd.DataFrame,
    classes: list[str],
    config: VettingConfig | None = None,
    negative_classes: list[str] | None = None,
    allow_missing: bool = False,
) -> VettingResult:
    """Apply the vetting penalties (see the module docstring for the exact operation).

    Args:
        proba: (n, k) blended probabilities, columns in the order of `classes`.
        features: n rows (same order as `proba`) holding the rules' feature columns.
        classes: class names.
        config: vetting configuration (None -> the packaged YAML).
        negative_classes: overrides `config.negative_classes` (e.g. ["EB", "J"]); those absent from
            `classes` are ignored, but at least one must be present.
        allow_missing: a rule whose feature column is absent never triggers (else ValueError).
    """
    config = config if config is not None else load_vetting_config()
    classes = [str(c) for c in classes]
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != len(classes):
        raise ValueError(f"proba must have shape (n, {len(classes)}), got {p.shape}")
    if len(features) != p.shape[0]:
        raise ValueError(f"features has {len(features)} rows, proba has {p.shape[0]}")
    neg = list(negative_classes) if negative_classes is not None else list(config.negative_classes)
    neg_idx = [classes.index(c) for c in neg if c in classes]
    if not neg_idx:
        raise ValueError(
            f"none of the negative classes {neg} is among the classes {classes}; "
            "pass negative_classes= (e.g. ['EB', 'J'])"
        )
    if len(neg_idx) == len(classes):
        raise ValueError(f"every class {classes} is negative: the penalty would change nothing")
    missing = [r.feature for r in config.rules if r.feature not in features.columns]
    if missing and not allow_missing:
        raise ValueError(f"features lack the vetting columns {sorted(set(missing))}")

    flags = pd.DataFrame(index=features.index)
    penalty = np.zeros(p.shape[0])
    for rule in config.rules:
        if rule.feature in features.columns:
            values = pd.to_numeric(features[rule.feature], errors="coerce").to_numpy(dtype=np.float64)
            hit = rule.triggered(values)
        else:
            hit = np.zeros(p.shape[0], dtype=bool)
        flags[rule.flag] = hit
        penalty += rule.weight * hit

    logits = config.temperature * np.log(np.clip(p, EPS, 1.0))
    logits[:, neg_idx] += config.bias + penalty[:, None]
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    out /= out.sum(axis=1, keepdims=True)
    if config.temperature == 1.0 and config.bias == 0.0:
        # Rows without a flag are returned exactly as given.
        clean = penalty == 0
        out[clean] = p[clean]
    return VettingResult(
        proba=out,
        flags=flags,
        penalty=pd.Series(penalty, index=features.index, name="penalty"),
        negative_classes=[classes[i] for i in neg_idx],
    )
