"""The code fingerprint sees exactly the code that runs inside components; configs loads no TF."""

import shutil
import subprocess
import sys

import pytest

from pipeline import configs


@pytest.fixture
def project_copy(tmp_path):
    for package in (*configs.CODE_PACKAGES, 'tests', 'tools', 'pipeline'):
        shutil.copytree(configs.PROJECT_DIR / package, tmp_path / package,
                        ignore=shutil.ignore_patterns('__pycache__', 'data'))
    return tmp_path


def _append(path, text='\n# edited\n'):
    with open(path, 'a') as f:
        f.write(text)


def test_editing_tests_and_tools_leaves_the_key_unchanged(project_copy):
    before = configs.code_fingerprint(project_copy)
    for edited in ('components/distiller/executor_test.py',   # a colocated unit test
                   'tests/test_trainer.py',                   # a test in tests/
                   'tools/lineage.py', 'tools/batch_predict.py', 'tools/kfp_launcher.py',
                   'yt8m/synthetic/generator.py',              # the data generator
                   'pipeline/options.py'):                     # the DAG (seen through the specs)
        _append(project_copy / edited)
        assert configs.code_fingerprint(project_copy) == before, edited


def test_editing_code_that_runs_in_components_changes_the_key(project_copy):
    for edited in ('models/dbof.py', 'trainer/training.py', 'components/quantizer/quantize.py',
                   'components/tfma_metrics.py', 'yt8m/reader.py', 'yt8m/schema.pbtxt'):
        before = configs.code_fingerprint(project_copy)
        _append(project_copy / edited)
        assert configs.code_fingerprint(project_copy) != before, edited


def test_configs_and_options_load_no_tensorflow():
    code = ('import sys, pipeline.configs, pipeline.options, trainer.config; '
            'print(sorted(m for m in sys.modules if m.split(".")[0] in '
            '("tensorflow", "tf_keras", "tfx", "apache_beam")))')
    loaded = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            check=True, cwd=configs.PROJECT_DIR)
    assert loaded.stdout.strip() == '[]'
