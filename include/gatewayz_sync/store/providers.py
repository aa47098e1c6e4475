"""Provider rows: upsert the registry, deactivate providers that left it, never touch operator switches.

A deploy makes every registry column match the code: a row whose columns differ (a hand edit of `name`, say) is
rewritten even when the registry itself did not change; identical rows are left alone."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..sources.specs import Provider, registry_fingerprint

PROVIDER_COLUMNS = (
    "slug",
    "name",
    "color",
    "priority",
    "site_url",
    "icon",
    "aliases",
    "api_base_url",
    "api_docs_url",
    "api_key_env",
    "has_list_api",
    "supports_streaming",
    "registry_fingerprint",
)


@dataclass(frozen=True)
class ProviderSyncResult:
    total: int
    added: list[str]
    updated: list[str]
    deactivated: list[str]
    unchanged: list[str]
    models_deactivated: int

    @property
    def changed_anything(self) -> bool:
        return bool(self.added or self.updated or self.deactivated or self.models_deactivated)

    def summary_line(self) -> str:
        line = (
            f"Synced {self.total} providers ({len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.deactivated)} deactivated, {len(self.unchanged)} unchanged)"
        )
        if self.models_deactivated:
            line += f"; {self.models_deactivated} models of removed providers deactivated"
        if not self.changed_anything:
            line += "; nothing changed"
        return line


def provider_row(provider: Provider) -> tuple:
    spec = provider.list_api
    return (
        provider.slug,
        provider.name,
        provider.color,
        provider.priority.value,
        provider.site_url,
        provider.icon,
        list(provider.aliases),
        spec.base_url if spec else None,
        provider.docs_url,
        provider.api_key_env if spec else None,
        spec is not None,
        provider.supports_streaming,
        registry_fingerprint(provider),
    )


UPSERT_SQL = f"""
INSERT INTO providers ({", ".join(PROVIDER_COLUMNS)}, is_active)
SELECT {", ".join(PROVIDER_COLUMNS)}, true FROM stage_providers
ON CONFLICT (slug) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in PROVIDER_COLUMNS if c != "slug")},
    is_active = true,
    deactivated_at = NULL,
    updated_at = now()
WHERE ({", ".join(f"providers.{c}" for c in PROVIDER_COLUMNS)})
      IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in PROVIDER_COLUMNS)})
   OR NOT providers.is_active
RETURNING slug, (xmax = 0) AS inserted
"""

DEACTIVATE_PROVIDERS_SQL = """
UPDATE providers SET is_active = false, deactivated_at = now(), updated_at = now()
WHERE is_active AND slug <> ALL(%s)
RETURNING id, slug
"""

DEACTIVATE_MODELS_SQL = """
WITH gone AS (
    UPDATE models SET is_active = false, deactivated_at = now(), updated_at = now()
    WHERE provider_id = ANY(%s) AND is_active
    RETURNING id, provider_id, provider_model_id
)
INSERT INTO model_changes (provider_id, model_id, provider_model_id, kind, field, old_value, new_value)
SELECT provider_id, id, provider_model_id, 'removed', 'provider', 'active', 'provider left the registry'
FROM gone
"""


def sync_registry(connection, providers: Iterable[Provider]) -> ProviderSyncResult:
    """Upsert every registry provider and deactivate the rest, in one transaction on `connection`."""
    providers = list(providers)
    slugs = [p.slug for p in providers]
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended('gatewayz.providers', 0))")
        cursor.execute(
            f"CREATE TEMP TABLE stage_providers ON COMMIT DROP AS "
            f"SELECT {', '.join(PROVIDER_COLUMNS)} FROM providers WITH NO DATA"
        )
        with cursor.copy(f"COPY stage_providers ({', '.join(PROVIDER_COLUMNS)}) FROM STDIN") as copy:
            for provider in providers:
                copy.write_row(provider_row(provider))
        cursor.execute(UPSERT_SQL)
        written = cursor.fetchall()
        added = sorted(slug for slug, inserted in written if inserted)
        updated = sorted(slug for slug, inserted in written if not inserted)
        cursor.execute(DEACTIVATE_PROVIDERS_SQL, (slugs,))
        gone = cursor.fetchall()
        models_deactivated = 0
        if gone:
            cursor.execute(DEACTIVATE_MODELS_SQL, ([provider_id for provider_id, _ in gone],))
            models_deactivated = cursor.rowcount
    touched = set(added) | set(updated)
    return ProviderSyncResult(
        total=len(providers),
        added=added,
        updated=updated,
        deactivated=sorted(slug for _, slug in gone),
        unchanged=sorted(s for s in slugs if s not in touched),
        models_deactivated=models_deactivated,
    )


def syncable_slugs(connection) -> list[str]:
    """Providers a full model sync covers: in the registry, active, not disabled by an operator, with a list API."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT slug FROM providers WHERE is_active AND NOT disabled_by_operator ORDER BY slug"
        )
        return [slug for (slug,) in cursor.fetchall()]


NOT_IN_CATALOG = "not in the catalog yet (run gatewayz_sync_providers)"
DEACTIVATED = "no longer in the registry (deactivated)"
DISABLED = "disabled by an operator"


def catalog_skip_reason(row: tuple[bool, bool] | None) -> str | None:
    """Why the catalog holds a provider back from a model sync, from its (is_active, disabled_by_operator), or None."""
    if row is None:
        return NOT_IN_CATALOG
    is_active, disabled = row
    if not is_active:
        return DEACTIVATED
    return DISABLED if disabled else None


def catalog_skip_reasons(connection, slugs: list[str]) -> dict[str, str]:
    """`catalog_skip_reason` for each of these providers that the catalog holds back, in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT slug, is_active, disabled_by_operator FROM providers WHERE slug = ANY(%s)", (list(slugs),)
        )
        rows = {slug: (is_active, disabled) for slug, is_active, disabled in cursor.fetchall()}
    reasons = {slug: catalog_skip_reason(rows.get(slug)) for slug in slugs}
    return {slug: reason for slug, reason in reasons.items() if reason is not None}
