"""The Pulumi program: Kargo resources for the fleet, as typed Kubernetes custom resources."""
