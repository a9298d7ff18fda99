"""`python -m analyzer` is the same entry point as the `image-factory` console script."""

from analyzer.cli import main

if __name__ == "__main__":
    main()
