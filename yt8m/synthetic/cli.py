"""`python -m yt8m.synthetic`: write a synthetic data set from the shell.

Why separate: the library (`generate`) must not parse arguments or
configure logging; this is the only place that does.
"""
import argparse
import logging
from typing import Optional, Sequence

from yt8m.synthetic.generator import generate


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        prog='python -m yt8m.synthetic',
        description='Write synthetic YouTube-8M frame-level TFRecords.')
    parser.add_argument('--out', required=True, help='data folder')
    parser.add_argument('--videos', type=int, required=True)
    parser.add_argument('--seed', type=int, required=True)
    parser.add_argument('--shards', type=int, default=1)
    parser.add_argument('--validate-fraction', type=float, default=0.1)
    parser.add_argument('--test-fraction', type=float, default=0.1)
    parser.add_argument('--params-out', default=None,
                        help='oracle file (default: <out>/../'
                        '<basename(out)>_oracle.npz)')
    parser.add_argument('--top-classes', type=int, default=0,
                        help='keep only the K most frequent classes (0: all)')
    parser.add_argument('--overwrite', action='store_true')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format='%(asctime)s %(levelname)s %(message)s')
    try:
        files = generate(args.out, args.videos, args.seed, args.shards,
                         args.validate_fraction, args.test_fraction,
                         args.params_out, args.overwrite, args.top_classes)
    except (FileExistsError, ValueError) as e:
        parser.error(str(e))
    for split, paths in files.items():
        print(f'{split}: {len(paths)} files')
