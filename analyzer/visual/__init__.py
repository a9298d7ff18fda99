"""Pictures and pages for people: the dependency graph (DOT/SVG/Mermaid) and the static HTML report."""
