"""A small programme built in code for the map tests (6 compounds in Guyuan)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

X0, Y0 = 106.270, 36.000
XSS = "<img src=x onerror=alert(1)>"


def _box(i: int, j: int) -> shapely.Polygon:
    x, y = X0 + i * 0.001, Y0 + j * 0.0008
    return shapely.box(x, y, x + 0.0008, y + 0.0006)


def programme() -> dict[str, object]:
    names = ["西关北街小区", XSS, "南城路一号院", "文化巷小区", "Riverside 河畔", "无几何小区"]
    geoms = [_box(0, 0), _box(1, 0), _box(2, 0), _box(0, 1), _box(1, 1), None]
    compounds = gpd.GeoDataFrame({
        "compound_id": [f"C{i}" for i in range(1, 7)],
        "name": names,
        "county": ["原州区"] * 6,
        "district": ["西关北街", "西关北街", "南城路", "西关北街", "南城路", "南城路"],
        "households": pd.array([120, 80, 200, 150, 60, 40], dtype="Int64"),
        "buildings": pd.array([4, 2, 6, 5, 2, 1], dtype="Int64"),
        "floor_area_m2": [8000.0, 5200.0, 13000.0, 9900.0, 4100.0, 2500.0],
        "built_year": pd.array([1992, 1996, 1988, 2003, 1999, 1990], dtype="Int64"),
        "status": ["planned"] * 6,
    }, geometry=geoms, crs=4326)
    west = shapely.box(X0 - 0.0005, Y0 - 0.0005, X0 + 0.00195, Y0 + 0.0015)
    south = shapely.box(X0 + 0.00195, Y0 - 0.0005, X0 + 0.0035, Y0 + 0.0015)
    districts = gpd.GeoDataFrame({
        "district_id": ["D1", "P1", "P2"],
        "name": ["原州区", "西关北街", "南城路"],
        "level": ["county", "pianqu", "pianqu"],
        "county": ["原州区"] * 3,
    }, geometry=[shapely.union(west, south), west, south], crs=4326)
    nets = ["water_supply", "drainage", "power", "gas", "heating", "telecom"]
    utilities = gpd.GeoDataFrame({
        "utility_id": [f"U{i}" for i in range(1, 7)],
        "network": nets,
        "owner": ["市自来水公司", "市排水公司", "国网供电公司", "市燃气公司", "市热力公司",
                  "中国电信"],
        "install_year": pd.array([1985, 1990, 2010, 1998, 2015, 2005], dtype="Int64"),
        "material": ["铸铁", "混凝土", None, "钢", "钢", None],
        "diameter_mm": [200.0, 400.0, None, 100.0, 150.0, None],
    }, geometry=[shapely.LineString([(X0 - 0.0003, Y0 + 0.0003 + k * 0.0001),
                                     (X0 + 0.0033, Y0 + 0.0003 + k * 0.0001)])
                 for k in range(6)], crs=4326)
    facilities = gpd.GeoDataFrame({
        "facility_id": ["F1", "F2", "F3"],
        "facility_type": ["kindergarten", "幼儿园", "菜市场"],
        "name": ["第一幼儿园", None, "西关菜市场"],
        "capacity": [180.0, 90.0, None],
    }, geometry=[shapely.Point(X0 + 0.0004, Y0 - 0.0003),
                 shapely.Point(X0 + 0.003, Y0 + 0.0014),
                 shapely.Point(X0 + 0.0015, Y0 + 0.0016)], crs=4326)
    roads = gpd.GeoDataFrame({
        "road_id": ["R1", "R2"], "name": ["西关街", "南城路"],
        "road_class": ["arterial", "local"],
    }, geometry=[shapely.LineString([(X0 - 0.0005, Y0 + 0.00070), (X0 + 0.0035, Y0 + 0.00070)]),
                 shapely.LineString([(X0 + 0.0009, Y0 - 0.0005), (X0 + 0.0009, Y0 + 0.0015)])],
        crs=4326)
    log = pd.DataFrame({
        "log_id": range(1, 9),
        "compound_id": ["C1", "C1", "C1", "C2", "C2", "C3", "C3", "C4"],
        "compound_name": [names[0]] * 3 + [names[1]] * 2 + [names[2]] * 2 + [names[3]],
        "county": ["原州区"] * 8,
        "date": ["2023-02-10", "2023-04-15", "2023-08-20", "2023-03-05", "2023-05-30",
                 "2023-03-01", "2023-06-10", "2023-04-01"],
        "stage": ["consulted", "started", "completed", "designed", "started", "tendered",
                  "started", "consulted"],
        "consent_rate": [0.9] * 8,
        "structures_removed": [True] * 8,
        "design_posted": [True] * 8,
        "contract_signed": [True] * 8,
        "crew_on_site": [True] * 8,
    })
    members = pd.DataFrame({"bundle_id": ["B0001"] * 3 + ["B0002"],
                            "compound_id": ["C1", "C2", "C4", "C5"],
                            "why_zh": ["相接"] * 4, "why_en": ["touching"] * 4})
    bundles = gpd.GeoDataFrame({
        "bundle_id": ["B0001", "B0002"], "district": ["西关北街", "南城路"],
        "n_compounds": [3, 1], "households": [350, 60],
        "utility_owners": ["市自来水公司;" + XSS, "中国电信"],
    }, geometry=[shapely.union_all([geoms[0], geoms[1], geoms[3]]), geoms[4]], crs=4326)
    return {"compounds": compounds, "bundles": bundles, "bundle_members": members,
            "districts": districts, "utilities": utilities,
            "facilities": facilities, "roads": roads, "progress_log": log,
            "programme": {"name": "原州区2023年老旧小区改造", "name_en": "Yuanzhou 2023",
                          "year": 2023}}
