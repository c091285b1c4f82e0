"""WGS84 ↔ GCJ-02 ↔ BD-09: reference values, round trips, identity outside China."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from gisplan.chinacoords import (
    CHINA_BBOX,
    bd09_to_gcj02,
    bd09_to_wgs84,
    convert,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")

# (wgs lat, wgs lon, gcj lat, gcj lon): the test vectors of the open "eviltransform"
# implementations (Go/PHP/Elixir ports carry the same three points).
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


def metres(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.fixture(scope="module")
def china_grid() -> tuple[np.ndarray, np.ndarray]:
    """A dense grid over mainland China's extent (≈ 160,000 points, every 0.1°–0.15°)."""
    lon, lat = np.meshgrid(np.linspace(73.5, 135.0, 420), np.linspace(18.0, 53.5, 380))
    return lon.ravel(), lat.ravel()


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVILTRANSFORM)
def test_wgs84_to_gcj02_matches_published_values(
    wlat: float, wlon: float, glat: float, glon: float
) -> None:
    lon, lat = wgs84_to_gcj02(wlon, wlat)
    assert (lon, lat) == pytest.approx((glon, glat), abs=1e-9)


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVILTRANSFORM)
def test_gcj02_to_wgs84_recovers_published_values(
    wlat: float, wlon: float, glat: float, glon: float
) -> None:
    lon, lat = gcj02_to_wgs84(glon, glat)
    assert (lon, lat) == pytest.approx((wlon, wlat), abs=1e-7)


def test_gcj02_to_bd09_matches_published_value() -> None:
    lon, lat = gcj02_to_bd09(121.531541859215, 31.17530398364597)
    assert (lon, lat) == pytest.approx((121.53801568643858, 31.181328606874466), abs=1e-9)


def test_gcj02_shift_is_hundreds_of_metres(china_grid: tuple[np.ndarray, np.ndarray]) -> None:
    lon, lat = china_grid
    glon, glat = wgs84_to_gcj02(lon, lat)
    d = metres(lon, lat, glon, glat)
    assert 100 < np.median(d) < 700
    assert d.max() < 1000


def test_gcj02_round_trip_below_half_a_metre(china_grid: tuple[np.ndarray, np.ndarray]) -> None:
    lon, lat = china_grid
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert metres(lon, lat, back_lon, back_lat).max() < 0.5
    assert np.abs(back_lon - lon).max() < 1e-7
    assert np.abs(back_lat - lat).max() < 1e-7


def test_inverse_is_exact_where_the_forward_lands(
    china_grid: tuple[np.ndarray, np.ndarray],
) -> None:
    """gcj02_to_wgs84 solves the forward function: forward(inverse(g)) == g."""
    glon, glat = china_grid
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    again_lon, again_lat = wgs84_to_gcj02(wlon, wlat)
    assert np.abs(again_lon - glon).max() < 1e-8
    assert np.abs(again_lat - glat).max() < 1e-8


def test_bd09_round_trip_below_half_a_metre(china_grid: tuple[np.ndarray, np.ndarray]) -> None:
    lon, lat = china_grid
    back_lon, back_lat = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert metres(lon, lat, back_lon, back_lat).max() < 0.5
    glon, glat = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert metres(lon, lat, glon, glat).max() < 0.01


def test_wgs84_to_bd09_is_gcj02_then_bd09() -> None:
    lon, lat = np.array([106.28, 113.85]), np.array([36.0, 34.03])
    direct = wgs84_to_bd09(lon, lat)
    two_steps = gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))
    np.testing.assert_allclose(direct, two_steps, atol=1e-12)


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(139.6917, 35.6895), (2.35, 48.86), (-74.0, 40.7), (72.0, 30.0), (100.0, 0.5),
     (120.0, 56.0)],
)
@pytest.mark.parametrize(
    "func",
    [wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, wgs84_to_bd09, bd09_to_wgs84],
)
def test_no_shift_outside_china(func: object, lon: float, lat: float) -> None:
    assert func(lon, lat) == (lon, lat)  # type: ignore[operator]


def test_mixed_inside_and_outside_arrays_keep_shape_and_order() -> None:
    lon = np.array([[121.5, 139.7], [2.35, 106.0]])
    lat = np.array([[31.2, 35.7], [48.86, 36.0]])
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert glon.shape == (2, 2)
    assert (glon[0, 1], glat[0, 1]) == (139.7, 35.7)
    assert glon[1, 1] != 106.0


