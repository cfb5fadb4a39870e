"""``python -m workbench``: the same command line as ``workbench``."""

from workbench.cli import main

if __name__ == "__main__":
    main()
