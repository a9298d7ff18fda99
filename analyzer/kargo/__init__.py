"""The Kargo model: a pure function from (config, state) to typed Kargo objects."""
