"""Object storage: one interface, an S3 backend (boto3) and a local-folder backend."""
