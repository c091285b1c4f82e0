import numpy as np
import pytest
import shapely

from gisplan.adjacency import DEFAULT_GAP_M, adjacency, overlapping_pairs


def boxes(*xs, width=100.0):
    """Boxes 100 m tall starting at each x (metres)."""
    x = np.asarray(xs, dtype=float)
    return shapely.box(x, 0, x + width, 100)


def test_touching_compounds_are_adjacent_with_reason_touching():
    adj = adjacency(boxes(0, 100))
    assert (adj.i.tolist(), adj.j.tolist()) == ([0], [1])
    assert adj.reason.tolist() == ["touching"]
    assert adj.gap_m[0] == 0.0


def test_compounds_across_a_lane_are_adjacent_with_the_gap_in_metres():
    adj = adjacency(boxes(0, 108), gap_m=12)
    assert adj.reason.tolist() == ["gap"]
    assert adj.gap_m[0] == pytest.approx(8.0)


def test_compounds_farther_than_the_gap_are_not_adjacent():
    adj = adjacency(boxes(0, 125), gap_m=20)
    assert len(adj) == 0


def test_default_gap_is_about_one_local_street():
    assert 12 <= DEFAULT_GAP_M <= 25


def test_a_barrier_between_two_compounds_removes_their_edge():
    road = np.array([shapely.LineString([(104, -50), (104, 150)])])
    adj = adjacency(boxes(0, 108, 216), gap_m=12, barriers=road)
    assert (adj.i.tolist(), adj.j.tolist()) == ([1], [2])
    assert (adj.blocked_i.tolist(), adj.blocked_j.tolist()) == ([0], [1])


def test_a_barrier_beside_both_compounds_keeps_their_edge():
    road = np.array([shapely.LineString([(-50, 110), (400, 110)])])
    adj = adjacency(boxes(0, 100), barriers=road)
    assert len(adj) == 1


def test_matrix_is_symmetric_with_one_entry_per_direction():
    adj = adjacency(boxes(0, 100, 200))
    m = adj.matrix()
    assert m.shape == (3, 3)
    assert (m != m.T).nnz == 0
    assert m.nnz == 4


def test_empty_and_missing_geometries_have_no_edges():
    g = np.array([shapely.box(0, 0, 100, 100), shapely.Polygon(), None,
                  shapely.box(100, 0, 200, 100)], dtype=object)
    adj = adjacency(g)
    assert (adj.i.tolist(), adj.j.tolist()) == ([0], [3])


def test_overlapping_pairs_report_the_overlap_area_and_skip_touching_pairs():
    g = np.array([shapely.box(0, 0, 100, 100), shapely.box(90, 0, 190, 100),
                  shapely.box(190, 0, 290, 100)])
    i, j, area = overlapping_pairs(g)
    assert (i.tolist(), j.tolist()) == ([0], [1])
    assert area[0] == pytest.approx(1000.0)


def test_negative_gap_is_refused():
    with pytest.raises(ValueError, match="gap_m"):
        adjacency(boxes(0), gap_m=-1)


def test_adjacency_imports_neither_join_nor_bundle():
    # no import cycle: join uses adjacency (overlapping_pairs), never the other way round
    import subprocess
    import sys

    code = ("import sys, gisplan.adjacency; "
            "print(sorted(m for m in ('gisplan.join', 'gisplan.bundle') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
