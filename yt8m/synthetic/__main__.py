"""Entry point of `python -m yt8m.synthetic` (flags: see `cli.main`)."""
from yt8m.synthetic.cli import main

if __name__ == '__main__':
    main()
