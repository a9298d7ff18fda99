"""Enrollment config (images.yaml): the pydantic model shared by analyzer, infra and policy."""
