"""``python -m workbench``: the same command line as ``workbench``."""

from workbench.cli._main import main

if __name__ == "__main__":
    main()
