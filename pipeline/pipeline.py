"""The YouTube-8M TFX pipeline: one factory that every runner and test calls.

YT8MExampleGen (every record checked) -> StatisticsGen, ImportSchemaGen -> ExampleValidator ->
ValidationGate -> Transform -> LabelPrior -> Evaluator-prior (the floor) and
Trainer-<family> (one per family) -> Quantizer-<family> -> EnsembleBuilder
(the first ensemble: the teacher) -> TeacherScorer-ensemble (its top-K
scores of every train video, once) -> Distiller-student-<n> (one student per
`--distill` family, all taught by the first ensemble) -> Quantizer-student-<n>
-> EnsembleBuilder-final (the seed's final artifact: one size-checked graph
chosen from the members and the students) -> BaselineLookup/Evaluator/
BlessingGate/Pusher per model and per ensemble -> Report. With
`--distill-levels 2` the level-1 ensemble (`ensemble_1`) teaches a second
round of students and `final` holds both rounds.

Three splits (yt8m/splits.py), each with one job: Trainers, Distillers and
LabelPrior fit on `train`; early stopping, the Quantizers' check and the
EnsembleBuilder's weights, subset and averaging read `select`; every
Evaluator (the label prior's too), so every blessing, reads `test`, and so do
the report's figures. Each node names the splits it reads in its parameters,
so tests and lineage can check it.

The factory knows nothing of which runner calls it (TFX template pattern):
`create_pipeline(paths, options)` takes where things live and what to do.
Node ids are `<Kind>-<name>`: the same for both runners, and valid Argo task
names (`[a-zA-Z0-9][-a-zA-Z0-9]*`), which Kubeflow's Argo backend requires.
"""

from __future__ import annotations

import re
from typing import Dict, List, NamedTuple, Optional

import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2
from components.evaluator.component import Evaluator
from tfx.components.example_validator.component import ExampleValidator
from tfx.components.pusher.component import Pusher
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.components.statistics_gen.component import StatisticsGen
from tfx.components.trainer.component import Trainer
from tfx.components.transform.component import Transform
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.proto import example_gen_pb2, pusher_pb2, trainer_pb2

from components import code_version
from components.baseline_lookup.component import BaselineLookup
from components.blessing_gate.component import BlessingGate
from components.distiller.component import Distiller
from components.teacher_scorer.component import TeacherScorer
from components.ensemble.component import EnsembleBuilder
from components.label_prior.component import LabelPrior
from components.quantizer.component import Quantizer
from components.report.component import Report
from components.validation_gate.component import ValidationGate
from components.yt8m_example_gen.component import YT8MExampleGen
from pipeline import configs
from pipeline.options import PipelinePaths, RunOptions
from yt8m import features

# Argo's DAG task names (and so KFP task names on an Argo backend).
ARGO_TASK_NAME = re.compile(r'^[a-zA-Z0-9][-a-zA-Z0-9]*$')


def node_id(kind: str, name: str) -> str:
    """`Trainer-dbof`, `Pusher-student-1`: one id per node, valid as an Argo task name."""
    node = f'{kind}-{name}'.replace('_', '-').replace('.', '-')
    if not ARGO_TASK_NAME.match(node):
        raise ValueError(f'node id {node!r} is not a valid Argo task name')
    return node


def example_gen_input_config(has_validate_files: bool) -> example_gen_pb2.Input:
    """The release's file names: train* and validate*; the split rule makes three of them."""
    splits = [example_gen_pb2.Input.Split(name=configs.TRAIN_SPLIT,
                                          pattern=features.SPLIT_PATTERNS['train'])]
    if has_validate_files:
        splits.append(example_gen_pb2.Input.Split(
            name='validate', pattern=features.SPLIT_PATTERNS['validate']))
    return example_gen_pb2.Input(splits=splits)


