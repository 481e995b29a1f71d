"""The console: component lines from TFX's own log records, headlines, heartbeats."""

import io
import logging
import time

from pipeline import console


def _record(message, name='absl', level=logging.INFO):
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


def test_one_line_per_start_and_end_cached_ones_say_so(tmp_path):
    out = io.StringIO()
    story = console.RunConsole(str(tmp_path / 'absent.db'), 'yt8m', 3, stream=out)
    for message in ('Component Transform is running.', 'Running launcher for node {...}',
                    'Component Transform is finished.', 'Component Trainer-dbof is running.',
                    'A cached execution 7 is used.', 'Component Trainer-dbof is finished.'):
        story.emit(_record(message))
    story.emit(_record('[dbof] step 10 (320 examples): eval GAP@20 0.41', 'trainer.monitor'))
    story.emit(_record('BatchElements statistics: ' + 'x' * 5000, 'apache_beam.transforms'))
    story.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == '[ 1/3] Transform ...'
    assert lines[1].strip().startswith('Transform ') and lines[1].strip().endswith(' s')
    assert lines[3].strip() == 'Trainer-dbof cached'
    assert lines[4].strip().startswith('[dbof] step 10')
    assert len(lines) == 5


def test_a_silent_component_gets_a_heartbeat(tmp_path):
    out = io.StringIO()
    story = console.RunConsole(str(tmp_path / 'absent.db'), 'yt8m', 1, stream=out,
                               heartbeat_seconds=0.2)
    story.emit(_record('Component StatisticsGen is running.'))
    time.sleep(0.6)
    story.close()
    assert 'StatisticsGen still running' in out.getvalue()


def test_the_report_table_and_worded_data_errors():
    table = console.report_table({'members': [
        {'member': 'dbof', 'gap_at_20': 0.5, 'hit_at_1': 0.6, 'size_bytes': 9_000_000,
         'blessed': True, 'pushed_to': '/serving/yt8m_dbof/1'},
        {'member': 'prior', 'gap_at_20': 0.1, 'size_bytes': 40_000}]})
    assert table[0].split() == ['model', 'GAP@20', 'Hit@1', 'size', 'blessed', 'pushed']
    assert table[1].split() == ['dbof', '0.5000', '0.600', '9.0', 'MB', 'yes', 'yes']

    class BadDataError(ValueError):
        pass
    error = BadDataError('1 flawed record(s) in the input\n  /d/train1.tfrecord: record 0 ...')
    assert console.failure_message('YT8MExampleGen', error, 32, 'small').splitlines() == [
        'YT8MExampleGen failed: 1 flawed record(s) in the input',
        '  /d/train1.tfrecord: record 0 ...']
    assert console.failure_message(None, KeyError('x'), 32, 'small') == "The run failed: 'x'."


def test_tensorflows_own_handler_gives_way_to_the_log_file(tmp_path, capsys):
    """TF adds a stderr handler to its logger when imported before logging is set up."""
    tf_logger = logging.getLogger('tensorflow')
    own = logging.StreamHandler()
    tf_logger.addHandler(own)
    root_handlers = logging.getLogger().handlers[:]
    try:
        path = console.setup_logging(str(tmp_path / 'logs'))
        tf_logger.info('Assets written to: somewhere')
        assert own not in tf_logger.handlers
        assert 'Assets written to' in open(path).read()
        assert 'Assets written to' not in capsys.readouterr().err
    finally:
        logging.getLogger().handlers[:] = root_handlers
