"""CRS choice, reprojection (axis order) and inference."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import CRS, Geod

from gisplan._errors import CRSError
from gisplan.crs import (
    CRSMismatchWarning,
    cgcs2000_gk_crs,
    infer_crs,
    metric_crs,
    same_crs_or_reproject,
    to_geographic,
    to_metric,
    transform_xy,
)
from gisplan.findings import Report

GEOD = Geod(ellps="WGS84")


def square(lon: float, lat: float, *, crs: object = 4326, size: float = 0.01) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["a"]}, geometry=[shapely.box(lon, lat, lon + size, lat + size)], crs=crs
    )


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (106.28, 36.0, 4544),  # Guyuan: CM 105°E
        (113.85, 34.03, 4547),  # Xuchang: CM 114°E
        (119.02, 33.6, 4549),  # Huai'an: CM 120°E
        (75.99, 39.47, 4534),  # Kashgar: CM 75°E
        (134.9, 48.3, 4554),  # Fuyuan: CM 135°E
    ],
)
def test_metric_crs_in_china_is_the_nearest_cgcs2000_gk_zone(
    lon: float, lat: float, epsg: int
) -> None:
    assert metric_crs(square(lon, lat)).to_epsg() == epsg


def test_metric_crs_central_meridian_is_nearest_multiple_of_three() -> None:
    assert "CM 120E" in metric_crs((119.02, 33.5, 119.1, 33.7)).name
    assert "CM 117E" in metric_crs((118.4, 33.5, 118.45, 33.7)).name


@pytest.mark.parametrize(
    ("bounds", "epsg"),
    [((2.2, 48.8, 2.4, 48.9), 32631), ((-70.7, -33.5, -70.5, -33.4), 32719),
     ((139.6, 35.6, 139.8, 35.7), 32654)],
)
def test_metric_crs_outside_china_is_utm(bounds: tuple[float, ...], epsg: int) -> None:
    assert metric_crs(bounds).to_epsg() == epsg


def test_metric_crs_of_projected_data_uses_its_location() -> None:
    projected = square(106.28, 36.0).to_crs(32648)
    assert metric_crs(projected).to_epsg() == 4544


def test_metric_crs_of_a_geoseries_and_bounds_with_crs() -> None:
    gs = square(113.85, 34.03).geometry
    assert metric_crs(gs).to_epsg() == 4547
    x, y = transform_xy([113.85, 113.9], [34.03, 34.1], src=4326, dst=3857)
    assert metric_crs((x[0], y[0], x[1], y[1]), crs=3857).to_epsg() == 4547


def test_zone_prefixed_variant() -> None:
    assert cgcs2000_gk_crs(120.15, zone_prefix=True).to_epsg() == 4528
    assert cgcs2000_gk_crs(60.0).to_epsg() == 4534  # clamped to the westmost zone


def test_to_metric_gives_true_lengths() -> None:
    gdf = square(106.28, 36.0, size=0.01)
    metric = to_metric(gdf)
    lons, lats = np.asarray(gdf.geometry[0].exterior.coords).T
    geodesic = GEOD.line_length(lons, lats)
    assert metric.geometry[0].length == pytest.approx(geodesic, rel=1e-3)
    assert metric.index.equals(gdf.index)


def test_epsg4490_layer_projects_with_lon_as_x() -> None:
    """EPSG:4490 declares latitude first; x must still be read as longitude."""
    g4490 = gpd.GeoDataFrame(geometry=[shapely.Point(105.0, 36.0)], crs=4490)
    metric = to_metric(g4490)
    assert metric.crs.to_epsg() == 4544
    assert metric.geometry[0].x == pytest.approx(500_000.0, abs=1e-6)  # on the central meridian
    assert metric.geometry[0].y == pytest.approx(3_985_542.67, abs=0.01)
    back = to_geographic(metric, crs=4490)
    assert back.geometry[0].x == pytest.approx(105.0, abs=1e-9)
    assert back.geometry[0].y == pytest.approx(36.0, abs=1e-9)


def test_transform_xy_of_4490_arrays_keeps_lon_lat_order() -> None:
    x, y = transform_xy(np.array([106.0, 114.0]), np.array([36.0, 34.0]), src=4490, dst=4326)
    np.testing.assert_allclose(x, [106.0, 114.0], atol=1e-6)
    np.testing.assert_allclose(y, [36.0, 34.0], atol=1e-6)


# ---------------------------------------------------------------- inference


def test_declared_crs_is_kept() -> None:
    crs, finding = infer_crs(square(106.0, 36.0, crs=4490))
    assert crs == CRS.from_epsg(4490)
    assert finding is None


def test_lonlat_without_crs_is_wgs84_with_a_warning() -> None:
    gdf = square(106.0, 36.0, crs=None)
    crs, finding = infer_crs(gdf, file="a.geojson", layer="compounds")
    assert crs.to_epsg() == 4326
    assert finding is not None
    assert (finding.severity, finding.code) == ("warning", "crs_inferred")
    assert finding.file == "a.geojson"
    assert "4490" in (finding.hint or "")


@pytest.mark.parametrize(("easting", "epsg"), [(35_512_000.0, 4523), (40_480_000.0, 4528)])
def test_zone_prefixed_gauss_kruger_is_recognised(easting: float, epsg: int) -> None:
    gdf = gpd.GeoDataFrame(geometry=[shapely.Point(easting, 4_000_000.0)])
    crs, finding = infer_crs(gdf)
    assert crs.to_epsg() == epsg
    assert finding is not None and finding.code == "crs_inferred"


def test_inferred_zone_puts_the_data_back_where_it_was() -> None:
    truth = gpd.GeoDataFrame(geometry=[shapely.Point(108.9, 34.3)], crs=4326).to_crs(4526)
    anonymous = truth.set_crs(None, allow_override=True)
    crs, _ = infer_crs(anonymous)
    lonlat = anonymous.set_crs(crs).to_crs(4326).geometry[0]
    assert (lonlat.x, lonlat.y) == pytest.approx((108.9, 34.3), abs=1e-7)


def test_six_degree_zone_prefix_is_recognised() -> None:
    gdf = gpd.GeoDataFrame(geometry=[shapely.Point(18_500_000.0, 3_900_000.0)])
    assert infer_crs(gdf)[0].to_epsg() == 4496


def test_unknown_projected_coordinates_raise_naming_file_bounds_and_fix() -> None:
    gdf = gpd.GeoDataFrame(geometry=[shapely.Point(512_000.0, 4_000_000.0)])
    with pytest.raises(CRSError) as err:
        infer_crs(gdf, file="管线.shp", layer="utilities")
    text = str(err.value)
    assert "管线.shp" in text
    assert "layer 'utilities'" in text
    assert "512000" in text
    assert "--crs" in text


def test_swapped_lat_lon_hint() -> None:
    gdf = gpd.GeoDataFrame(geometry=[shapely.Point(36.0, 106.0)])
    with pytest.raises(CRSError, match="swapped"):
        infer_crs(gdf)


# ---------------------------------------------------------------- mixing layers


def test_layer_in_another_crs_is_reprojected_with_a_warning_naming_both() -> None:
    compounds = square(106.28, 36.0)
    districts = square(106.27, 35.99, size=0.05).to_crs(4544)
    report = Report()
    with pytest.warns(CRSMismatchWarning, match=r"EPSG:4544.*EPSG:4326"):
        out = same_crs_or_reproject(compounds, districts, layer="districts", report=report)
    assert out.crs == compounds.crs
    assert out.geometry[0].contains(compounds.geometry[0])
    assert [f.code for f in report] == ["crs_reprojected"]


def test_same_crs_is_returned_untouched() -> None:
    a = square(106.28, 36.0)
    b = square(106.3, 36.0)
    assert same_crs_or_reproject(a, b) is b


def test_layer_without_crs_cannot_be_aligned() -> None:
    with pytest.raises(CRSError, match="layer 'districts'"):
        same_crs_or_reproject(square(106.0, 36.0), square(106.0, 36.0, crs=None),
                              layer="districts")
