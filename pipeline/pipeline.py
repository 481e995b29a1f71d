"""The YouTube-8M TFX pipeline: one factory that every runner and test calls.

YT8MExampleGen (every record checked) -> StatisticsGen, ImportSchemaGen -> ExampleValidator ->
ValidationGate -> Transform -> LabelPrior -> Evaluator.prior (the floor) and
Trainer.<family> (one per family) -> Quantizer.<family> -> EnsembleBuilder
(one size-checked graph) -> BaselineLookup/Evaluator/BlessingGate/Pusher per
model and for the ensemble -> Distiller.student_<level> (the ensemble
teaches, each student teaches the next level) -> Report.

The factory knows nothing of which runner calls it (TFX template pattern):
paths, metadata and Beam arguments come in as parameters.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2
from tfx.components.evaluator.component import Evaluator
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
from components.ensemble.component import EnsembleBuilder
from components.label_prior.component import LabelPrior
from components.quantizer.component import Quantizer
from components.report.component import Report
from components.validation_gate.component import ValidationGate
from components.yt8m_example_gen.component import YT8MExampleGen
from models import registry
from pipeline import configs
from yt8m import features


def example_gen_input_config(has_validate_files: bool):
    """Splits follow the release's file names; without validate files, hash on id."""
    if has_validate_files:
        return example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name=configs.TRAIN_SPLIT,
                                        pattern=features.SPLIT_PATTERNS['train']),
            example_gen_pb2.Input.Split(name=configs.EVAL_SPLIT,
                                        pattern=features.SPLIT_PATTERNS['validate']),
        ]), None
    total, eval_buckets = configs.HASH_SPLIT_TOTAL_BUCKETS, configs.HASH_SPLIT_EVAL_BUCKETS
    return (
        example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(
            name='single_split', pattern=features.SPLIT_PATTERNS['train'])]),
        example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(
            splits=[example_gen_pb2.SplitConfig.Split(name=configs.TRAIN_SPLIT,
                                                      hash_buckets=total - eval_buckets),
                    example_gen_pb2.SplitConfig.Split(name=configs.EVAL_SPLIT,
                                                      hash_buckets=eval_buckets)],
            partition_feature_name=features.ID)))


def check_families(families: Sequence[str]) -> List[str]:
    """Unknown family names fail before any component runs."""
    families = list(dict.fromkeys(families))
    unknown = [family for family in families if family not in registry.FAMILIES]
    if unknown or not families:
        raise ValueError(f'unknown model families {unknown}; choose from '
                         f'{", ".join(registry.FAMILIES)}')
    return families


def eval_config(gap_floor: float, max_regression: float,
                with_baseline: bool = True) -> tfma.EvalConfig:
    """GAP@20 decides blessing: above the floor and no regression vs the baseline.

    Without a baseline (the label prior's own evaluation) no threshold applies.
    """
    def spec(name: str, is_baseline: bool) -> tfma.ModelSpec:
        return tfma.ModelSpec(
            name=name, is_baseline=is_baseline, signature_name='serving_default',
            preprocessing_function_names=['transform_features'],
            label_key=features.LABELS_MULTI_HOT, prediction_key=features.PROBABILITIES)

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


def _evaluate_and_push(name: str, model, examples, schema, serving_model_dir: str,
                       gap_floor: float, max_regression: float, prior_evaluation,
                       min_gain_over_prior: float) -> dict:
    """BaselineLookup -> Evaluator -> BlessingGate (vs the label prior) -> Pusher."""
    destination = f'{serving_model_dir}/{configs.serving_model_name(name)}'
    baseline = BaselineLookup(candidate_model=model, serving_model_dir=destination
                              ).with_id(f'BaselineLookup.{name}')
    evaluator = Evaluator(
        examples=examples, model=model, baseline_model=baseline.outputs['baseline_model'],
        schema=schema, eval_config=eval_config(gap_floor, max_regression),
        example_splits=[configs.EVAL_SPLIT]).with_id(f'Evaluator.{name}')
    gate = BlessingGate(evaluation=evaluator.outputs['evaluation'],
                        tfma_blessing=evaluator.outputs['blessing'],
                        prior_evaluation=prior_evaluation,
                        min_gain_over_prior=min_gain_over_prior).with_id(f'BlessingGate.{name}')
    pusher = Pusher(
        model=model, model_blessing=gate.outputs['blessing'],
        push_destination=pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=destination)),
    ).with_id(f'Pusher.{name}')
    return {'nodes': [baseline, evaluator, gate, pusher],
            'evaluation': evaluator.outputs['evaluation'],
            'blessing': gate.outputs['blessing'], 'pushed_model': pusher.outputs['pushed_model']}


