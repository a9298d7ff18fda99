"""Planning (pure): when each held digest clears its gate and when each managed image will rebuild."""
