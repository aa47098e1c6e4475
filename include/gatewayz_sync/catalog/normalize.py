"""Raw provider records -> validated `NormalizedModel`s.

A broken field is nulled and counted with a reason; a record without a usable id is rejected and counted;
neither ever aborts the provider. The provider's own id is kept verbatim. Duplicate ids in one listing are
collapsed to their first occurrence. The keys every record carries are counted (`shape`), so a listing whose
shape drifted can be named.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from .. import clock
from ..sources import quirks
from ..sources.paths import read_path
from ..sources.specs import UNIT_METERS, ListApiSpec, PriceUnit, UnitPrice
from ..untrusted import has_controls, strip_controls
from .fields import FieldIssue, capability, clean_text, first, modalities, timestamp, token_count
from .kinds import declared_kind, kind_of
from .lifecycle import is_placeholder
from .meters import CHARACTER, TOKEN, PriceKey, PriceSheet
from .records import (
    MAX_DESCRIPTION_LENGTH,
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
    MODALITY_CAPABILITIES,
    NormalizedModel,
    content_hash,
    dumps_json,
    hash_prefix,
)
from .shape import ShapeCounter
from .units import InvalidPrice, usd_each, usd_per_mtok


@dataclass
class NormalizeReport:
    records_seen: int = 0
    accepted: int = 0
    filtered_out: int = 0
    duplicates: int = 0
    unchanged_skipped: int = 0
    rejected: Counter = field(default_factory=Counter)
    nulled: Counter = field(default_factory=Counter)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "records_seen": self.records_seen,
            "accepted": self.accepted,
            "filtered_out": self.filtered_out,
            "duplicates": self.duplicates,
            "unchanged_not_renormalized": self.unchanged_skipped,
            "rejected": dict(sorted(self.rejected.items())),
            "nulled": dict(sorted(self.nulled.items())),
        }


@dataclass(slots=True)
class CheckedRecord:
    """A record past the filter, id and duplicate checks, with its content hash; not normalized yet."""

    model_id: str
    view: Any
    record: Mapping[str, Any]
    raw_json: bytes
    content_hash: str


MAX_PRICE_LISTS = 10_000
_EXACT_TEXT = (Decimal, float)
_PLAIN_VALUES = (str, int, bool, type(None))


@dataclass(frozen=True, slots=True)
class ListedPrices:
    """One record's listed prices as read: the sheet (zeros included) and without its zeros, the raw price fields,
    the variable flag, the unusable fields in words and as counted reasons."""

    sheet: PriceSheet
    without_zeros: PriceSheet
    raw_pricing: dict[str, Any] | None
    variable: bool
    problems: tuple[str, ...]
    nulled: tuple[str, ...]


def _price_list_key(per_character: bool, raws: list[Any], examples: list[Any]) -> tuple | None:
    """A key equal only for raw values of the same types and text; None when one is a list or an object."""
    key: list[Any] = [per_character]
    for raw in (*raws, *examples):
        kind = type(raw)
        if kind in _EXACT_TEXT:
            key.append((kind, str(raw)))
        elif kind in _PLAIN_VALUES:
            key.append((kind, raw))
        else:
            return None
    return tuple(key)


class RecordNormalizer:
    """Normalizes one provider's records; keeps the counts for its sync_runs row."""

    def __init__(self, spec: ListApiSpec, now: datetime | None = None):
        self.spec = spec
        self.now = now or clock.now()
        self.fields = spec.fields
        self.hash_prefix = hash_prefix(spec)
        self.prepare = quirks.RECORD_QUIRKS[spec.quirk] if spec.quirk else None
        self.keep = quirks.RECORD_FILTERS[spec.record_filter] if spec.record_filter else None
        self.report = NormalizeReport()
        self._token_meters, self._character_meters = (self._meters(TOKEN), self._meters(CHARACTER))
        self.shape = ShapeCounter()
        self._seen_ids: set[str] = set()
        self._price_lists: dict[tuple, ListedPrices] = {}

    def normalize_all(self, records: Iterable[Any]) -> Iterator[NormalizedModel]:
        for record in records:
            model = self.normalize(record)
            if model is not None:
                yield model

    def normalize(self, record: Any) -> NormalizedModel | None:
        checked = self.check(record)
        return None if checked is None else self.finish(checked)

    def check(self, record: Any) -> CheckedRecord | None:
        """Filter, id checks, duplicate collapse and the content hash: everything short of normalizing.

        None for a record that is filtered, rejected or a duplicate (each counted).
        """
        report = self.report
        report.records_seen += 1
        if not isinstance(record, Mapping):
            report.rejected["record_not_object"] += 1
            return None
        if self.keep is not None and not self.keep(record):
            report.filtered_out += 1
            return None
        self.shape.count(record)
        view = self.prepare(record) if self.prepare else record
        model_id = read_path(view, self.fields.id)
        reason = self._id_problem(model_id)
        if reason:
            report.rejected[reason] += 1
            return None
        if model_id in self._seen_ids:
            report.duplicates += 1
            return None
        self._seen_ids.add(model_id)
        raw_json = dumps_json(record, sort_keys=True)
        if b"\\u0000" in raw_json:
            raw_json = raw_json.replace(b"\\u0000", b"")
            self.report.nulled["raw_nul_characters_removed"] += 1
        raw_for_hash = raw_json
        if self.spec.volatile_fields:
            stable = {k: v for k, v in record.items() if k not in self.spec.volatile_fields}
            raw_for_hash = dumps_json(stable, sort_keys=True)
        return CheckedRecord(model_id, view, record, raw_json, content_hash(self.hash_prefix, raw_for_hash))

    def finish(self, checked: CheckedRecord) -> NormalizedModel:
        """Normalize a checked record (counted as accepted)."""
        self.report.accepted += 1
        return self._build(checked)

    def accept_unchanged(self, checked: CheckedRecord) -> None:
        """Count a checked record whose hash equals the stored row's: accepted, and not normalized again."""
        self.report.accepted += 1
        self.report.unchanged_skipped += 1

    @staticmethod
    def _id_problem(model_id: Any) -> str | None:
        if not isinstance(model_id, str) or not model_id.strip():
            return "id_missing"
        if len(model_id) > MAX_ID_LENGTH:
            return "id_too_long"
        if has_controls(model_id):
            return "id_control_characters"
        return None

    def _field(self, compute, fallback=None):
        try:
            return compute()
        except FieldIssue as issue:
            self.report.nulled[issue.reason] += 1
            return fallback

    def _build(self, checked: CheckedRecord) -> NormalizedModel:
        f, view, model_id = self.fields, checked.view, checked.model_id
        name = self._field(lambda: clean_text(first(view, f.name), "name", MAX_NAME_LENGTH)) or model_id
        description = self._field(lambda: clean_text(first(view, f.description), "description", MAX_DESCRIPTION_LENGTH))
        context_length = self._field(lambda: token_count(first(view, f.context_length), "context_length"))
        max_output = self._field(lambda: token_count(first(view, f.max_output_tokens), "max_output_tokens"))
        if context_length is not None and max_output is not None and max_output > context_length:
            self.report.nulled["max_output_tokens_above_context"] += 1
            max_output = None
        input_modalities = self._field(lambda: modalities(first(view, f.input_modalities), "input_modalities"))
        output_modalities = self._field(lambda: modalities(first(view, f.output_modalities), "output_modalities"))
        deprecation = self._date(view, f.deprecation_date, "deprecation_date")
        shutdown = self._date(view, f.shutdown_date, "shutdown_date")
        replacement = self._field(lambda: clean_text(first(view, f.replacement_model), "replacement_model",
                                                     MAX_ID_LENGTH))
        listed_prices = self._prices(view)
        listed, raw_pricing, variable = listed_prices.sheet, listed_prices.raw_pricing, listed_prices.variable
        max_input = self._field(lambda: token_count(first(view, f.max_input_tokens), "max_input_tokens"))
        capabilities = {name: capability(view, selector) for name, selector in f.capabilities.items()}
        listed_modalities = {"input": input_modalities, "output": output_modalities}
        for derived, (direction, modality) in MODALITY_CAPABILITIES.items():
            if capabilities.get(derived) is None and listed_modalities[direction] is not None:
                capabilities[derived] = modality in listed_modalities[direction]
        is_free = self._is_free(model_id, listed, variable)
        prices = listed if is_free else listed_prices.without_zeros
        reason = None if prices or is_free else self._unknown_reason(model_id, view, listed, variable,
                                                                     list(listed_prices.problems))

        return NormalizedModel(
            provider_model_id=model_id,
            name=name,
            description=description,
            context_length=context_length,
            max_output_tokens=max_output,
            input_modalities=input_modalities,
            output_modalities=output_modalities,
            prices=prices,
            price_is_variable=variable,
            raw_pricing=raw_pricing,
            capabilities=capabilities,
            is_free=is_free,
            deprecation_date=deprecation,
            shutdown_date=shutdown,
            replacement_model=replacement,
            raw_json=checked.raw_json,
            content_hash=checked.content_hash,
            kind=kind_of(model_id, view, f.kind, output_modalities),
            alias_of=self._alias_of(model_id, view),
            price_unknown_reason=reason,
            max_input_tokens=max_input,
        )

    def _date(self, view: Any, paths: tuple[str, ...], field_name: str) -> datetime | None:
        """A declared date, or None; a placeholder far in the future (`catalog/lifecycle.py`) is counted and dropped."""
        when = self._field(lambda: timestamp(first(view, paths), field_name))
        if when is not None and is_placeholder(when, self.now):
            self.report.nulled[f"{field_name}_placeholder"] += 1
            return None
        return when

    def _is_free(self, model_id: str, prices: PriceSheet, variable: bool) -> bool | None:
        """True only for the provider's explicit free variants priced at zero; False once any price is above zero;
        otherwise unknown (None).

        A zero alone means unknown: Together lists 0/0 for dedicated-only models and for models priced per
        image or second, OpenRouter for Lyria (priced per song).
        """
        if variable:
            return None
        if prices.any_positive:
            return False
        return True if self.explicit_free_variant(model_id) and prices else None

    def explicit_free_variant(self, model_id: str) -> bool:
        return model_id in self.spec.free_ids or model_id.endswith(self.spec.free_id_suffixes)

    def _alias_of(self, model_id: str, view: Any) -> str | None:
        group = self.fields.aliases
        if group is None:
            return None
        members, canonical = read_path(view, group.members), read_path(view, group.canonical)
        if isinstance(canonical, str) and canonical != model_id and isinstance(members, list) and canonical in members:
            return canonical
        return None

    def _meters(self, token_unit: str) -> list[tuple[PriceKey, str, Any]]:
        """(key, path, converter) of every price the spec reads, the token prices in `token_unit`."""
        unit = self.spec.price_unit
        meters = [(PriceKey(meter, token_unit), path, lambda raw: usd_per_mtok(raw, unit))
                  for meter, path in self.fields.token_prices.items()]
        for meter, where in self.fields.unit_prices_usd.items():
            path, each = (where.path, where.unit) if isinstance(where, UnitPrice) else (where, UNIT_METERS[meter])
            meters.append((PriceKey(meter, each), path, usd_each))
        return meters

    def _per_character(self, view: Any) -> bool:
        rule = self.fields.per_character
        return rule is not None and declared_kind(view, ((rule, "tts"),)) is not None

    def _prices(self, view: Any) -> ListedPrices:
        """The listed prices (zeros included), the raw price fields read, the variable flag, unusable fields.

        A listing repeats a few hundred price lists over thousands of models: each distinct list of raw values is
        converted once (keyed by type and exact text, so `1`, `1.0` and `True` stay apart); its counts of unusable
        fields are counted again for every record that lists it.
        """
        per_character = self._per_character(view)
        meters = self._character_meters if per_character else self._token_meters
        raws = [read_path(view, path) for _, path, _ in meters]
        examples = [read_path(view, path) for path in self.fields.example_prices.values()]
        key = _price_list_key(per_character, raws, examples)
        listed = None if key is None else self._price_lists.get(key)
        if listed is None:
            listed = self._convert_prices(meters, raws, examples)
            if key is not None and len(self._price_lists) < MAX_PRICE_LISTS:
                self._price_lists[key] = listed
        for reason in listed.nulled:
            self.report.nulled[reason] += 1
        return listed

    def _convert_prices(self, meters: list[tuple[PriceKey, str, Any]], raws: list[Any],
                        examples: list[Any]) -> ListedPrices:
        amounts: dict[PriceKey, Decimal] = {}
        raw_pricing: dict[str, Any] = {}
        problems: list[str] = []
        nulled: list[str] = []
        variable = False
        sentinel = self.spec.variable_price_sentinel
        for (key, path, convert), raw in zip(meters, raws, strict=True):
            if raw is None:
                continue
            raw_pricing[path] = raw
            if sentinel is not None and str(raw).strip() == sentinel:
                variable = True
                continue
            try:
                amounts[key] = convert(raw)
            except InvalidPrice as problem:
                nulled.append(f"{key.meter}_{problem.reason}")
                problems.append(f"{key.meter} {problem.reason.removeprefix('price_')}")
        for path, raw in zip(self.fields.example_prices.values(), examples, strict=True):
            if raw is not None:
                raw_pricing[path] = raw
        # every amount is an exact canonical Decimal already (catalog/units.py)
        sheet = PriceSheet._exact(amounts, {})
        return ListedPrices(sheet, sheet.without_zeros(), raw_pricing or None, variable, tuple(problems), tuple(nulled))

    def _unknown_reason(self, model_id: str, view: Any, listed: PriceSheet, variable: bool,
                        problems: list[str]) -> str:
        """Why a listed model has no price, in words (`models.price_unknown_reason`)."""
        spec = self.spec
        if variable:
            return f"the listing marks the price as variable ({spec.variable_price_sentinel}): no fixed price"
        if not spec.fields.token_prices and not spec.fields.unit_prices_usd and spec.price_unit is PriceUnit.NONE:
            return spec.prices_unread_reason or "the provider's list API publishes no prices"
        parts = []
        if listed:
            parts.append(f"listed as 0 ({', '.join(sorted({k.meter for k in listed}))}), which is not a price: "
                         "not an explicit free variant")
            if spec.zero_price_means:
                parts.append(spec.zero_price_means)
        elif problems:
            parts.append(f"no usable price in the listing ({', '.join(problems)})")
        else:
            parts.append("no price in the listing")
        for meter, path in self.fields.example_prices.items():
            quoted = read_path(view, path)
            if isinstance(quoted, Mapping) and quoted.get("example_price"):
                what = strip_controls(str(quoted.get("example_description") or "")).strip()[:120]
                parts.append(f"{meter} quoted only as an example, ${quoted['example_price']}"
                             + (f" ({what})" if what else "") + ", not a unit price")
        return "; ".join(parts)
