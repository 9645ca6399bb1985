"""The release path read offline: cloudbuild.yaml, the Cloud Deploy and Cloud Run files, the
alert files, the release and rollback commands against a fake gcloud, the smoke test."""