def test_missing_coordinates_stay_missing() -> None:
    lon, _ = gcj02_to_wgs84(np.array([np.nan, 116.4]), np.array([39.9, 39.9]))
    assert np.isnan(lon[0])
    assert np.isfinite(lon[1])


@settings(max_examples=150, deadline=None)
@given(
    lon=st.floats(CHINA_BBOX[0] + 0.5, CHINA_BBOX[2] - 0.5),
    lat=st.floats(CHINA_BBOX[1] + 0.5, CHINA_BBOX[3] - 0.5),
)
def test_property_gcj02_round_trip(lon: float, lat: float) -> None:
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert metres(np.array(lon), np.array(lat), *map(np.asarray, back)) < 0.5


@settings(max_examples=150, deadline=None)
@given(
    lon=st.floats(CHINA_BBOX[0] + 0.5, CHINA_BBOX[2] - 0.5),
    lat=st.floats(CHINA_BBOX[1] + 0.5, CHINA_BBOX[3] - 0.5),
)
def test_property_bd09_round_trip(lon: float, lat: float) -> None:
    back = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert metres(np.array(lon), np.array(lat), *map(np.asarray, back)) < 0.5


@settings(max_examples=200, deadline=None)
@given(
    lon=st.floats(-180, 180).filter(lambda v: not CHINA_BBOX[0] <= v <= CHINA_BBOX[2]),
    lat=st.floats(-90, 90),
)
def test_property_identity_outside_china(lon: float, lat: float) -> None:
    assert wgs84_to_bd09(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)


# ---------------------------------------------------------------- geometries


def test_convert_any_geometry_type() -> None:
    poly = shapely.Polygon(
        [(116.3, 39.9), (116.4, 39.9), (116.4, 40.0), (116.3, 40.0)],
        holes=[[(116.33, 39.93), (116.36, 39.93), (116.36, 39.96)]],
    )
    geoms = [
        shapely.Point(116.39, 39.91),
        shapely.LineString([(116.3, 39.9), (116.4, 40.0)]),
        poly,
        shapely.MultiPolygon([poly]),
        shapely.GeometryCollection([shapely.Point(116.39, 39.91)]),
        None,
    ]
    out = convert(np.array(geoms, dtype=object), src="wgs84", dst="gcj02")
    assert shapely.get_type_id(out).tolist() == shapely.get_type_id(geoms).tolist()
    assert out[5] is None
    assert shapely.get_num_coordinates(out).tolist() == shapely.get_num_coordinates(geoms).tolist()
    lon, lat = wgs84_to_gcj02(116.39, 39.91)
    assert shapely.equals_exact(out[0], shapely.Point(lon, lat), tolerance=1e-12)
    back = convert(out, src="gcj02", dst="wgs84")
    assert shapely.equals_exact(back[2], poly, tolerance=1e-8)


def test_convert_keeps_z() -> None:
    out = convert(shapely.Point(116.39, 39.91, 52.0), src="wgs84", dst="bd09")
    assert out.has_z
    assert out.z == 52.0


def test_convert_geodataframe_keeps_index_columns_and_crs() -> None:
    gdf = gpd.GeoDataFrame(
        {"name": ["东关", "西关"]},
        geometry=[shapely.Point(106.28, 36.0), shapely.Point(106.29, 36.01)],
        index=[10, 20],
        crs=4326,
    )
    out = convert(gdf, src="GCJ-02", dst="WGS84")
    assert out.index.tolist() == [10, 20]
    assert out["name"].tolist() == ["东关", "西关"]
    assert out.crs == gdf.crs
    assert gdf.geometry[10].x == 106.28  # input untouched
    d = metres(np.array(106.28), np.array(36.0), np.array(out.geometry[10].x),
               np.array(out.geometry[10].y))
    assert 100 < d < 1000


def test_convert_arrays() -> None:
    lon, lat = convert(np.array([116.39]), np.array([39.91]), src="wgs84", dst="gcj02")
    assert (lon[0], lat[0]) == wgs84_to_gcj02(116.39, 39.91)


def test_convert_refuses_projected_data() -> None:
    gs = gpd.GeoSeries([shapely.Point(106.28, 36.0)], crs=4326).to_crs(4544)
    with pytest.raises(ValueError, match="longitude/latitude"):
        convert(gs, src="gcj02", dst="wgs84")


def test_unknown_coordinate_system_is_named() -> None:
    with pytest.raises(ValueError, match="'sogou'"):
        convert(shapely.Point(116, 39), src="sogou", dst="wgs84")