def label_prior_nodes(examples, schema, transform_graph) -> dict:
    """LabelPrior -> Evaluator.prior: the floor every candidate must clear."""
    prior = LabelPrior(examples=examples, transform_graph=transform_graph)
    evaluator = Evaluator(
        examples=examples, model=prior.outputs['model'], schema=schema,
        eval_config=eval_config(0.0, 0.0, with_baseline=False),
        example_splits=[configs.EVAL_SPLIT]).with_id('Evaluator.prior')
    return {'nodes': [prior, evaluator], 'model': prior.outputs['model'],
            'evaluation': evaluator.outputs['evaluation']}


def data_validation_nodes(data_root: str, has_validate_files: bool, schema_file: str,
                          bad_records: str = configs.BAD_RECORDS,
                          max_bad_fraction: float = configs.MAX_BAD_FRACTION) -> dict:
    """YT8MExampleGen, StatisticsGen, ImportSchemaGen, ExampleValidator, ValidationGate."""
    input_config, output_config = example_gen_input_config(has_validate_files)
    example_gen = YT8MExampleGen(
        input_base=data_root, input_config=input_config, output_config=output_config,
        bad_records=bad_records, max_bad_fraction=max_bad_fraction)
    examples = example_gen.outputs['examples']
    statistics_gen = StatisticsGen(examples=examples)
    schema_gen = ImportSchemaGen(schema_file=schema_file)
    schema = schema_gen.outputs['schema']
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs['statistics'], schema=schema)
    validation_gate = ValidationGate(anomalies=example_validator.outputs['anomalies'],
                                     examples=examples)
    return {'nodes': [example_gen, statistics_gen, schema_gen, example_validator,
                      validation_gate],
            'examples': examples, 'schema': schema, 'gate': validation_gate}


