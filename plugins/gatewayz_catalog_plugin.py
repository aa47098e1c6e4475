"""The plugins-folder way to load the gatewayz plugin (compose, `make run`, `make up`): the class lives in the package."""

from include.gatewayz_sync.web.plugin import GatewayzCatalogPlugin

__all__ = ["GatewayzCatalogPlugin"]
