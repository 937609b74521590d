"""The Kubernetes source: LoadBalancer Services watched, allocated and announced (speaker/docs/kubernetes.md)."""