def eval_config(gap_floor: float, max_regression: float,
                with_baseline: bool = True) -> tfma.EvalConfig:
    """GAP@20 decides blessing: above the floor and no regression vs the baseline.

    Without a baseline (the label prior's own evaluation) no threshold applies.
    """
    def spec(name: str, is_baseline: bool) -> tfma.ModelSpec:
        # Labels: the records' own class ids (tfma_metrics makes them
        # multi-hot), not a preprocessing function: each call of a signature
        # costs TFMA a transform graph run and, passed positionally, a repr
        # of the batch's serialized records in TensorFlow's binding error
        # (measured: 3-6x the call itself).
        return tfma.ModelSpec(
            name=name, is_baseline=is_baseline, signature_name='serving_default',
            label_key=features.LABELS, prediction_key=features.PROBABILITIES)

    gap_threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={'value': gap_floor}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            absolute={'value': -max_regression}))
    metric = lambda name, **kw: tfma.MetricConfig(  # noqa: E731
        class_name=name, module=configs.METRICS_MODULE, **kw)
    return tfma.EvalConfig(
        model_specs=[spec('candidate', False)] + ([spec('baseline', True)] if with_baseline else []),
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            metric('GlobalAveragePrecision', threshold=gap_threshold if with_baseline else None),
            metric('HitAtOne'),
            metric('PrecisionAtEqualRecallRate'),
            tfma.MetricConfig(class_name='ExampleCount'),
        ])])


class DataNodes(NamedTuple):
    nodes: list
    examples: object
    schema: object
    gate: object
    sample: object   # a few test videos and the record check, for the Report


class PriorNodes(NamedTuple):
    nodes: list
    model: object
    evaluation: object


class Judged(NamedTuple):
    """A model's BaselineLookup -> Evaluator -> BlessingGate -> Pusher and their outputs."""
    nodes: list
    evaluation: object
    blessing: object
    pushed_model: object

    def report_channels(self) -> dict:
        return {'evaluation': self.evaluation, 'blessing': self.blessing,
                'pushed_model': self.pushed_model}


def data_validation_nodes(paths: PipelinePaths, options: RunOptions) -> DataNodes:
    """YT8MExampleGen, StatisticsGen, ImportSchemaGen, ExampleValidator, ValidationGate."""
    example_gen = YT8MExampleGen(
        input_base=paths.data_root,
        input_config=example_gen_input_config(paths.has_validate_files),
        split_rule=options.split_rule, bad_records=options.bad_records,
        max_bad_fraction=options.max_bad_fraction, duplicates=options.duplicates,
        data_fingerprint=paths.data_fingerprint)
    examples = example_gen.outputs['examples']
    schema_gen = ImportSchemaGen(schema_file=paths.schema_file)
    schema = schema_gen.outputs['schema']
    # With the schema, TFDV reads the frames as opaque bytes (image_domain in
    # yt8m/schema.pbtxt): sizes and counts, no top-k of 300 frames a video.
    statistics_gen = StatisticsGen(examples=examples, schema=schema)
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs['statistics'], schema=schema)
    validation_gate = ValidationGate(anomalies=example_validator.outputs['anomalies'],
                                     examples=examples)
    return DataNodes([example_gen, schema_gen, statistics_gen, example_validator,
                      validation_gate], examples, schema, validation_gate,
                     example_gen.outputs['sample'])


def label_prior_nodes(examples, schema, transform_graph) -> PriorNodes:
    """LabelPrior -> Evaluator-prior: the floor every candidate must clear."""
    prior = LabelPrior(examples=examples, transform_graph=transform_graph,
                       train_split=configs.TRAIN_SPLIT)
    evaluator = Evaluator(
        examples=examples, model=prior.outputs['model'], schema=schema,
        eval_config=eval_config(0.0, 0.0, with_baseline=False),
        example_splits=[configs.TEST_SPLIT]).with_id(node_id('Evaluator', 'prior'))
    return PriorNodes([prior, evaluator], prior.outputs['model'],
                      evaluator.outputs['evaluation'])


