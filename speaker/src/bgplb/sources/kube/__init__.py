"""The Kubernetes source: LoadBalancer Services watched through the API, allocated, announced (docs: speaker/docs/kubernetes.md)."""
