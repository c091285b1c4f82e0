"""Bundling output pinned on a mid-size synthetic city (regression guard for speed work).

The tables of ``bundle_compounds`` on ``synth_city(compounds=2000, seed=3)`` (with utilities,
districts and arterial roads as barriers) are hashed and compared with the hashes recorded
before the bundling was optimised: a faster implementation must give the same bundles, the
same members and explanations, the same standalone list and the same adjacency table.
Bundle outlines are compared as geometry (each must be the union of its members' polygons),
not as bytes: a dissolve may return the same shape with its vertices in another order.

The pins use Guyuan's rule set (``guyuan_2022``, the default when they were recorded), so that
the 2001–2005 rules stay covered. A change of the input or of the output FAILS these tests;
where a change is intended, record the new pins in the same commit and say why.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
import shapely

from gisplan.bundle import bundle_compounds

#: fingerprint of the input layers; when synth_city itself changes, the pins below no
#: longer describe this input and have to be recorded again
# f43bcb…: synth_city gained the empty responsibility columns builder_unit, supervisor_unit,
# supervisor_person, measures (issue 14); without them the input hashes to 5749a3f288d1676f.
INPUT_SHA = "f43bcb423442cf02"
PINNED = {
    "members": "80bbd06eb4b56e2f",
    "standalone": "af1588e8a56fbb95",
    "bundles": "11f7af7a1a706d96",
    "adjacency": "4d8659190b2feb53",
}


def _sha(frame: pd.DataFrame) -> str:
    text = frame.to_csv(index=False, float_format="%.6f", lineterminator="\n")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _input_sha(layers: dict) -> str:
    h = hashlib.sha256()
    for name in ("compounds", "utilities", "districts", "roads"):
        gdf = layers[name]
        h.update(gdf.drop(columns="geometry").to_csv(index=False).encode())
        h.update(b"".join(shapely.to_wkb(gdf.geometry.to_numpy())))
    return h.hexdigest()[:16]


@pytest.fixture(scope="module")
def city():
    from gisplan.synth import synth_city

    layers = synth_city(compounds=2000, seed=3)
    roads = layers["roads"]
    res = bundle_compounds(layers["compounds"], utilities=layers["utilities"],
                           districts=layers["districts"],
                           barriers=roads[roads["road_class"] == "arterial"],
                           rules="guyuan_2022")
    return layers, res


def test_the_pinned_input_is_unchanged(city):
    # a failure here means synth_city changed: the pins below no longer describe this
    # input; record them again (same commit, with the reason)
    layers, _ = city
    assert _input_sha(layers) == INPUT_SHA


def test_members_are_unchanged(city):
    _, res = city
    assert _sha(res.members) == PINNED["members"]


def test_standalone_list_is_unchanged(city):
    _, res = city
    assert _sha(res.standalone) == PINNED["standalone"]


def test_bundle_table_is_unchanged(city):
    _, res = city
    assert _sha(res.bundles.drop(columns="geometry")) == PINNED["bundles"]


def test_adjacency_table_is_unchanged(city):
    _, res = city
    assert _sha(res.adjacency.drop(columns="geometry")) == PINNED["adjacency"]


def test_each_bundle_outline_is_the_union_of_its_members(city):
    layers, res = city
    comp = layers["compounds"].set_index("compound_id")
    members = res.members.groupby("bundle_id", sort=False)["compound_id"].agg(list)
    outlines = res.bundles.set_index("bundle_id").geometry
    expected = np.array([shapely.union_all(comp.geometry.loc[ids].to_numpy())
                         for ids in members.loc[outlines.index]], dtype=object)
    got = outlines.to_numpy()
    assert shapely.is_valid(got).all()
    # in degrees: 1e-12 deg² is about 0.01 m²
    diff = shapely.area(shapely.symmetric_difference(got, expected))
    assert diff.max() < 1e-12
