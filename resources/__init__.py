"""Dagster resources and IO managers of exo-assets."""

from resources.archive import LightCurveArchive
from resources.compute import ComputeResource
from resources.external_views import ExternalViewsSource
from resources.io_managers import ExoIOManager

__all__ = ["ComputeResource", "ExoIOManager", "ExternalViewsSource", "LightCurveArchive"]
