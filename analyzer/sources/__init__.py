"""Source repositories: read Dockerfiles from git at a ref, through a local mirror cache."""
