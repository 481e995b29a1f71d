"""Report plots: labels that do not overlap, quantized sizes, the kept checkpoint."""

import itertools

from components.report import executor


def _boxes(anchors, names, offsets):
    return [(x + dx, y + dy, executor.LABEL_CHAR_PX * len(name) + 2)
            for (x, y), name, (dx, dy) in zip(anchors, names, offsets)]


def test_labels_of_nearly_equal_points_do_not_overlap():
    # The default run's case: ensemble, dbof and student_1 within a pixel or two.
    anchors = [(300.0, 200.0), (301.0, 200.5), (300.5, 199.0), (80.0, 60.0)]
    names = ['ensemble', 'dbof', 'student_1', 'netvlad']
    boxes = _boxes(anchors, names, executor.spread_labels(anchors, names))
    for (x1, y1, w1), (x2, y2, w2) in itertools.combinations(boxes, 2):
        assert abs(x1 - x2) >= max(w1, w2) or abs(y1 - y2) >= executor.LABEL_HEIGHT_PX
    # A lone point keeps its label next to it.
    assert executor.spread_labels([(10.0, 10.0)], ['prior']) == [(4.0, 4.0)]


def test_plots_show_quantized_sizes_and_the_kept_checkpoint(tmp_path):
    curve = [{'step': s, 'examples': 32 * s, 'eval_gap': g, 'phase': 'main'}
             for s, g in ((10, 0.3), (20, 0.5), (30, 0.45))]
    rows = [{'member': 'prior', 'gap_at_20': 0.1, 'size_bytes': 40_000},
            {'member': 'dbof', 'gap_at_20': 0.5, 'size_bytes': 9e6, 'quantized_bytes': 2.5e6,
             'quantized_gap': 0.49, 'curve': curve, 'best_step': 20},
            {'member': 'ensemble', 'gap_at_20': 0.5, 'size_bytes': 9.1e6}]
    executor.plot_gap_versus_size(rows, str(tmp_path / 'gap.png'))
    executor.plot_learning_curves(rows, str(tmp_path / 'curves.png'))
    assert (tmp_path / 'gap.png').stat().st_size > 1000
    assert (tmp_path / 'curves.png').stat().st_size > 1000


def test_seed_result_measures_the_final_ensemble_against_its_parts():
    rows = [{'member': 'prior', 'gap_at_20': 0.1},
            {'member': 'dbof', 'family': 'dbof', 'distilled': False, 'gap_at_20': 0.50},
            {'member': 'netvlad', 'family': 'netvlad', 'distilled': False, 'gap_at_20': 0.40},
            {'member': 'ensemble', 'gap_at_20': 0.51},
            {'member': 'student_1', 'family': 'dbof', 'distilled': True, 'gap_at_20': 0.52,
             'soft_labels': 'out-of-fold', 'started_from': 'member', 'best_step': 300},
            {'member': 'student_2', 'family': 'netvlad', 'distilled': True, 'gap_at_20': 0.38},
            {'member': 'student_3', 'family': 'netvlad', 'distilled': True, 'gap_at_20': 0.40,
             'started_from': 'member', 'best_step': 0},
            {'member': 'final', 'gap_at_20': 0.53,
             'ensemble': {'chosen_subset': ['dbof', 'student_1', 'student_2']}}]
    result = executor.seed_result(rows)
    assert result['best_member'] == 'dbof'      # students and ensembles are not "alone"
    assert abs(result['margin_over_best_member'] - 0.03) < 1e-9
    assert abs(result['margin_over_first_ensemble'] - 0.02) < 1e-9
    margins = {s['student']: round(s['margin'], 6) for s in result['students']}
    assert margins == {'student_1': 0.02, 'student_2': -0.02, 'student_3': 0.0}
    text = '\n'.join(executor.render_seed_result(result))
    assert '(dbof, student_1, student_2)' in text and '+0.0300' in text
    assert '| student_2 | netvlad | 0.3800 | 0.4000 | -0.0200 | - | label prior |' in text
    assert ("| student_1 | dbof | 0.5200 | 0.5000 | +0.0200 | out-of-fold | "
            "its member's weights |") in text
    # A student whose best step is its start is its member: said so, not called a gain.
    assert "its member's weights, kept: no step beat them on select |" in text
    from pipeline import console
    lines = console.seed_result_lines({'seed_result': result})
    assert lines[-1] == ("student_3 (netvlad) +0.0000 over netvlad trained alone "
                         "(kept its member's weights: no step beat them on select)")
    # No final ensemble (no distillation): nothing to claim.
    assert executor.seed_result(rows[:4]) is None
