"""Which node reads which split, on the built pipeline's own parameters and channels.

Train fits, select chooses, test reports (yt8m/splits.py): a node that
chooses must never read test, and every figure must come from test.
"""

import argparse
import dataclasses
import json

import pytest
from tfx.proto import trainer_pb2
from tfx.utils import proto_utils

from pipeline import configs
from pipeline.options import PipelinePaths, RunOptions
from pipeline.pipeline import create_pipeline
from yt8m import splits


@pytest.fixture(scope='module')
def nodes(tmp_path_factory):
    root = tmp_path_factory.mktemp('splits')
    pipeline = create_pipeline(
        PipelinePaths(pipeline_root=str(root / 'root'), data_root=str(root / 'data'),
                      serving_model_dir=str(root / 'serving'), report_dir=str(root / 'report')),
        RunOptions(families=('dbof', 'netvlad'), distill=('dbof', 'netvlad'),
                   train_examples=1000))
    return {node.id: node for node in pipeline.components}


def _kind(node_id: str) -> str:
    return node_id.split('-')[0]


def _split_parameters(node) -> dict:
    """Every parameter of a node that names a split it reads."""
    found = {}
    for key, value in node.exec_properties.items():
        if key in ('train_split', 'selection_split', 'test_split'):
            found[key] = [value]
        elif key == 'example_splits':
            found[key] = json.loads(value)
        elif key in ('train_args', 'eval_args'):
            args = (trainer_pb2.TrainArgs() if key == 'train_args' else trainer_pb2.EvalArgs())
            if not isinstance(value, str):
                value = proto_utils.proto_to_json(value)
            found[key] = list(proto_utils.json_to_proto(value, args).splits)
    return found


def test_choosers_read_train_and_select_and_evaluators_read_test_only(nodes):
    read = {node_id: _split_parameters(node) for node_id, node in nodes.items()}
    for node_id, params in read.items():
        kind = _kind(node_id)
        if kind == 'Trainer':
            assert params == {'train_args': ['train'], 'eval_args': ['select']}, node_id
        elif kind == 'Distiller':
            assert params == {'train_split': ['train'], 'selection_split': ['select']}, node_id
        elif kind in ('Quantizer', 'EnsembleBuilder'):
            assert params == {'selection_split': ['select']}, node_id
        elif kind in ('LabelPrior', 'TeacherScorer'):
            assert params == {'train_split': ['train']}, node_id
        elif kind == 'Evaluator':
            assert params == {'example_splits': ['test']}, node_id
        elif kind == 'Report':   # it reads the ExampleGen's few test videos
            assert params == {}, node_id
    # No node that chooses anything reads test.
    for node_id, params in read.items():
        if _kind(node_id) not in ('Evaluator', 'Report'):
            assert splits.TEST not in sum(params.values(), []), node_id
    kinds = {_kind(node_id) for node_id in read}
    assert {'Trainer', 'TeacherScorer', 'Distiller', 'Quantizer', 'EnsembleBuilder',
            'Evaluator'} <= kinds
    # One scoring of the first ensemble for both students.
    assert sum(_kind(n) == 'TeacherScorer' for n in read) == 1
    # prior, families, first ensemble, two students, final ensemble
    assert sum(_kind(n) == 'Evaluator' for n in read) == 1 + 2 + 1 + 2 + 1


def test_every_blessing_compares_test_evaluations(nodes):
    evaluations = {node.outputs['evaluation'] for node_id, node in nodes.items()
                   if _kind(node_id) == 'Evaluator'}
    gates = [node for node_id, node in nodes.items() if _kind(node_id) == 'BlessingGate']
    assert len(gates) == 6
    for gate in gates:
        for key in ('evaluation', 'prior_evaluation'):
            channel = gate.inputs[key]
            producer = nodes[channel.producer_component_id]
            assert _kind(producer.id) == 'Evaluator', (gate.id, key)
            assert json.loads(producer.exec_properties['example_splits']) == [splits.TEST]
            assert channel in evaluations
    # The prior's Evaluator is the one every gate compares with.
    assert {gate.inputs['prior_evaluation'].producer_component_id for gate in gates} == {
        'Evaluator-prior'}


def test_example_gen_gets_the_split_rule_and_the_duplicates_policy(nodes):
    example_gen = nodes['YT8MExampleGen']
    rule = splits.SplitRule.from_json(example_gen.exec_properties['split_rule'])
    assert rule == splits.SplitRule(configs.SELECT_FRACTION, configs.HOLDOUT_FRACTION)
    assert example_gen.exec_properties['duplicates'] == 'fail'


def test_the_split_flags_reach_the_example_gen(tmp_path):
    options = RunOptions.from_args(_parse(['--select-fraction', '0.3', '--holdout-fraction',
                                           '0.25', '--duplicates', 'keep-first']))
    pipeline = create_pipeline(
        PipelinePaths(pipeline_root=str(tmp_path), data_root=str(tmp_path),
                      serving_model_dir=str(tmp_path), report_dir=str(tmp_path)),
        dataclasses.replace(options, train_examples=100))
    (example_gen,) = [n for n in pipeline.components if n.id == 'YT8MExampleGen']
    assert splits.SplitRule.from_json(example_gen.exec_properties['split_rule']) == (
        splits.SplitRule(select_fraction=0.3, holdout_fraction=0.25))
    assert example_gen.exec_properties['duplicates'] == 'keep-first'
    with pytest.raises(ValueError, match='select_fraction'):
        RunOptions(select_fraction=0.0)


