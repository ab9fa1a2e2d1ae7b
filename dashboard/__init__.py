"""The top app: the poll -> score -> notify pipeline, the fleet and cluster pages, the pages and
commands that span clusters, readiness and maintenance (docs/architecture.md)."""
