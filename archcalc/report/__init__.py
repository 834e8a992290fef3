"""Rendering: the same Records to a rich table, JSON, Markdown, LaTeX or CSV. Only the CLI
prints; these functions return strings or rich renderables."""
