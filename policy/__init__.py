"""Image Factory's CrossGuard policy pack (`pulumi preview --policy-pack policy`)."""