def evaluate_and_push(name: str, model, examples, schema, paths: PipelinePaths,
                      options: RunOptions, prior_evaluation) -> Judged:
    """BaselineLookup -> Evaluator -> BlessingGate (vs the label prior) -> Pusher."""
    destination = f'{paths.serving_model_dir}/{configs.serving_model_name(name)}'
    baseline = BaselineLookup(candidate_model=model, serving_model_dir=destination
                              ).with_id(node_id('BaselineLookup', name))
    evaluator = Evaluator(
        examples=examples, model=model, baseline_model=baseline.outputs['baseline_model'],
        schema=schema, eval_config=eval_config(options.gap_floor, options.max_gap_regression),
        example_splits=[configs.TEST_SPLIT]).with_id(node_id('Evaluator', name))
    gate = BlessingGate(evaluation=evaluator.outputs['evaluation'],
                        tfma_blessing=evaluator.outputs['blessing'],
                        prior_evaluation=prior_evaluation,
                        min_gain_over_prior=options.min_gain_over_prior
                        ).with_id(node_id('BlessingGate', name))
    pusher = Pusher(
        model=model, model_blessing=gate.outputs['blessing'],
        push_destination=pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=destination)),
    ).with_id(node_id('Pusher', name))
    return Judged([baseline, evaluator, gate, pusher], evaluator.outputs['evaluation'],
                  gate.outputs['blessing'], pusher.outputs['pushed_model'])


