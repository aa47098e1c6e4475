"""`model_prices`: the one writer of a model's price rows, used by the model sync (list-API prices) and the price
resolver (operator and reference prices), each inside its own transaction.

`write_price_sheets` makes the rows of the given models equal their sheets, writing only the differences (an
unchanged sheet rewrites nothing), and returns each changed price that has no flat column of `models`: those
become `price_changed` rows named by the price's slug (`input/character`, `input/token>256000`), while a change
of a flat column is recorded under the column's name by the caller, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from ..catalog.meters import BASE_COLUMNS, LONG_CONTEXT_COLUMNS, SERVICE_COLUMNS, PriceKey, PriceSheet, price_key
from .copy_text import encode_row

KEY_COLUMNS = ("meter", "unit", "above_input_tokens", "service_tier", "time_window", "option")
VALUE_COLUMNS = ("amount_usd", "source", "source_model_id", "source_version", "checked_at")


@dataclass(frozen=True)
class SheetWrite:
    """The sheet a model is to be billed by, and what to record with its rows."""

    sheet: PriceSheet
    source: str | None
    source_version: str | None = None
    checked_at: date | None = None
    source_model_id: str | None = None
    # the entry, version and date of every source whose prices are in the sheet: source -> (id, version, date)
    merged: Mapping[str, tuple[str | None, str | None, date | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class RowChange:
    model_id: int
    key: PriceKey
    old: Decimal | None
    new: Decimal | None
    source: str | None


@dataclass
class PriceRowWrites:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    changes: list[RowChange] = field(default_factory=list)


def flat_keys(sheet: PriceSheet) -> set[PriceKey]:
    """The keys of `sheet` that a flat column of `models` stands for (their changes are recorded by column)."""
    keys = {key for key in sheet if key in BASE_COLUMNS or key in SERVICE_COLUMNS}
    thresholds = sorted({k.above_input_tokens for k in sheet if k.above_input_tokens and k.meter in LONG_CONTEXT_COLUMNS
                         and k.unit == "token" and k.service_tier == "standard" and not k.time_window and not k.option})
    if thresholds:
        keys |= {PriceKey(meter, above_input_tokens=thresholds[0]) for meter in LONG_CONTEXT_COLUMNS}
    return keys


def load_price_rows(cursor, model_ids: list[int]) -> dict[int, dict[PriceKey, tuple]]:
    """model id -> key -> (amount, source, source_model_id, source_version, checked_at), for the given models."""
    rows: dict[int, dict[PriceKey, tuple]] = {model_id: {} for model_id in model_ids}
    if not model_ids:
        return rows
    cursor.execute(
        f"""SELECT model_id, {", ".join(KEY_COLUMNS)}, {", ".join(VALUE_COLUMNS)} FROM model_prices
            WHERE model_id = ANY(%s)""",
        (model_ids,),
    )
    for model_id, meter, unit, above, tier, window, option, *values in cursor.fetchall():
        rows[model_id][price_key(meter, unit, above, tier, window, option)] = tuple(values)
    return rows


def stored_sheets(cursor, model_ids: list[int]) -> dict[int, PriceSheet]:
    """Each model's stored price rows as a sheet (with each price's source)."""
    return {model_id: PriceSheet({k: v[0] for k, v in rows.items()}, {k: v[1] for k, v in rows.items()})
            for model_id, rows in load_price_rows(cursor, model_ids).items()}


def write_price_sheets(cursor, writes: Mapping[int, SheetWrite]) -> PriceRowWrites:
    """Make the price rows of every model in `writes` equal its sheet; only differing rows are written."""
    result = PriceRowWrites()
    if not writes:
        return result
    existing = load_price_rows(cursor, list(writes))
    upserts: list[tuple] = []
    deletes: list[tuple] = []
    for model_id, write in writes.items():
        old_rows = existing.get(model_id, {})
        flat: set[PriceKey] | None = None

        def flat_either(old_rows=old_rows, write=write) -> set[PriceKey]:
            return flat_keys(PriceSheet({k: v[0] for k, v in old_rows.items()})) | flat_keys(write.sheet)

        for key, amount in write.sheet.items():
            source = write.sheet.source_of(key) or write.source
            entry, version, checked = write.merged.get(
                source, (write.source_model_id, write.source_version, write.checked_at))
            wanted = (amount, source, entry, version, checked)
            before = old_rows.get(key)
            if before is not None and (Decimal(before[0]), *before[1:]) == wanted:
                continue
            upserts.append((model_id, key, wanted))
            if before is None:
                result.inserted += 1
            else:
                result.updated += 1
            old_amount = None if before is None else Decimal(before[0])
            if old_amount != amount:
                flat = flat_either() if flat is None else flat
                if key not in flat:
                    result.changes.append(RowChange(model_id, key, old_amount, amount, source))
        for key, before in old_rows.items():
            if key not in write.sheet:
                deletes.append((model_id, key))
                result.deleted += 1
                flat = flat_either() if flat is None else flat
                if key not in flat:
                    result.changes.append(RowChange(model_id, key, Decimal(before[0]), None, write.source))
    if deletes:
        cursor.execute(f"CREATE TEMP TABLE stage_price_deletes (model_id bigint, {', '.join(f'{c} text' for c in KEY_COLUMNS)})"
                       " ON COMMIT DROP")
        with cursor.copy(f"COPY stage_price_deletes (model_id, {', '.join(KEY_COLUMNS)}) FROM STDIN") as copy:
            for model_id, key in deletes:
                copy.write(encode_row((model_id, *_key_values(key))))
        cursor.execute(
            """DELETE FROM model_prices p USING stage_price_deletes d
                WHERE p.model_id = d.model_id AND p.meter = d.meter AND p.unit = d.unit
                  AND p.above_input_tokens = d.above_input_tokens::integer AND p.service_tier = d.service_tier
                  AND p.time_window = coalesce(d.time_window, '') AND p.option = coalesce(d.option, '')"""
        )
        cursor.execute("DROP TABLE stage_price_deletes")
    if upserts:
        columns = ("model_id", *KEY_COLUMNS, *VALUE_COLUMNS)
        cursor.execute("CREATE TEMP TABLE stage_price_rows ON COMMIT DROP AS "
                       f"SELECT {', '.join(columns)} FROM model_prices WITH NO DATA")
        with cursor.copy(f"COPY stage_price_rows ({', '.join(columns)}) FROM STDIN") as copy:
            for model_id, key, (amount, source, entry, version, checked) in upserts:
                copy.write(encode_row((model_id, *_key_values(key), str(amount), source, entry, version,
                                       checked.isoformat() if checked else None)))
        cursor.execute(
            f"""INSERT INTO model_prices ({", ".join(columns)})
                SELECT {", ".join(columns)} FROM stage_price_rows
                ON CONFLICT ON CONSTRAINT model_prices_key DO UPDATE SET
                    {", ".join(f"{c} = EXCLUDED.{c}" for c in VALUE_COLUMNS)}, updated_at = now()"""
        )
        cursor.execute("DROP TABLE stage_price_rows")
    return result


def _key_values(key: PriceKey) -> tuple:
    return (key.meter, key.unit, key.above_input_tokens, key.service_tier, key.time_window, key.option)
