"""``gisplan import --vocab osm``: Overpass Turbo and QuickOSM exports, as exported.

The exports are built from pyrosm's bundled Helsinki extract (nothing is downloaded) the
way the tools write them: Overpass Turbo's GeoJSON has ``"id": "node/123"`` on each
feature and the tags plus ``@id`` as properties; QuickOSM's GeoPackage has ``osm_id``,
``osm_type`` and one column per tag. No column is renamed and no value edited.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gisplan.osm import facilities_from_osm, roads_from_osm
from gisplan.store import Project

pyrosm = pytest.importorskip("pyrosm")

_META = {"id", "osm_type", "lon", "lat", "tags", "visible", "version", "timestamp",
         "changeset", "length", "geometry"}


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")


@pytest.fixture(scope="module")
def helsinki() -> dict[str, gpd.GeoDataFrame]:
    osm = pyrosm.OSM(pyrosm.get_data("helsinki_pbf"))
    pois = osm.get_pois(custom_filter={"amenity": True, "shop": True, "healthcare": True})
    ways = osm.get_network("walking")
    return {"pois": pois, "ways": ways}


def _overpass_geojson(frame: gpd.GeoDataFrame, path: Path) -> Path:
    """Write *frame* as Overpass Turbo exports it (``@id``, tags only where set)."""
    tags = [c for c in frame.columns if c not in _META]
    features = []
    for row, geom in zip(frame[["id", "osm_type", *tags]].itertuples(index=False),
                         frame.geometry, strict=True):
        ref = f"{row[1]}/{int(row[0])}"
        props = {"@id": ref}
        props.update({k: v for k, v in zip(tags, row[2:], strict=True)
                      if isinstance(v, str) and v})
        features.append({"type": "Feature", "id": ref, "properties": props,
                         "geometry": shapely.geometry.mapping(geom)})
    path.write_text(json.dumps({"type": "FeatureCollection", "generator": "overpass-turbo",
                                "features": features}, ensure_ascii=False), encoding="utf-8")
    return path


def test_overpass_facilities_import_as_import_osm_maps_them(tmp_path: Path, helsinki,
                                                            gisplan):
    pois = helsinki["pois"]
    export = _overpass_geojson(pois, tmp_path / "export.geojson")
    store = tmp_path / "helsinki.gpkg"
    code, out = gisplan("import", store, export, "--layer", "facilities", "--vocab", "osm")
    assert code == 0, out
    fac = Project.open(store).read("facilities")
    expected = facilities_from_osm(pois).frame
    assert len(fac) == len(expected) > 50
    assert fac["facility_type"].value_counts().to_dict() == \
        expected["facility_type"].value_counts().to_dict()
    assert set(fac["facility_id"]) == set(expected["facility_id"])
    assert fac["facility_id"].str.match(r"^[nwr]\d+$").all()
    assert {"pharmacy", "convenience_store"} <= set(fac["facility_type"])
    # unmapped tags are reported with counts, not dropped silently
    assert "OSM tags not mapped" in out and "amenity=" in out
    [left] = [line for line in out.splitlines() if "OSM tags not mapped" in line]
    unmapped = len(pois) - len(fac)
    assert f"({unmapped} features)" in left


def test_overpass_roads_keep_ids_and_classes(tmp_path: Path, helsinki, gisplan):
    ways = helsinki["ways"]
    export = _overpass_geojson(ways, tmp_path / "roads.geojson")
    store = tmp_path / "h.gpkg"
    code, out = gisplan("import", store, export, "--layer", "roads", "--vocab", "osm")
    assert code == 0, out
    roads = Project.open(store).read("roads")
    expected = roads_from_osm(ways).frame
    assert len(roads) == len(expected)
    assert roads["road_id"].str.match(r"^w\d+-\d+$").all()
    assert roads["road_class"].value_counts().to_dict() == \
        expected["road_class"].value_counts().to_dict()


def test_quickosm_geopackage_with_osm_id_and_osm_type(tmp_path: Path, helsinki, gisplan):
    pois = helsinki["pois"].head(300)
    tags = [c for c in pois.columns if c not in _META]
    qgis = gpd.GeoDataFrame(pd.concat([pois[["id", "osm_type"]].rename(columns={"id": "osm_id"}),
                                       pois[tags]], axis=1),
                            geometry=pois.geometry.to_numpy(), crs=4326)
    path = tmp_path / "quickosm.gpkg"
    qgis.to_file(path, layer="amenity")
    store = tmp_path / "q.gpkg"
    code, out = gisplan("import", store, path, "--layer", "facilities", "--vocab", "osm")
    assert code == 0, out
    fac = Project.open(store).read("facilities")
    assert len(fac) == len(facilities_from_osm(pois).frame)
    assert fac["facility_id"].str[0].isin(["n", "w", "r"]).all()


@pytest.mark.parametrize(("props", "extra", "message"), [
    ({"amenity": "pharmacy"}, [], "no OSM id column (@id or osm_id)"),
    ({"@id": "node/1", "amenity": "pharmacy"}, ["--map", "a=name"],
     "does not combine with --map"),
])
def test_bad_exports_are_a_message(tmp_path: Path, gisplan, props, extra, message):
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props,
         "geometry": {"type": "Point", "coordinates": [24.94, 60.17]}}]}), encoding="utf-8")
    code, out = gisplan("import", tmp_path / "s.gpkg", path, "--layer", "facilities",
                        "--vocab", "osm", *extra)
    assert code == 2 and message in out and "Traceback" not in out


def test_osm_vocab_refuses_a_layer_osm_does_not_make(tmp_path: Path, gisplan):
    path = tmp_path / "g.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    code, out = gisplan("import", tmp_path / "s.gpkg", path, "--layer", "gates",
                        "--vocab", "osm")
    assert code == 2 and "--vocab osm makes" in out