def create_pipeline(
    paths: PipelinePaths,
    options: RunOptions,
    metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    enable_cache: bool = True,
    pipeline_name: str = configs.PIPELINE_NAME,
) -> tfx_pipeline.Pipeline:
    """The whole DAG, as a linear list of components (penguin template style)."""
    if not options.has_budget:
        raise ValueError('no training budget: resolve it first (RunOptions.with_budget) '
                         'or give train_examples')
    identity = configs.code_identity()
    data = data_validation_nodes(paths, options)
    examples, schema = data.examples, data.schema
    # materialize=False: float frames would be ~4x the raw records; the
    # trainer applies the transform graph itself.
    transform = Transform(
        examples=examples, schema=schema, preprocessing_fn=configs.PREPROCESSING_FN,
        materialize=False, disable_statistics=True, custom_config=identity)
    transform.add_upstream_node(data.gate)
    transform_graph = transform.outputs['transform_graph']
    prior = label_prior_nodes(examples, schema, transform_graph)
    nodes = [*data.nodes, transform, *prior.nodes]
    report_inputs: Dict[str, dict] = {
        'prior': {'model': prior.model, 'evaluation': prior.evaluation}}

    def judge(name: str, model) -> Judged:
        judged = evaluate_and_push(name, model, examples, schema, paths, options,
                                   prior.evaluation)
        nodes.extend(judged.nodes)
        return judged

    def quantized(name: str, model, model_run):
        """The member as it enters an ensemble: quantized the seed's way, or as is."""
        if not options.quantization_mode:
            return model
        quantizer = Quantizer(model=model, model_run=model_run, examples=examples,
                              quantization=options.quantization_mode,
                              selection_split=configs.SELECT_SPLIT,
                              ).with_id(node_id('Quantizer', name))
        nodes.append(quantizer)
        report_inputs[name]['quantized_model'] = quantizer.outputs['quantized_model']
        return quantizer.outputs['quantized_model']

    def ensemble_of(name: str, members: Dict[str, object]):
        """One EnsembleBuilder over `members`, fitted on select, judged on test."""
        builder = EnsembleBuilder(
            models=members, examples=examples, weighting=options.ensemble_weighting,
            size_budget_bytes=options.size_budget_bytes, choose_subset=options.choose_subset,
            selection_split=configs.SELECT_SPLIT)
        if name != 'ensemble':
            builder = builder.with_id(node_id('EnsembleBuilder', name))
        nodes.append(builder)
        report_inputs[name] = {'model': builder.outputs['model'],
                               **judge(name, builder.outputs['model']).report_channels()}
        return builder.outputs['model']

    ensemble_members, member_models = {}, {}
    for family in options.families:
        config = options.training_config(family)
        trainer = Trainer(
            run_fn=configs.RUN_FN, examples=examples, transform_graph=transform_graph,
            schema=schema,
            # With epochs the steps are known only once the split is counted.
            train_args=trainer_pb2.TrainArgs(
                splits=[configs.TRAIN_SPLIT],
                num_steps=None if config.epochs else config.budget_steps),
            # Early stopping, the kept checkpoint and EMA-or-best read select.
            eval_args=trainer_pb2.EvalArgs(splits=[configs.SELECT_SPLIT]),
            custom_config={**config.to_custom_config(), **identity},
        ).with_id(node_id('Trainer', family))
        nodes.append(trainer)
        member_models[family] = trainer.outputs['model']
        judged = judge(family, trainer.outputs['model'])
        report_inputs[family] = {'model': trainer.outputs['model'],
                                 'model_run': trainer.outputs['model_run'],
                                 **judged.report_channels()}
        ensemble_members[family] = quantized(family, trainer.outputs['model'],
                                             trainer.outputs['model_run'])

    # The first ensemble (members only) teaches every student of a level; the
    # ensemble of the members and all students so far teaches the next level.
    # The last one is the final artifact; without distillation it is the first.
    # Each teacher scores the train split once (TeacherScorer), for all its students.
    teacher_name = 'ensemble'
    teacher = ensemble_of(teacher_name, dict(ensemble_members))
    for level, students in enumerate(options.students(), start=1):
        scorer = TeacherScorer(teacher_model=teacher, examples=examples,
                               top_k=configs.TEACHER_TOP_K, train_split=configs.TRAIN_SPLIT,
                               ).with_id(node_id('TeacherScorer', teacher_name))
        nodes.append(scorer)
        for name, student_family in students:
            distiller = Distiller(
                teacher_scores=scorer.outputs['teacher_scores'], examples=examples,
                transform_graph=transform_graph,
                training_config=options.training_config(student_family, student=True,
                                                        seed=configs.student_seed(name)),
                distillation_lambda=options.distill_lambda,
                code_identity=identity,
                train_split=configs.TRAIN_SPLIT, selection_split=configs.SELECT_SPLIT,
                # From its member's weights (same family and preset), if any.
                init_model=(member_models[student_family]
                            if options.starts_from_member(student_family) else None),
            ).with_id(node_id('Distiller', name))
            nodes.append(distiller)
            report_inputs[name] = {'model': distiller.outputs['model'],
                                   'model_run': distiller.outputs['model_run'],
                                   **judge(name, distiller.outputs['model']).report_channels()}
            ensemble_members[name] = quantized(name, distiller.outputs['model'],
                                               distiller.outputs['model_run'])
        last = level == options.distill_levels
        teacher_name = configs.FINAL_ENSEMBLE if last else f'ensemble_{level}'
        teacher = ensemble_of(teacher_name, dict(ensemble_members))

    # No half-results: every push waits until every model of the run is built
    # and judged, so a run that fails on the way (an ensemble over budget, a
    # Distiller that breaks) pushes nothing.
    gates = [node for node in nodes if isinstance(node, BlessingGate)]
    for pusher in (node for node in nodes if isinstance(node, Pusher)):
        for gate in gates:
            pusher.add_upstream_node(gate)
    nodes.append(Report(sample=data.sample, members=report_inputs,
                        report_dir=paths.report_dir))
    code_version.stamp(nodes, identity['code_fingerprint'])
    return tfx_pipeline.Pipeline(
        pipeline_name=pipeline_name, pipeline_root=paths.pipeline_root, components=nodes,
        enable_cache=enable_cache, metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args)
