"""Pulumi entry point (`main: infra/` in Pulumi.yaml); everything else lives in infra.program."""

from infra.program import main

program = main()