def create_pipeline(
    pipeline_root: str,
    data_root: str,
    serving_model_dir: str,
    report_dir: str,
    families: Sequence[str] = configs.DEFAULT_FAMILIES,
    has_validate_files: bool = True,
    train_examples: int = configs.DEFAULT_TRAIN_EXAMPLES,
    batch_size: int = configs.BATCH_SIZE,
    training_options: Optional[Dict] = None,
    gap_floor: float = configs.GAP_FLOOR,
    max_regression: float = configs.MAX_GAP_REGRESSION,
    min_gain_over_prior: float = configs.MIN_GAIN_OVER_PRIOR,
    ensemble_weighting: str = configs.ENSEMBLE_WEIGHTING,
    size_budget_bytes: int = configs.SIZE_BUDGET_BYTES,
    choose_subset: bool = False,
    quantization_mode: Optional[str] = configs.QUANTIZATION_MODE,
    distill_families: Sequence[str] = configs.DISTILL_FAMILIES,
    schema_file: str = configs.SCHEMA_FILE,
    bad_records: str = configs.BAD_RECORDS,
    max_bad_fraction: float = configs.MAX_BAD_FRACTION,
    metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    enable_cache: bool = True,
    pipeline_name: str = configs.PIPELINE_NAME,
) -> tfx_pipeline.Pipeline:
    families = check_families(families)
    if distill_families:
        check_families(distill_families)
        if len(distill_families) > configs.MAX_DISTILL_LEVELS:
            raise ValueError(f'at most {configs.MAX_DISTILL_LEVELS} distillation levels')
    fingerprint = configs.code_identity()
    if train_examples < 1 or batch_size < 1:
        raise ValueError(f'train_examples={train_examples} and batch_size={batch_size} '
                         'must be >= 1')
    # The budget travels in examples; TFX's TrainArgs gets the same budget in steps.
    train_steps = -(-train_examples // batch_size)
    budget = {'train_examples': train_examples, 'batch_size': batch_size}
    data = data_validation_nodes(data_root, has_validate_files, schema_file,
                                 bad_records, max_bad_fraction)
    examples, schema = data['examples'], data['schema']
    # materialize=False: float frames would be ~4x the raw records; the
    # trainer applies the transform graph itself.
    transform = Transform(
        examples=examples, schema=schema, preprocessing_fn=configs.PREPROCESSING_FN,
        materialize=False, disable_statistics=True, custom_config=fingerprint)
    transform.add_upstream_node(data['gate'])
    nodes = [*data['nodes'], transform]
    prior = label_prior_nodes(examples, schema, transform.outputs['transform_graph'])
    nodes += prior['nodes']
    gating = {'gap_floor': gap_floor, 'max_regression': max_regression,
              'prior_evaluation': prior['evaluation'],
              'min_gain_over_prior': min_gain_over_prior}
    report_inputs = {'prior': {'model': prior['model'], 'evaluation': prior['evaluation']}}

    ensemble_members = {}
    for family in families:
        trainer = Trainer(
            run_fn=configs.RUN_FN, examples=examples,
            transform_graph=transform.outputs['transform_graph'], schema=schema,
            train_args=trainer_pb2.TrainArgs(num_steps=train_steps),
            eval_args=trainer_pb2.EvalArgs(),
            custom_config={'family': family, 'preset': configs.DEFAULT_PRESET,
                           **(training_options or {}), **budget, **fingerprint},
        ).with_id(f'Trainer.{family}')
        evaluated = _evaluate_and_push(family, trainer.outputs['model'], examples, schema,
                                       serving_model_dir, **gating)
        nodes += [trainer, *evaluated.pop('nodes')]
        report_inputs[family] = {'model': trainer.outputs['model'],
                                 'model_run': trainer.outputs['model_run'], **evaluated}
        ensemble_members[family] = trainer.outputs['model']
        if quantization_mode:
            quantizer = Quantizer(model=trainer.outputs['model'],
                                  model_run=trainer.outputs['model_run'], examples=examples,
                                  mode=quantization_mode).with_id(f'Quantizer.{family}')
            nodes.append(quantizer)
            ensemble_members[family] = quantizer.outputs['quantized_model']
            report_inputs[family]['quantized_model'] = quantizer.outputs['quantized_model']

    # The pipeline's final artifact: one size-checked graph holding every member.
    ensemble = EnsembleBuilder(
        models=ensemble_members,
        examples=examples, weighting=ensemble_weighting,
        size_budget_bytes=size_budget_bytes, choose_subset=choose_subset)
    evaluated = _evaluate_and_push('ensemble', ensemble.outputs['model'], examples, schema,
                                   serving_model_dir, **gating)
    nodes += [ensemble, *evaluated.pop('nodes')]
    report_inputs['ensemble'] = {'model': ensemble.outputs['model'], **evaluated}

    # Distillation levels: the ensemble teaches student 1, student 1 teaches
    # student 2, ...; teacher and student families may differ.
    teacher = ensemble.outputs['model']
    for level, student_family in enumerate(distill_families, start=1):
        options = {k: v for k, v in (training_options or {}).items()
                   if k not in ('family', 'preset')}
        distiller = Distiller(
            teacher_model=teacher, examples=examples,
            transform_graph=transform.outputs['transform_graph'],
            student_family=student_family,
            student_preset=(training_options or {}).get('preset', configs.DEFAULT_PRESET),
            train_steps=train_steps,
            training_options={**options, **budget, **fingerprint}
        ).with_id(f'Distiller.student_{level}')
        name = f'student_{level}'
        evaluated = _evaluate_and_push(name, distiller.outputs['model'], examples, schema,
                                       serving_model_dir, **gating)
        nodes += [distiller, *evaluated.pop('nodes')]
        report_inputs[name] = {'model': distiller.outputs['model'],
                               'model_run': distiller.outputs['model_run'], **evaluated}
        teacher = distiller.outputs['model']

    # No half-results: every push waits until every model of the run is built
    # and judged, so a run that fails on the way (an ensemble over budget, a
    # Distiller that breaks) pushes nothing.
    gates = [node for node in nodes if node.id.startswith('BlessingGate.')]
    for pusher in (node for node in nodes if node.id.startswith('Pusher.')):
        for gate in gates:
            pusher.add_upstream_node(gate)
    nodes.append(Report(examples=examples, members=report_inputs, report_dir=report_dir))
    code_version.stamp(nodes, fingerprint['code_fingerprint'])
    return tfx_pipeline.Pipeline(
        pipeline_name=pipeline_name, pipeline_root=pipeline_root, components=nodes,
        enable_cache=enable_cache, metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args)
