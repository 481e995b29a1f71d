"""Long Beam steps log their progress with a rate, and count a Beam counter."""

import logging
import time

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter

from yt8m import progress


class _SlowStep(beam.DoFn):
    def setup(self):
        self.progress = progress.Progress('Slow step', 'videos')

    def process(self, item):
        time.sleep(0.02)
        self.progress.add()
        yield item


def test_a_step_longer_than_the_interval_logs_its_progress(monkeypatch, caplog):
    monkeypatch.setenv('YT8M_PROGRESS_SECONDS', '0.1')
    with caplog.at_level(logging.INFO, logger='yt8m.progress'):
        pipeline = beam.Pipeline(argv=['--direct_num_workers=1',
                                       '--direct_running_mode=in_memory'])
        _ = pipeline | beam.Create(range(40)) | beam.ParDo(_SlowStep())
        result = pipeline.run()
        result.wait_until_finish()
    lines = [r.getMessage() for r in caplog.records if r.name == 'yt8m.progress']
    assert len(lines) >= 3, lines
    assert all(line.startswith('Slow step: ') and 'videos so far' in line and '/s)' in line
               for line in lines)
    counters = result.metrics().query(MetricsFilter().with_namespace('yt8m'))['counters']
    assert sum(c.committed for c in counters) == 40
