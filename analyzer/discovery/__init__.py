"""Discovery: image references and BuildKit-exact Dockerfile analysis (pure functions)."""
