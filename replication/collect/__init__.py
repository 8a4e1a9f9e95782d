"""Per-run result files → tidy pandas tables → the papers' tables (CSV, Markdown, LaTeX)."""