def _parse(argv):
    parser = argparse.ArgumentParser()
    RunOptions.add_arguments(parser)
    return parser.parse_args(argv)


def test_the_final_ensemble_is_chosen_from_the_members_and_the_students(nodes):
    """The seed's artifact: the first ensemble teaches students of two families,
    the final ensemble is chosen from the members and those students."""
    final = nodes['EnsembleBuilder-final']
    assert json.loads(final.exec_properties['member_names']) == [
        'dbof', 'netvlad', 'student_1', 'student_2']
    producers = sorted(channel.producer_component_id for key, channel in final.inputs.items()
                       if key.startswith('model_'))
    assert producers == ['Quantizer-dbof', 'Quantizer-netvlad', 'Quantizer-student-1',
                         'Quantizer-student-2']
    for student, family in (('student-1', 'dbof'), ('student-2', 'netvlad')):
        distiller = nodes[f'Distiller-{student}']
        assert distiller.inputs['teacher_scores'].producer_component_id == (
            'TeacherScorer-ensemble')
        assert nodes['TeacherScorer-ensemble'].inputs[
            'teacher_model'].producer_component_id == 'EnsembleBuilder'
        config = json.loads(distiller.exec_properties['training_config'])
        assert config['family'] == family and config['teacher_folds'] == 0
        # Never its member's seed (0): student n trains with seed n.
        assert config['seed'] == int(student[-1])
        assert distiller.exec_properties['distillation_lambda'] == configs.DISTILL_LAMBDA
    for member in ('dbof', 'netvlad'):   # members train the teacher's fold copies
        config = json.loads(nodes[f'Trainer-{member}'].exec_properties['custom_config'])
        assert config['teacher_folds'] == configs.TEACHER_FOLDS and config['seed'] == 0
    assert 'Pusher-final' in nodes and 'Evaluator-final' in nodes


def test_a_second_distillation_round_is_taught_by_the_level_one_ensemble(tmp_path):
    pipeline = create_pipeline(
        PipelinePaths(pipeline_root=str(tmp_path / 'root'), data_root=str(tmp_path / 'data'),
                      serving_model_dir=str(tmp_path / 'serving'),
                      report_dir=str(tmp_path / 'report')),
        RunOptions(families=('dbof', 'netvlad'), distill=('dbof',), distill_levels=2,
                   train_examples=1000))
    nodes = {node.id: node for node in pipeline.components}

    def teacher(distiller):
        scorer = nodes[distiller].inputs['teacher_scores'].producer_component_id
        return scorer, nodes[scorer].inputs['teacher_model'].producer_component_id
    assert teacher('Distiller-student-1') == ('TeacherScorer-ensemble', 'EnsembleBuilder')
    assert teacher('Distiller-student-2') == ('TeacherScorer-ensemble-1',
                                              'EnsembleBuilder-ensemble-1')
    assert json.loads(nodes['EnsembleBuilder-ensemble-1'].exec_properties['member_names']) == [
        'dbof', 'netvlad', 'student_1']
    assert json.loads(nodes['EnsembleBuilder-final'].exec_properties['member_names']) == [
        'dbof', 'netvlad', 'student_1', 'student_2']


def test_too_many_students_or_members_are_refused():
    with pytest.raises(ValueError, match='at most 4 students'):
        RunOptions(families=('dbof',), distill=('dbof', 'netvlad', 'logistic'),
                   distill_levels=2, train_examples=100)
    with pytest.raises(ValueError, match='can hold 8 models'):
        RunOptions(families=('dbof', 'netvlad', 'netfv', 'gru', 'lstm'),
                   distill=('dbof', 'netvlad'), distill_levels=2, train_examples=100)


def test_a_student_starts_from_its_familys_member_unless_told_otherwise(tmp_path):
    """Default: a student of a family trained in the run starts from that member's
    weights; a family without a member, or --student-start prior, starts at the prior."""
    def distillers(**options):
        pipeline = create_pipeline(
            PipelinePaths(pipeline_root=str(tmp_path / 'root'), data_root=str(tmp_path / 'data'),
                          serving_model_dir=str(tmp_path / 'serving'),
                          report_dir=str(tmp_path / 'report')),
            RunOptions(families=('dbof', 'netvlad'), train_examples=1000, **options))
        return {node.id: node.inputs.get('init_model') for node in pipeline.components
                if node.id.startswith('Distiller')}

    starts = distillers(distill=('dbof', 'logistic'))
    assert starts['Distiller-student-1'].producer_component_id == 'Trainer-dbof'
    assert starts['Distiller-student-2'] is None         # no logistic member in the run
    # From a member, at the family's learning-rate factor; from the prior, as a Trainer.
    options = RunOptions(families=('dbof', 'netvlad'), distill=('netvlad',),
                         train_examples=1000)
    member_lr = options.training_config('netvlad').base_learning_rate
    assert options.training_config('netvlad', student=True).base_learning_rate == \
        pytest.approx(member_lr * configs.WARM_STUDENT_LR_FACTORS['netvlad'])
    prior = dataclasses.replace(options, student_start='prior')
    assert prior.training_config('netvlad', student=True).base_learning_rate == member_lr
    assert set(distillers(distill=('dbof',), student_start='prior').values()) == {None}
    with pytest.raises(ValueError, match='student_start'):
        RunOptions(student_start='teacher')
