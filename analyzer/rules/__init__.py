"""Policy rules: pure functions over rendered Kargo manifests, shared by `image-factory check` and the
CrossGuard pack in policy/ (which imports this package; this package never imports policy/)."""
