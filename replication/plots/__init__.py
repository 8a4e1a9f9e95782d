"""One function per figure: a results table in, a matplotlib figure out (never retrains)."""
