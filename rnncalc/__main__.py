"""``python -m rnncalc``: the same as the ``rnncalc`` command."""

from .cli import main

if __name__ == "__main__":
    main()
